import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// Failures of real jobs: classified from how they ended and what they printed, retried by the
/// policy of their class, grouped by signature in `intern failures`; a campaign that fails the
/// same way on every trial stops itself, and `intern resume` continues it once the cause is fixed.
@Suite(.serialized) struct FailureClassificationEndToEndTests {
    @Test func infraIsRetried_oomAndDivergenceAreNot_andFailuresAreGroupedBySignature() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        _ = try dir.write("job.sh", #"""
            case "$1" in
              ok) echo "{'loss': 0.5}"; exit 0 ;;
              infra_once)
                if [ ! -e "infra.$2" ]; then : > "infra.$2"; echo "[rank0]: Watchdog caught collective operation timeout: WorkNCCL(SeqNum=42, OpType=ALLREDUCE) ran for 600000 milliseconds" >&2; exit 1; fi
                echo ok; exit 0 ;;
              oom)
                # 300 KB of output first: only the tail reaches the classifier.
                head -c 300000 /dev/zero | tr '\0' x >&2; echo >&2
                printf 'Traceback (most recent call last):\n  File "/srv/train.py", line %s, in <module>\n    loss.backward()\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate %s.00 GiB (GPU 0; 79.15 GiB total capacity)\n' "$2" "$2" >&2; exit 1 ;;
              diverge) echo "{'loss': nan, 'learning_rate': 0.1, 'epoch': 0.5}"; exit 1 ;;
            esac
            """#)
        let spec = try dir.write("c.yaml", """
            name: classes
            command: [/bin/sh, job.sh, "{mode}", "{trial}"]
            space: {mode: [ok, infra_once, oom, diverge], copy: [1, 2]}
            sampler: grid
            retry: {backoff: 0}
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let store = try CampaignStore(directory: dir.file(".intern/classes"), create: false, readOnly: true)
        let trials = try store.trials()
        let attempts = try store.attempts()
        for trial in trials {
            let mode = trial.parameters.sortedPairs.first { $0.0 == "mode" }!.1.text
            let mine = attempts.filter { $0.trial == trial.id }
            switch mode {
            case "ok":
                #expect(trial.status == .completed && mine.count == 1)
            case "infra_once":
                // Retried (on whichever worker asked first) and then completed.
                #expect(trial.status == .completed && mine.map(\.failureClass) == [.infra, nil], "\(mine.map(\.failureReason))")
            case "oom":
                #expect(trial.status == .failed && mine.map(\.failureClass) == [.oom])
                #expect(trial.note?.contains("retry.oom") == true, "\(trial.note ?? "")")
            default:
                #expect(trial.status == .failed && mine.map(\.failureClass) == [.diverged])
            }
        }
        // Two OOMs at different lines and sizes share one signature.
        let failures = try await InternBinary.run(["failures", "--json"], in: dir.path)
        let groups = try #require(try JSONSerialization.jsonObject(with: Data(failures.stdout.utf8)) as? [[String: Any]])
        let byClass = Dictionary(grouping: groups) { $0["class"] as? String ?? "" }
        #expect(Set(byClass.keys) == ["infra", "oom", "diverged"], "\(failures.stdout)")
        #expect(byClass["oom"]?.count == 1 && (byClass["oom"]?.first?["trials"] as? [Int])?.count == 2)
        #expect((byClass["oom"]?.first?["excerpt"] as? String)?.contains("CUDA out of memory") == true)
        let text = try await InternBinary.run(["failures"], in: dir.path)
        #expect(text.stdout.contains("oom  2 attempts on 2 trials"), "\(text.stdout)")
        let status = try await InternBinary.run(["status"], in: dir.path)
        // Two of each class (in whichever order equal counts come), in three signatures.
        let line = status.stdout.split(separator: "\n").first { $0.hasPrefix("failures") }.map(String.init) ?? ""
        #expect(["2 diverged", "2 infra", "2 oom", "in 3 signatures"].allSatisfy(line.contains), "\(status.stdout)")
    }

    @Test func theSameUserErrorOnThreeTrials_stopsTheCampaign_andResumeContinuesItOnceFixed() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: breaker
            shell: "if [ -e fixed ]; then echo trained {lr}; else /usr/bin/python3 -c 'import transfomers'; fi"
            space: {lr: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}
            sampler: grid
            parallel: 1
            retries: 3
            """)
        let first = try await InternBinary.run(["run", spec, "--workers", "1"], in: dir.path)
        #expect(first.status == 1, "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.contains("stopped by the circuit breaker"), "\(first.stdout)")
        #expect(first.stdout.contains("ModuleNotFoundError"), "\(first.stdout)")
        let store = try CampaignStore(directory: dir.file(".intern/breaker"), create: false, readOnly: true)
        // User errors are never retried, whatever `retries` says; three trials, then a stop.
        #expect(try store.attempts().count == 3)
        #expect(try store.trials().filter { $0.status == .failed }.count == 3)
        #expect(try store.info()?.stoppedReason?.contains("ModuleNotFoundError") == true)
        let status = try await InternBinary.run(["status"], in: dir.path)
        #expect(status.stdout.contains("stopped by the circuit breaker"), "\(status.stdout)")

        try "".write(toFile: dir.file("fixed"), atomically: true, encoding: .utf8)
        let resumed = try await InternBinary.run(["resume", dir.file(".intern/breaker"), "--workers", "1", "--quiet"], in: dir.path)
        #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
        #expect(resumed.stdout.contains("5 completed, 3 failed"), "\(resumed.stdout)")
        #expect(try store.info()?.stoppedReason == nil)
        #expect(try store.attempts().count == 8)
    }

    @Test func aCampaignStoppedByTheBreaker_waitsForTheAttemptStillRunning_andStoresItsResult() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("c.yaml", """
            name: stopwait
            shell: "if [ {x} = slow ]; then sleep 2; echo finished slow; else /usr/bin/python3 -c 'import transfomers'; fi"
            space: {x: [slow, a, b, c, d, e]}
            sampler: grid
            parallel: 2
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "2", "--quiet"], in: dir.path)
        #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("stopped by the circuit breaker"), "\(run.stdout)")
        let store = try CampaignStore(directory: dir.file(".intern/stopwait"), create: false, readOnly: true)
        let slow = try #require(try store.trials().first)
        #expect(slow.status == .completed)
        let attempt = try #require(try store.attempts(trial: slow.id).first)
        #expect(attempt.status == .succeeded)
        #expect(String(decoding: try store.readLog(trial: slow.id, attempt: attempt.id, stream: .stdout), as: UTF8.self) == "finished slow\n")
    }
}
