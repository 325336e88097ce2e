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
}
