import InternCore

/// Whether proposed configurations repeat where an earlier campaign failed with a noted cause:
/// what an agent's `propose` is answered with besides the coordinator's verdict. Only failures
/// with a note count: an unexplained failure is already the circuit breaker's and the
/// coordinator's business; a noted one carries what someone learned (its cause, its fix).
public struct ProposalCheck: Sendable, Equatable {
    /// One configuration that lies in one noted failure's region.
    public struct Match: Sendable, Equatable {
        /// The configuration's position in the proposal, from 1.
        public var configuration: Int
        public var parameters: Parameters
        public var sighting: Sighting
        public var notes: [LabNote]

        /// The lines that say it: which configuration, where it failed before and why, then the notes.
        public var lines: [String] {
            [
                "configuration \(configuration) (\(parameters.sortedPairs.map { "\($0.name)=\($0.value.text)" }.joined(separator: " "))) "
                    + "repeats where \(sighting.text) failed: \(sighting.digest.prefix(8)) \(sighting.excerpt)"
                    + (sighting.region.extents.isEmpty ? "" : " (\(sighting.region.summary))"),
            ] + notes.map { "  " + $0.line }
        }
    }

    public var matches: [Match]

    /// The matches of `configurations` among `sightings`, with `notes` (those on a signature, or on a
    /// trial that failed with it): for each configuration, each noted signature whose region holds
    /// it, in the most recent campaign that had it.
    public init(configurations: [Parameters], sightings: [Sighting], notes: [LabNote]) {
        var noted: [String: [LabNote]] = [:]
        for note in notes { if let digest = note.signature { noted[digest, default: []].append(note) } }
        var matches: [Match] = []
        for (index, configuration) in configurations.enumerated() {
            var seen: Set<String> = []
            let candidates = sightings.filter { noted[$0.digest] != nil && $0.region.holds(configuration.values) }
                .sorted { ($0.campaignCreatedAt, $0.campaign) > ($1.campaignCreatedAt, $1.campaign) }
            for sighting in candidates where seen.insert(sighting.digest).inserted {
                matches.append(Match(configuration: index + 1, parameters: configuration, sighting: sighting, notes: noted[sighting.digest]!))
            }
        }
        self.matches = matches
    }

    /// Every match's lines, or nothing when no configuration repeats a noted failure.
    public var text: String {
        matches.isEmpty ? "" : "noted failures from earlier campaigns:\n" + matches.flatMap(\.lines).joined(separator: "\n") + "\n"
    }
}
