import Foundation
import Hummingbird
import InternCore
import InternReport
import InternStore

/// Steering from the dashboard: `POST /c/NAME/pause`, `/resume`, `/cancel?trial=N` and `/add`
/// (a JSON body: `{"configurations": [{…}], "trials": N, "hours": H, "gpuHours": G}`), each with
/// the server's token (``ControlAccess``). A request is queued in the campaign's store for its
/// coordinator, as `intern pause` queues it, and answered with what came of it (JSON), or that it
/// is still queued after a few seconds.
extension Dashboard {
    /// What a control request came to.
    struct ControlAnswer: Codable, Sendable {
        var request: Int64
        /// `handled`, `taken` (the coordinator took it and has not said) or `queued`.
        var state: String
        var outcome: String?
        var refused: Bool
    }

    /// How long a control request waits for the coordinator before answering `queued`.
    static let controlWait: Duration = .seconds(5)

    func addControlRoutes(to router: Router<BasicRequestContext>) {
        router.post("/c/:name/pause") { request, context in try await self.control(request, context, kind: .pauseCampaign) { _, _ in "" } }
        router.post("/c/:name/resume") { request, context in try await self.control(request, context, kind: .resumeCampaign) { _, _ in "" } }
        router.post("/c/:name/cancel") { request, context in
            try await self.control(request, context, kind: .cancelTrial) { store, _ throws(WebError) in
                let text = Self.parameters(request)["trial"] ?? ""
                guard let trial = TrialID(text), trial > 0 else { throw .badRequest("cancel needs ?trial=N (a trial's number), not '\(text)'") }
                guard (try? store.trial(trial)) != nil else { throw .notFound("the campaign has no trial \(trial)") }
                return String(trial)
            }
        }
        router.post("/c/:name/add") { request, context in
            let body = try await request.body.collect(upTo: 1 << 20)
            return try await self.control(request, context, kind: .add) { _, view throws(WebError) in
                let add: AddRequest
                do {
                    add = try JSONDecoder().decode(AddRequest.self, from: Data(body.readableBytesView))
                } catch {
                    throw .badRequest("add takes JSON: {\"configurations\": [{…}], \"trials\": N, \"hours\": H, \"gpuHours\": G}, all four keys")
                }
                if let problem = add.problem(space: view.spec.space, names: ("trials", "hours", "gpuHours", "give configurations, trials, hours or gpuHours")) {
                    throw .badRequest(problem)
                }
                return String(decoding: (try? JSONEncoder().encode(add)) ?? Data(), as: UTF8.self)
            }
        }
    }

    /// Checks the token, then the campaign, then the request's own target (`target`), queues it
    /// and waits a little for the coordinator's answer.
    func control(
        _ request: Request, _ context: BasicRequestContext, kind: ControlRequest.Kind,
        target: @escaping @Sendable (CampaignStore, StageView) throws(WebError) -> String
    ) async throws -> Response {
        // The token first: a request without it learns nothing, not even whether the campaign exists.
        if let refusal = ControlAccess.refusal(access.check(authorization: request.headers[.authorization])) { throw refusal }
        let name = try context.parameters.require("name")
        if let refusal = access.outOfReach(name) { throw refusal }
        let entry = try await blocking { try self.shelf.entry(name) }
        let id = try await blocking { () throws -> Int64 in
            if let finished = try entry.store.info()?.finishedAt {
                throw WebError(.conflict, "the campaign finished at \(Format.clock(finished)): nothing to steer")
            }
            let target = try target(entry.store, entry.view)
            // The dashboard's own read-only store cannot write: a writable one for the request, as
            // `intern pause` opens it.
            let writable = try CampaignStore(directory: entry.store.directory, create: false)
            return try writable.submit(kind, target: target, actor: "dashboard", now: self.now())
        }
        var answer = ControlAnswer(request: id, state: "queued", outcome: nil, refused: false)
        let deadline = ContinuousClock.now + Self.controlWait
        while ContinuousClock.now < deadline {
            let state = try await blocking { try entry.store.controlState(id) }
            if case .handled(let outcome, let refused) = state {
                answer = ControlAnswer(request: id, state: "handled", outcome: outcome, refused: refused)
                break
            }
            if state == .taken { answer.state = "taken" }
            try await Task.sleep(for: .milliseconds(100))
        }
        let json = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
        return Response(status: answer.refused ? .conflict : (answer.state == "handled" ? .ok : .accepted),
                        headers: [.contentType: "application/json", .cacheControl: "no-store"], body: ResponseBody(byteBuffer: ByteBuffer(string: json)))
    }
}
