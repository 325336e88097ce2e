import InternCore

/// Which trials the campaign page's table shows and in what order, from the page's query string
/// (`?status=completed&stage=train&sort=objective&order=desc`): links sort and filter, so the
/// table works without a script. Unknown values are a 400, not silently ignored.
public struct TrialQuery: Sendable, Equatable {
    /// What the table can be sorted by.
    public enum Sort: String, Sendable, CaseIterable {
        case id, status, objective, ended
    }

    /// Only trials with this status (all when nil).
    public var status: TrialStatus?
    /// Only trials of the stage with this name (all when nil).
    public var stage: String?
    public var sort: Sort = .id
    public var descending = false

    /// The most rows one page shows: the page of a 10,000-trial campaign stays well under 1 MB.
    public static let shownRows = 500

    public init(status: TrialStatus? = nil, stage: String? = nil, sort: Sort = .id, descending: Bool = false) {
        self.status = status
        self.stage = stage
        self.sort = sort
        self.descending = descending
    }

    /// Parses the page's query parameters; `stages` are the campaign's stage names.
    public init(parameters: [String: String], stages: [String]) throws(WebError) {
        if let value = parameters["status"], !value.isEmpty, value != "all" {
            guard let status = TrialStatus(rawValue: value) else {
                throw .badRequest("status must be one of all, \(TrialStatus.allCases.map(\.rawValue).joined(separator: ", ")); not '\(value)'")
            }
            self.status = status
        }
        if let value = parameters["stage"], !value.isEmpty, value != "all" {
            guard stages.contains(value) else { throw .badRequest("the campaign has no stage '\(value)' (its stages: \(stages.joined(separator: ", ")))") }
            stage = value
        }
        if let value = parameters["sort"], !value.isEmpty {
            guard let sort = Sort(rawValue: value) else {
                throw .badRequest("sort must be one of \(Sort.allCases.map(\.rawValue).joined(separator: ", ")); not '\(value)'")
            }
            self.sort = sort
        }
        switch parameters["order"] ?? "" {
        case "", "asc": descending = false
        case "desc": descending = true
        case let value: throw .badRequest("order must be asc or desc; not '\(value)'")
        }
    }

    /// The query string that asks for this view (without `?`; empty for the default view).
    public var queryString: String {
        var items: [String] = []
        if let status { items.append("status=\(status.rawValue)") }
        if let stage { items.append("stage=\(stage)") }
        if sort != .id { items.append("sort=\(sort.rawValue)") }
        if descending { items.append("order=desc") }
        return items.joined(separator: "&")
    }

    /// This view sorted by `column`: descending if it is already sorted ascending by it.
    public func sorted(by column: Sort) -> TrialQuery {
        var next = self
        next.descending = column == sort ? !descending : false
        next.sort = column
        return next
    }

    /// The trials this view shows, in its order (all of them; the page shows the first
    /// ``shownRows``). A trial without an objective sorts after those with one, either way.
    public func apply(_ trials: [TrialRecord], stageNames: [String]) -> [TrialRecord] {
        let stageIndex = stage.flatMap { stageNames.firstIndex(of: $0) }
        let kept = trials.filter { trial in
            (status == nil || trial.status == status) && (stageIndex == nil || trial.stage == stageIndex)
        }
        let descending = self.descending
        func ordered<T: Comparable>(_ a: T?, _ b: T?, _ tie: Bool) -> Bool {
            switch (a, b) {
            case let (x?, y?): return x == y ? tie : (descending ? x > y : x < y)
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return tie
            }
        }
        return kept.sorted { a, b in
            let tie = descending ? a.id > b.id : a.id < b.id
            switch sort {
            case .id: return tie
            case .status: return ordered(a.status.rawValue, b.status.rawValue, tie)
            case .objective: return ordered(a.objective, b.objective, tie)
            case .ended: return ordered(a.endedAt, b.endedAt, tie)
            }
        }
    }
}
