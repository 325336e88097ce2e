import Foundation
import InternStore
import InternTestKit
import Testing

/// A conditional parameter in a real campaign: the job sees INTERN_PARAM_MOMENTUM only with sgd;
/// using {momentum} in the command is refused at once, saying what to do instead.
@Suite(.serialized) struct ConditionalEndToEndTests {
    @Test func aConditionalParameterReachesOnlyTheTrialsItAppliesTo() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let space = """
            space:
              optimizer: [sgd, adam]
              momentum: {type: uniform, low: 0.5, high: 0.99, when: {optimizer: sgd}}
            """
        let spec = try dir.write("cond.yaml", """
            name: cond
            shell: "echo opt=$INTERN_PARAM_OPTIMIZER momentum=${{INTERN_PARAM_MOMENTUM:-none}}"
            \(space)
            trials: 10
            """)
        let result = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet", "--root", dir.file(".intern")], in: dir.path, timeout: .seconds(60))
        #expect(result.status == 0, "\(result.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/cond"), create: false, readOnly: true)
        for trial in try store.trials() {
            let attempt = try #require(try store.attempts(trial: trial.id).first)
            let log = String(decoding: try store.readLog(trial: trial.id, attempt: attempt.id, stream: .stdout), as: UTF8.self)
            if trial.parameters["optimizer"] == .string("sgd") {
                #expect(log.hasPrefix("opt=sgd momentum=0."), "\(log)")
            } else {
                #expect(log == "opt=adam momentum=none\n" && trial.parameters["momentum"] == nil, "\(log)")
            }
        }
        let refused = try dir.write("bad.yaml", "name: bad\ncommand: [train, \"{momentum}\"]\n\(space)\ntrials: 2\n")
        let bad = try await InternBinary.run(["run", refused, "--root", dir.file(".intern")], in: dir.path)
        #expect(bad.status == 64 && bad.stderr.contains("INTERN_PARAM_MOMENTUM"), "\(bad.stderr)")
    }
}
