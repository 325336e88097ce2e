#if canImport(Glibc)
import Glibc
#endif
import InternJob
import Testing

extension JobTests {
    static let nasty = #"a b  'single' "double" $(rm -rf /) `id` $HOME \ ; | * ~"#

    @Test func environmentIsExactlyTheGivenOne() async throws {
        let environment = ["X": Self.nasty, "EMPTY": "", "Y": "1"]
        let (exit, capture) = try await run(job(["/usr/bin/env"], environment: environment))
        #expect(exit.status == .exited(0))
        let lines = capture.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.sorted() == ["EMPTY=", "X=\(Self.nasty)", "Y=1"])
    }

    @Test func environmentValueArrivesLiterally() async throws {
        let (exit, capture) = try await run(
            job(["/usr/bin/printenv", "X"], environment: ["X": Self.nasty]))
        #expect(exit.status == .exited(0))
        #expect(capture.stdoutText == Self.nasty + "\n")
    }

    @Test func argumentsWithSpacesAndQuotesArriveAsSingleArguments() async throws {
        let arguments = ["a b", "'q'", "\"dq\"", "$(rm -rf /)", "", "*", "ünï côdé", "--x=1 2"]
        let (exit, capture) = try await run(job(["/usr/bin/printf", "%s\\n"] + arguments))
        #expect(exit.status == .exited(0))
        #expect(capture.stdoutText == arguments.map { $0 + "\n" }.joined())
    }

    @Test func argvZeroIsPassedAsGiven() async throws {
        let spec = JobSpec(
            executable: "/bin/sh", arguments: ["my-trainer", "-c", "echo \"$0\""],
            environment: [:], workingDirectory: "/")
        let (exit, capture) = try await run(spec)
        #expect(exit.status == .exited(0))
        #expect(capture.stdoutText == "my-trainer\n")
    }

    @Test func workingDirectoryIsUsed() async throws {
        let directory = makeTemporaryDirectory()
        defer { rmdir(directory) }
        let (exit, capture) = try await run(job(["/bin/pwd", "-P"], workingDirectory: directory))
        #expect(exit.status == .exited(0))
        #expect(capture.stdoutText == directory + "\n")
    }

    @Test func bareNameIsResolvedThroughTheJobsOwnPath() async throws {
        let spec = job(["printenv", "PATH"], environment: ["PATH": "/nonexistent:/usr/bin"])
        let capture = Capture()
        let process = try JobProcess.spawn(spec, handler: capture)
        #expect(process.executablePath == "/usr/bin/printenv")
        let exit = await process.wait()
        #expect(exit.status == .exited(0))
        #expect(capture.stdoutText == "/nonexistent:/usr/bin\n")

        // Without PATH in the job's environment, /bin:/usr/bin is searched.
        let (fallbackExit, fallback) = try await run(job(["sh", "-c", "echo ok"], environment: [:]))
        #expect(fallbackExit.status == .exited(0))
        #expect(fallback.stdoutText == "ok\n")
    }

    @Test func relativeExecutableIsResolvedAgainstTheWorkingDirectory() async throws {
        let directory = makeTemporaryDirectory()
        let script = directory + "/run.sh"
        writeFile(script, "#!/bin/sh\necho \"from $(/bin/pwd -P) args $#\"\n", mode: 0o755)
        defer {
            unlink(script)
            rmdir(directory)
        }
        let (exit, capture) = try await run(job(["./run.sh", "x", "y"], workingDirectory: directory))
        #expect(exit.status == .exited(0))
        #expect(capture.stdoutText == "from \(directory) args 2\n")
    }

    @Test func childGetsOnlyDescriptorsZeroOneTwoWithStdinFromDevNull() async throws {
        // A descriptor the worker opened without O_CLOEXEC must not reach the job.
        let stray = open("/dev/null", O_RDONLY)
        #expect(stray >= 0)
        defer { close(stray) }
        let process = try JobProcess.spawn(job(["/bin/sleep", "10"]), handler: Capture())
        defer { process.kill() }
        #expect(await eventually { readText("/proc/\(process.pid)/comm") == "sleep\n" })
        #expect(directoryEntries("/proc/\(process.pid)/fd").sorted() == ["0", "1", "2"])
        #expect(descriptorTarget("/proc/\(process.pid)/fd/0") == "/dev/null")
        #expect(descriptorTarget("/proc/\(process.pid)/fd/1")?.hasPrefix("pipe:[") == true)
        process.kill()
        _ = await process.wait()
    }

    @Test func childStartsWithDefaultSignalsAndAnEmptyMask() async throws {
        // Servers commonly ignore SIGPIPE; a job must not inherit that.
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        let process = try JobProcess.spawn(job(["/bin/sleep", "10"]), handler: Capture())
        defer { process.kill() }
        #expect(await eventually { readText("/proc/\(process.pid)/comm") == "sleep\n" })
        let status = readText("/proc/\(process.pid)/status") ?? ""
        func mask(_ name: String) -> UInt64? {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            return line.flatMap { UInt64($0.dropFirst(name.count + 1).trimmingPrefix("\t"), radix: 16) }
        }
        // Signals 1...31 (bit n-1 for signal n). glibc's posix_spawn leaves
        // its two internal real-time signals (32, 33) ignored; that is harmless.
        #expect(mask("SigIgn").map { $0 & 0x7fff_ffff } == 0)
        #expect(mask("SigBlk") == 0)
        process.kill()
        _ = await process.wait()
    }
}
