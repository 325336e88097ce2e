import Glibc
import InternJob
import Testing

/// The one way intern runs a short command (provenance probes, `nvidia-smi`, admin commands):
/// no shell, the environment's PATH, a working directory, a timeout that stops the command's
/// whole group, and output kept up to a limit without blocking the command.
@Suite struct ShortCommandTests {
    static let environment = ["PATH": "/usr/bin:/bin"]

    @Test func collectsBothStreams_andTheExitStatus_withoutAShell() async throws {
        let result = try #require(await ShortCommand.run(
            ["sh", "-c", "pwd; echo oops >&2; exit 3"], environment: Self.environment, in: "/tmp", timeout: .seconds(10)))
        #expect(String(decoding: result.stdout, as: UTF8.self) == "/tmp\n")
        #expect(String(decoding: result.stderr, as: UTF8.self) == "oops\n")
        #expect(result.status == .exited(3) && result.exitCode == 3 && !result.succeeded && !result.timedOut)
        // Arguments arrive as they are: nothing is interpreted by a shell.
        let echoed = try #require(ShortCommand.runBlocking(
            ["echo", "$(id) ; `x` *"], environment: Self.environment, in: "/", timeout: .seconds(10)))
        #expect(String(decoding: echoed.stdout, as: UTF8.self) == "$(id) ; `x` *\n" && echoed.succeeded)
    }

    @Test func aCommandThatHangsIsStoppedWithItsGroup() async throws {
        let started = ContinuousClock.now
        let result = try #require(await ShortCommand.run(
            ["sh", "-c", "sleep 60 & sleep 60"], environment: Self.environment, in: "/", timeout: .milliseconds(300)))
        #expect(result.timedOut && !result.succeeded)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func outputPastTheLimitIsReadAndDropped() throws {
        let result = try #require(ShortCommand.runBlocking(
            ["sh", "-c", "head -c 3000000 /dev/zero; echo done >&2"], environment: Self.environment, in: "/", timeout: .seconds(20),
            limit: 1000))
        #expect(result.stdout.count == 1000 && result.cut && result.succeeded)
        #expect(String(decoding: result.stderr, as: UTF8.self) == "done\n")
    }

    @Test func aMissingCommandDoesNotStart() {
        #expect(ShortCommand.runBlocking(["no-such-command-here"], environment: Self.environment, in: "/", timeout: .seconds(5)) == nil)
    }
}
