#if canImport(Glibc)
import Glibc
#endif
import InternJob
import Testing

extension JobTests {
    @Test func peakRSSOfABigProcessIsReported() async throws {
        let script = "import time\nb = bytearray(200_000_000)\nb[::4096] = b'x' * len(b[::4096])\ntime.sleep(0.6)"
        let (exit, _) = try await run(job([python, "-c", script]))
        #expect(exit.status == .exited(0))
        #expect(exit.peakRSSBytes >= 150_000_000)
        #expect(exit.peakRSSBytes < 1_000_000_000)
    }

    @Test func peakRSSSumsTheProcessesOfTheTree() async throws {
        let child = "import time; b = bytearray(100_000_000); b[::4096] = b'x' * len(b[::4096]); time.sleep(2)"
        var spec = shell("\(python) -c \"\(child)\" & \(python) -c \"\(child)\" & wait")
        spec.memorySampleInterval = .milliseconds(100)
        let (exit, _) = try await run(spec)
        #expect(exit.status == .exited(0))
        #expect(exit.peakRSSBytes >= 100_000_000)
        // Both 100 MB processes were alive together for ~2 s; 100 ms sampling sees the sum.
        #expect(exit.peakRSSBytes >= 180_000_000)
    }

    @Test func missingExecutableIsReportedWithItsPath() throws {
        let error = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["/nonexistent/trainer"]), handler: Capture())
        }
        #expect(error?.code == .executableNotFound)
        #expect(error?.errno == ENOENT)
        #expect(error?.message.contains("/nonexistent/trainer") == true)

        let bare = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["no-such-program-4711"]), handler: Capture())
        }
        #expect(bare?.code == .executableNotFound)
        #expect(bare?.message.contains("no-such-program-4711") == true)
    }

    @Test func badWorkingDirectoryIsReported() throws {
        let missing = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["/bin/true"], workingDirectory: "/nonexistent/dir"), handler: Capture())
        }
        #expect(missing?.code == .workingDirectoryInvalid)
        #expect(missing?.errno == ENOENT)
        #expect(missing?.path == "/nonexistent/dir")
        #expect(missing?.message.contains("/nonexistent/dir") == true)

        let file = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["/bin/true"], workingDirectory: "/etc/passwd"), handler: Capture())
        }
        #expect(file?.code == .workingDirectoryInvalid)
        #expect(file?.errno == ENOTDIR)
    }

    @Test func nonExecutableFileAndInvalidSpecsAreRejected() throws {
        let notExecutable = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["/etc/passwd"]), handler: Capture())
        }
        #expect(notExecutable?.code == .spawnFailed)
        #expect(notExecutable?.errno == EACCES)

        let directory = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["/tmp"]), handler: Capture())
        }
        #expect(directory?.code == .spawnFailed)

        let badKey = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["/bin/true"], environment: ["A=B": "c"]), handler: Capture())
        }
        #expect(badKey?.code == .invalidSpec)

        let nul = #expect(throws: JobError.self) {
            try JobProcess.spawn(job(["/bin/echo", "a\0b"]), handler: Capture())
        }
        #expect(nul?.code == .invalidSpec)
    }

    @Test func missingInterpreterIsASpawnFailureNotACrash() throws {
        let directory = makeTemporaryDirectory()
        let script = directory + "/orphan.sh"
        writeFile(script, "#!/nonexistent/interpreter\n", mode: 0o755)
        defer {
            unlink(script)
            rmdir(directory)
        }
        let error = #expect(throws: JobError.self) {
            try JobProcess.spawn(job([script]), handler: Capture())
        }
        #expect(error?.code == .spawnFailed)
        #expect(error?.errno == ENOENT)
        #expect(error?.message.contains(script) == true)
    }

    @Test func failedSpawnsLeakNoDescriptorsOrThreads() async throws {
        let directory = makeTemporaryDirectory()
        let badInterpreter = directory + "/bad.sh"
        writeFile(badInterpreter, "#!/nonexistent/interpreter\n", mode: 0o755)
        defer {
            unlink(badInterpreter)
            rmdir(directory)
        }
        let before = openDescriptorCount()
        for _ in 0..<50 {
            _ = try? JobProcess.spawn(job(["/nonexistent/x"]), handler: Capture())
            _ = try? JobProcess.spawn(job(["/bin/true"], workingDirectory: "/nonexistent"), handler: Capture())
            // Fails inside posix_spawn, after the pipes were made.
            _ = try? JobProcess.spawn(job([badInterpreter]), handler: Capture())
        }
        // One leaked descriptor per failure would add >= 50; the slack absorbs
        // descriptors that tests of other targets open concurrently in this process.
        #expect(openDescriptorCount() - before < 25)
        #expect(JobProcess.activeReaderThreads == 0)
    }

    @Test func twoHundredJobsLeakNoDescriptorsThreadsOrZombies() async throws {
        // Warm up whatever the runtime opens lazily.
        _ = try await run(job(["/bin/true"]))
        #expect(await eventually { JobProcess.activeReaderThreads == 0 })
        let before = openDescriptorCount()

        var pids: [Int32] = []
        var jobPipes: Set<String> = []
        for _ in 0..<50 {
            // Four at a time, so jobs also start and end concurrently. Each
            // prints the identity of its stdout and stderr pipes.
            let batch = try (0..<4).map { _ in
                let capture = Capture()
                let process = try JobProcess.spawn(
                    shell("readlink /proc/$$/fd/1 /proc/$$/fd/2; sleep 0.01 & wait"),
                    handler: capture, tickInterval: .milliseconds(5))
                return (process, capture)
            }
            for (process, capture) in batch {
                let exit = await process.wait()
                #expect(exit.status == .exited(0))
                pids.append(process.pid)
                jobPipes.formUnion(capture.stdoutText.split(separator: "\n").map(String.init))
            }
        }
        #expect(pids.count == 200)
        #expect(jobPipes.count == 400 && jobPipes.allSatisfy { $0.hasPrefix("pipe:[") })

        // Exact: no descriptor of this process is one of the jobs' pipes.
        let open = directoryEntries("/proc/self/fd").compactMap { descriptorTarget("/proc/self/fd/" + $0) }
        #expect(Set(open).isDisjoint(with: jobPipes))
        // Everything else (wake pipes, pidfds): a leak of one per job would add
        // >= 200; the slack absorbs other targets' tests running concurrently.
        #expect(openDescriptorCount() - before < 50)
        #expect(await eventually { JobProcess.activeReaderThreads == 0 })
        // Every job was reaped: none of them is still a (zombie) child of this process.
        let unreaped = pids.filter { pid in
            statFields(pid).map { $0[0] == "Z" && $0[1] == "\(getpid())" } ?? false
        }
        #expect(unreaped.isEmpty)
    }
}
