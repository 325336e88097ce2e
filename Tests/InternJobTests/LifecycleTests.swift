#if canImport(Glibc)
import Glibc
#endif
import InternJob
import Testing

extension JobTests {
    @Test func exitCodeIsReported() async throws {
        let (failed, _) = try await run(shell("exit 7"))
        #expect(failed.status == .exited(7))
        #expect(!failed.succeeded)
        #expect(!failed.timedOut && !failed.terminationRequested && !failed.outputCutOff)

        let (ok, _) = try await run(job(["/bin/true"]))
        #expect(ok.status == .exited(0))
        #expect(ok.succeeded)
    }

    @Test func deathBySignalIsReported() async throws {
        let (exit, _) = try await run(shell("kill -9 $$"))
        #expect(exit.status == .signaled(SIGKILL))
        #expect(!exit.terminationRequested)
    }

    @Test func timesAndCPUAreReported() async throws {
        let script = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
        let before = Int64(Glibc.time(nil)) * 1000
        let (exit, _) = try await run(job([python, "-c", script]))
        #expect(exit.status == .exited(0))
        #expect(exit.userCPUSeconds + exit.systemCPUSeconds >= 0.25)
        #expect(exit.wallSeconds >= 0.25 && exit.wallSeconds < 10)
        #expect(exit.startedAt >= before - 1000)
        #expect(exit.endedAt >= exit.startedAt)
        let wallMs = Double(exit.endedAt - exit.startedAt)
        #expect(abs(wallMs - exit.wallSeconds * 1000) < 100)
    }

    @Test func jobRunsInItsOwnProcessGroup() async throws {
        let process = try JobProcess.spawn(job(["/bin/sleep", "10"]), handler: Capture())
        let fields = try #require(statFields(process.pid))
        #expect(fields[2] == "\(process.pid)")  // pgrp == pid
        #expect(getpgrp() != process.pid)
        process.kill()
        let exit = await process.wait()
        #expect(exit.status == .signaled(SIGKILL))
        #expect(exit.terminationRequested)
    }

    @Test func terminateKillsTheWholeTree() async throws {
        let capture = Capture()
        let process = try JobProcess.spawn(shell("sleep 1000 & sleep 1000 & wait"), handler: capture)
        #expect(await eventually { liveGroupMembers(process.pid).count == 3 })
        let members = liveGroupMembers(process.pid)
        let start = ContinuousClock.now
        process.terminate(grace: .seconds(10))
        #expect(await eventually(within: .seconds(1)) { members.allSatisfy(isDead) })
        let exit = await process.wait()
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(exit.status == .signaled(SIGTERM))
        #expect(exit.terminationRequested && !exit.timedOut)
        // The group was SIGKILLed; the kernel finishes tearing its members down asynchronously.
        #expect(await eventually(within: .seconds(1)) { liveGroupMembers(process.pid).isEmpty })
    }

    @Test func jobIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        let capture = Capture()
        let process = try JobProcess.spawn(
            shell("trap '' TERM; echo ready; sleep 1000; echo survived"), handler: capture)
        #expect(await eventually { capture.stdoutText == "ready\n" })
        #expect(await eventually { liveGroupMembers(process.pid).count == 2 })
        let start = ContinuousClock.now
        process.terminate(grace: .milliseconds(500))
        process.terminate(grace: .seconds(30))  // idempotent: a longer grace changes nothing
        let exit = await process.wait()
        let elapsed = ContinuousClock.now - start
        #expect(exit.status == .signaled(SIGKILL))
        #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(3))
        #expect(capture.stdoutText == "ready\n")
        // The group was SIGKILLed; the kernel finishes tearing its members down asynchronously.
        #expect(await eventually(within: .seconds(1)) { liveGroupMembers(process.pid).isEmpty })
    }

    @Test func terminateAndKillAfterTheEndAreHarmless() async throws {
        let process = try JobProcess.spawn(job(["/bin/true"]), handler: Capture())
        let exit = await process.wait()
        process.terminate(grace: .zero)
        process.kill()
        process.terminate(grace: .seconds(1))
        #expect(process.exit == exit)
        #expect(await process.wait() == exit)
        #expect(!exit.terminationRequested)
    }

    @Test func timeoutTerminatesTheJobAndIsReported() async throws {
        var spec = job(["/bin/sleep", "100"], timeout: .milliseconds(300))
        spec.timeoutGrace = .seconds(2)
        let (exit, _) = try await run(spec)
        #expect(exit.timedOut)
        #expect(exit.terminationRequested)
        #expect(exit.status == .signaled(SIGTERM))
        #expect(exit.wallSeconds >= 0.28 && exit.wallSeconds < 2)
        #expect(!exit.succeeded)
    }

    @Test func timeoutEscalatesToSIGKILLForAJobThatIgnoresSIGTERM() async throws {
        var spec = shell("trap '' TERM; sleep 100")
        spec.timeout = .milliseconds(200)
        spec.timeoutGrace = .milliseconds(300)
        let (exit, _) = try await run(spec)
        #expect(exit.timedOut)
        #expect(exit.status == .signaled(SIGKILL))
        #expect(exit.wallSeconds >= 0.45 && exit.wallSeconds < 3)
    }

    @Test func timeoutKillsTheWholeProcessTree_noOrphanIsLeft() async throws {
        // A shell whose child and grandchild outlive it unless the whole group is stopped.
        var spec = shell("sh -c 'sleep 1000 & echo $!; wait' & sleep 1000 & echo $!; wait")
        spec.timeout = .milliseconds(300)
        spec.timeoutGrace = .seconds(2)
        let (exit, capture) = try await run(spec)
        #expect(exit.timedOut)
        let pids = capture.stdoutText.split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 2)
        for pid in pids {
            #expect(await eventually(within: .seconds(1)) { isDead(pid) }, "process \(pid) outlived the timeout")
        }
    }

    @Test func backgroundProcessHoldingThePipesDoesNotHangTheJob() async throws {
        var spec = shell("sleep 1000 & echo $!; exit 3")
        spec.outputGrace = .milliseconds(500)
        let (exit, capture) = try await run(spec)
        #expect(exit.status == .exited(3))
        #expect(exit.outputCutOff)
        #expect(exit.wallSeconds >= 0.45 && exit.wallSeconds < 3)
        let sleeper = try #require(Int32(capture.stdoutText.trimmingSuffix("\n")))
        #expect(await eventually(within: .seconds(1)) { isDead(sleeper) })
    }

    @Test func processesLeftInTheGroupAreKilledWhenTheJobEnds() async throws {
        let (exit, capture) = try await run(shell("sleep 1000 >/dev/null 2>&1 & echo $!"))
        #expect(exit.status == .exited(0))
        #expect(!exit.outputCutOff)
        #expect(exit.wallSeconds < 1.5)
        let sleeper = try #require(Int32(capture.stdoutText.trimmingSuffix("\n")))
        #expect(await eventually(within: .seconds(1)) { isDead(sleeper) })
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
