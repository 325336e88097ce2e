import Foundation
import InternCore
import InternStore
import InternTestKit
import Testing

/// What another local user can reach (docs/security.md): run as root, the tests play the other
/// user with `setpriv` (uid and gid 65534, no groups).
@Suite(.serialized) struct HardeningEndToEndTests {
    /// `path`'s permission bits.
    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o777 : 0
    }

    /// Runs `argv` as uid/gid 65534 with no supplementary groups.
    static func asAnotherUser(_ argv: [String]) async throws -> InternBinary.Result {
        try await ProcessRunner.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + argv, timeout: .seconds(30))
    }

    @Test func aCampaignIsReadableByItsOwnerOnly_orItsGroupWhenAsked() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        // The temporary directory itself must let the other user in, so that only intern's modes stop it.
        chmod(dir.path, 0o755)
        let spec = try dir.write("private.yaml", """
            name: private
            command: [python3, -c, "print('secret output')"]
            env: {API_TOKEN: "s3cret"}
            trials: 1
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let campaign = dir.file(".intern/private")
        let log = campaign + "/logs/trial-1/attempt-1.stdout.zst"
        #expect(Self.mode(dir.file(".intern")) == 0o700)
        #expect(Self.mode(campaign) == 0o700)
        #expect(Self.mode(campaign + "/campaign.db") == 0o600)
        #expect(Self.mode(campaign + "/logs") == 0o700)
        #expect(Self.mode(log) == 0o600)
        let other = try await Self.asAnotherUser(["/bin/cat", campaign + "/campaign.db"])
        #expect(other.status != 0 && other.stdoutBytes.isEmpty, "another user read the database")

        // A campaign made before, under looser modes, is tightened when it runs again.
        chmod(campaign, 0o755)
        chmod(campaign + "/campaign.db", 0o644)
        let again = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(Self.mode(campaign) == 0o700 && Self.mode(campaign + "/campaign.db") == 0o600)

        // Asked for, its group may read it.
        let shared = try dir.write("shared.yaml", "name: shared\ncommand: [python3, -c, \"print(1)\"]\ntrials: 1\n")
        let group = try await InternBinary.run(
            ["run", shared, "--workers", "1", "--quiet", "--group-readable", "--root", dir.file("group")], in: dir.path, timeout: .seconds(60))
        #expect(group.status == 0, "\(group.stdout)\(group.stderr)")
        #expect(Self.mode(dir.file("group/shared")) == 0o750)
        #expect(Self.mode(dir.file("group/shared/campaign.db")) == 0o640)
        #expect(Self.mode(dir.file("group/shared/logs/trial-1/attempt-1.stdout.zst")) == 0o640)
    }

    /// A worker's default state directory made by another user first is refused, with what to do:
    /// a planted job list there would have made it SIGKILL what it names.
    @Test func aWorkerRefusesAStateDirectoryAnotherUserMade() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        chmod(dir.path, 0o1777)
        let planted = try await Self.asAnotherUser(["/bin/mkdir", "-p", dir.file("intern-\(getuid())/worker-w")])
        #expect(planted.status == 0, "\(planted.stderr)")
        let worker = try await InternBinary.run(
            ["worker", "--connect", "ipc://\(dir.file("none.sock"))", "--id", "w"], in: dir.path, timeout: .seconds(30),
            environment: ["TMPDIR": dir.path])
        #expect(worker.status != 0)
        #expect(worker.stderr.contains("is owned by uid 65534") && worker.stderr.contains("--state-dir"), "\(worker.stderr)")
    }

    /// A coordinator that cannot listen (its address is taken) stops `intern run` before any
    /// worker starts: no local worker ever dials a socket that is not its coordinator's.
    @Test func aCoordinatorThatCannotListen_stopsTheRun_andNoWorkerDialsTheOtherSocket() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("busy.yaml", "name: busy\ncommand: [/bin/true]\ntrials: 1\n")
        try FileManager.default.createDirectory(atPath: dir.file(".intern/busy"), withIntermediateDirectories: true)
        // Someone else's listener at the campaign's socket path; it names each process that
        // connects (SO_PEERCRED), which is the coordinator's own check that the address is live,
        // and must never be a worker.
        let listener = try dir.write("listen.py", """
            import socket, struct, sys, time
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(sys.argv[1]); s.listen(8); s.settimeout(0.2)
            print("ready", flush=True)
            end = time.time() + float(sys.argv[2])
            while time.time() < end:
                try:
                    c, _ = s.accept()
                    pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
                    try:
                        print(open("/proc/%d/cmdline" % pid, "rb").read().replace(b"\\0", b" ").decode(), flush=True)
                    except OSError:
                        print("gone", flush=True)
                except socket.timeout:
                    pass
            """)
        let squatter = try InternBinary.startProgram(["/usr/bin/python3", listener, dir.file(".intern/busy/coordinator.sock"), "4"], in: dir.path)
        for _ in 0..<50 where !squatter.stdoutSoFar.contains("ready") { try await Task.sleep(for: .milliseconds(50)) }
        let run = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(30))
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("cannot listen on ipc://"), "\(run.stderr)")
        let counted = try await squatter.finish(timeout: .seconds(10))
        #expect(!counted.stdout.contains(" worker "), "a worker connected to the other listener: \(counted.stdout)")
    }

    /// A campaign path too long for a socket address: the socket goes to this user's private
    /// directory ($XDG_RUNTIME_DIR/intern, else /tmp/intern-UID), made 0700; one another user
    /// made first is refused, and the run stops.
    @Test func theFallbackSocketLivesInAPrivateDirectory_andOneAnotherUserMadeIsRefused() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        chmod(dir.path, 0o755)
        let deep = dir.file(String(repeating: "a-long-directory-name/", count: 4))
        try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
        let spec = try dir.write("fallback.yaml", "name: fallback\ncommand: [/bin/true]\ntrials: 1\n")
        try FileManager.default.createDirectory(atPath: dir.file("run"), withIntermediateDirectories: true)
        chmod(dir.file("run"), 0o700)
        let environment = ["XDG_RUNTIME_DIR": dir.file("run")]
        let ok = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: deep, timeout: .seconds(30), environment: environment)
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(Self.mode(dir.file("run/intern")) == 0o700)

        // Another user's directory in its place.
        try FileManager.default.removeItem(atPath: dir.file("run/intern"))
        chmod(dir.file("run"), 0o1777)
        let planted = try await Self.asAnotherUser(["/bin/mkdir", dir.file("run/intern")])
        #expect(planted.status == 0, "\(planted.stderr)")
        chmod(dir.file("run"), 0o700)
        try FileManager.default.removeItem(atPath: deep + "/.intern")
        let refused = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: deep, timeout: .seconds(30), environment: environment)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("the directory of intern's ipc sockets") && refused.stderr.contains("uid 65534"), "\(refused.stderr)")
    }

    /// A worker takes commands over ipc only from a coordinator of its own user (or root): a
    /// socket file another user owns is refused before dialing, and a coordinator process of
    /// another user is refused when it connects (its uid, from the kernel), whoever owns the file.
    @Test func aWorkerRefusesACoordinatorOfAnotherUser() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        chmod(dir.path, 0o755)
        let home = dir.file("other")
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        chown(home, 65_534, 65_534)
        let spec = home + "/evil.yaml"
        try "name: evil\ncommand: [/usr/bin/touch, \(dir.file("pwned"))]\ntrials: 1\n".write(toFile: spec, atomically: false, encoding: .utf8)
        chown(spec, 65_534, 65_534)
        let socket = home + "/evil.sock"
        let hostile = try InternBinary.startProgram(
            ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", InternBinary.path, "coordinator", spec,
             "--listen", "ipc://\(socket)", "--root", home + "/.intern"], in: home)
        defer { hostile.signal(SIGKILL) }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(50)) }
        try #require(FileManager.default.fileExists(atPath: socket), "the other user's coordinator did not start: \(hostile.stdoutSoFar)")

        let byFile = try await InternBinary.run(["worker", "--connect", "ipc://\(socket)", "--id", "w1", "--give-up-after", "5"], in: dir.path, timeout: .seconds(30))
        #expect(byFile.status != 0 && byFile.stderr.contains("belongs to uid 65534"), "\(byFile.stderr)")

        // The socket moved into a directory of root's and made to look like root's (the other
        // user's process still listens on it): the peer's own uid still gives it away.
        let moved = dir.file("public/evil.sock")
        try FileManager.default.createDirectory(atPath: dir.file("public"), withIntermediateDirectories: true)
        #expect(rename(socket, moved) == 0)
        chown(moved, 0, 0)
        let byPeer = try await InternBinary.run(["worker", "--connect", "ipc://\(moved)", "--id", "w2", "--give-up-after", "2"], in: dir.path, timeout: .seconds(30))
        #expect(byPeer.status != 0 && byPeer.stderr.contains("runs as uid 65534"), "\(byPeer.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("pwned")), "a worker ran the other user's command")
    }

    /// A stored log cut short on disk (a full disk, a bad copy) is never a silent wrong answer:
    /// `intern logs` shows what is there, says what is missing and fails; `intern grep` says which
    /// log it could not search and exits 2.
    @Test func aTruncatedLogIsSaid_andFails() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("cut.yaml", """
            name: cut
            command: [python3, -c, "import random; r = random.Random(1); [print('line %d %s' % (i, r.random())) for i in range(20000)]"]
            trials: 1
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let campaign = dir.file(".intern/cut")
        let path = campaign + "/logs/trial-1/attempt-1.stdout.zst"
        let whole = try #require(FileManager.default.contents(atPath: path))
        #expect(truncate(path, off_t(whole.count / 2)) == 0)

        let logs = try await InternBinary.run(["logs", "1", "--dir", campaign], in: dir.path)
        #expect(logs.status == 1, "\(logs.stderr)")
        #expect(logs.stdout.hasPrefix("line 0 "), "the readable part is shown")
        #expect(!logs.stdout.contains("line 19999 "))
        #expect(logs.stderr.contains("is cut short") && logs.stderr.contains("the file lacks the last \(whole.count - whole.count / 2)"), "\(logs.stderr)")

        let grep = try await InternBinary.run(["grep", "line 19999", "--dir", campaign], in: dir.path)
        #expect(grep.status == 2, "\(grep.stdout)\(grep.stderr)")
        #expect(grep.stderr.contains("could not search a log") && grep.stderr.contains("cut short"), "\(grep.stderr)")
    }

    /// Odd stores and arguments get a clear word and the right exit status: an empty or damaged
    /// database is not a usage error (1, not 64), `--campaign` takes a name and never a path, and
    /// a parameter value of 100 KB does not flood `intern failures`.
    @Test func oddStoresAndArgumentsGetAClearWord() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file(".intern/empty"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir.file(".intern/empty/campaign.db"), contents: Data())
        try FileManager.default.createDirectory(atPath: dir.file(".intern/damaged"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir.file(".intern/damaged/campaign.db"), contents: Data((0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }))
        let empty = try await InternBinary.run(["status", "--dir", dir.file(".intern/empty")], in: dir.path)
        #expect(empty.status == 1 && empty.stderr.contains("holds no intern campaign"), "\(empty.stderr)")
        let damaged = try await InternBinary.run(["status", "--dir", dir.file(".intern/damaged")], in: dir.path)
        #expect(damaged.status == 1 && damaged.stderr.contains("not a database"), "\(damaged.stderr)")
        let escape = try await InternBinary.run(["status", "--campaign", "../x"], in: dir.path)
        #expect(escape.status == 64 && escape.stderr.contains("not a path"), "\(escape.stderr)")

        let big = String(repeating: "x", count: 100_000)
        let spec = try dir.write("big.yaml", """
            name: big
            command: [python3, -c, "import sys; sys.exit(3)", "{p}"]
            space: {p: {type: choice, values: ["\(big)"]}}
            trials: 1
            """)
        let run = try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(60))
        #expect(run.status == 3, "\(run.stdout)\(run.stderr)")
        let failures = try await InternBinary.run(["failures", "--campaign", "big"], in: dir.path)
        #expect(failures.status == 0)
        #expect(failures.stdout.utf8.count < 5_000 && failures.stdout.contains("(100000 bytes)"), "\(failures.stdout.prefix(600))")
    }

    /// A job's process that leaves its process group (`setsid`) is stopped with its job: on a
    /// timeout, on a cancel and when the job exits by itself (the worker adopts its jobs' orphans,
    /// docs/security.md). It outlived all three before.
    @Test func aProcessThatLeavesItsJobsGroupEndsWithTheJob() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        // Trial 1 times out, trial 2 is cancelled, trial 3 exits 0; each leaves a setsid'd sleeper
        // (and that sleeper a child of its own, in another session again).
        let escape = "setsid sh -c 'echo $$ > \(dir.path)/escaped-$INTERN_TRIAL.pid; setsid sleep 300 & echo $! > \(dir.path)/deeper-$INTERN_TRIAL.pid; exec sleep 300' >/dev/null 2>&1 </dev/null &"
        let spec = try dir.write("escape.yaml", """
            name: escape
            shell: "\(escape) sleep 0.5; if [ {trial} -eq 3 ]; then exit 0; fi; sleep 60"
            trials: 3
            parallel: 1
            timeout: 3
            retry: {per_trial: 0}
            """)
        let run = try InternBinary.start(["run", spec, "--workers", "1", "--quiet"], in: dir.path)
        let store = try await waitForStore(dir.file(".intern/escape"))
        // Cancel trial 2 once it runs.
        for _ in 0..<400 {
            if try store.trials().contains(where: { $0.id == 2 && $0.status == .running }),
               FileManager.default.fileExists(atPath: dir.file("deeper-2.pid")) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await InternBinary.run(["cancel", "2", "--campaign", "escape"], in: dir.path).status == 0)
        let result = try await run.finish(timeout: .seconds(90))
        #expect(try store.trials().map(\.status) == [.failed, .cancelled, .completed], "\(result.stdout)\(result.stderr)")
        for trial in 1...3 {
            for name in ["escaped", "deeper"] {
                let text = try String(contentsOfFile: dir.file("\(name)-\(trial).pid"), encoding: .utf8)
                let pid = try #require(pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)))
                #expect(kill(pid, 0) != 0 && errno == ESRCH, "\(name) process \(pid) of trial \(trial) still runs")
                if kill(pid, 0) == 0 { kill(pid, SIGKILL) }
            }
        }
    }

    /// `intern grep` on a log whose one line is 20 MB: a fixed string and a regular expression
    /// are both found in time linear in the line and with memory of about the log's size (a
    /// regular expression was quadratic in the line, and showing a match copied the line as
    /// 16-byte characters: 951 MB for a 50 MB line), and the match is shown as a short window.
    @Test func aHugeLineIsSearchedLinearly_inBoundedMemory() async throws {
        let dir = try TemporaryDirectory(prefix: "intern-e2e")
        defer { dir.remove() }
        let spec = try dir.write("huge.yaml", """
            name: huge
            command: [python3, -c, "import sys; sys.stdout.write('x' * 20_000_000 + ' needle ' + 'y' * 1000 + chr(10))"]
            trials: 1
            """)
        #expect(try await InternBinary.run(["run", spec, "--workers", "1", "--quiet"], in: dir.path, timeout: .seconds(120)).status == 0)
        // The peak resident memory of `intern grep`, measured by Python as its parent.
        let measure = "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); " +
            "sys.stdout.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) + chr(10) + r.stdout.decode()); sys.exit(r.returncode)"
        for pattern in [["needle"], ["--regex", "ne+dle [y]+$"], ["-i", "--regex", "NEEDLE"]] {
            let result = try await ProcessRunner.run(
                ["/usr/bin/python3", "-c", measure, InternBinary.path, "grep", "--campaign", "huge"] + pattern, in: dir.path, timeout: .seconds(120))
            let lines = result.stdout.split(separator: "\n")
            let peakKiB = Int(lines.first ?? "") ?? 0
            #expect(result.status == 0, "\(pattern): \(result.stdout.prefix(500)) \(result.stderr)")
            #expect(lines.count >= 2 && lines[1].contains("needle") && lines[1].utf8.count < 2_000, "\(pattern): \(result.stdout.prefix(500))")
            #expect(peakKiB > 0 && peakKiB < 120 << 10, "\(pattern): intern grep peaked at \(peakKiB >> 10) MiB")
            print("intern grep \(pattern.joined(separator: " ")) over a 20 MB line: peak resident \(peakKiB >> 10) MiB")
        }
    }
}
