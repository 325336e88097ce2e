import Foundation
import InternTestKit
@testable import InternWorker
import Testing

/// A worker's state directory is trusted only when no one else could have written to it, and
/// its job list only names this worker's own processes (the tests run as root and play another
/// user, uid 65534, with chown).
@Suite struct PrivateDirectoryTests {
    static let other: uid_t = 65_534

    @Test func aMissingDirectoryIsMadeOwnerOnly() throws {
        let dir = try TemporaryDirectory(prefix: "intern-state")
        defer { dir.remove() }
        let state = dir.file("intern-0/worker-w")
        try PrivateDirectory.prepare(state)
        var info = stat()
        #expect(stat(state, &info) == 0 && info.st_mode & 0o777 == 0o700)
    }

    @Test func aDirectoryAnotherUserMadeOrCanWrite_isRefused() throws {
        let dir = try TemporaryDirectory(prefix: "intern-state")
        defer { dir.remove() }
        // Planted by another user.
        try FileManager.default.createDirectory(atPath: dir.file("planted/worker-w"), withIntermediateDirectories: true)
        chown(dir.file("planted"), Self.other, Self.other)
        chown(dir.file("planted/worker-w"), Self.other, Self.other)
        #expect(throws: PrivateDirectoryError.self) { try PrivateDirectory.prepare(dir.file("planted/worker-w")) }
        // Ours, but writable by everyone.
        try FileManager.default.createDirectory(atPath: dir.file("open/worker-w"), withIntermediateDirectories: true)
        chmod(dir.file("open/worker-w"), 0o777)
        #expect(throws: PrivateDirectoryError.self) { try PrivateDirectory.prepare(dir.file("open/worker-w")) }
        // Its parent another user's.
        try FileManager.default.createDirectory(atPath: dir.file("parent/worker-w"), withIntermediateDirectories: true)
        chown(dir.file("parent"), Self.other, Self.other)
        #expect(throws: PrivateDirectoryError.self) { try PrivateDirectory.prepare(dir.file("parent/worker-w")) }
        // A symbolic link in its place.
        try FileManager.default.createDirectory(atPath: dir.file("real"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("links"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("links/worker-w"), withDestinationPath: dir.file("real"))
        #expect(throws: PrivateDirectoryError.self) { try PrivateDirectory.prepare(dir.file("links/worker-w")) }
        // Ours, owner-only: fine, and /tmp above it (sticky, world-writable) is fine too.
        try PrivateDirectory.prepare(dir.file("fine/worker-w"))
    }

    @Test func aPlantedJobListIsNotTrusted_andAPlantedSymlinkIsNotFollowed() throws {
        let dir = try TemporaryDirectory(prefix: "intern-state")
        defer { dir.remove() }
        let state = dir.file("w")
        try PrivateDirectory.prepare(state)
        // A process this user runs, that is not a job of this worker's.
        let victim = Process()
        victim.executableURL = URL(fileURLWithPath: "/bin/sleep")
        victim.arguments = ["30"]
        try victim.run()
        defer { victim.terminate() }
        let pid = victim.processIdentifier
        let identity = try #require(JobRegistry.identity(of: pid))
        let line = "\(pid) \(identity.start) \(identity.uid) \(identity.command)\n"
        // Written by another user: ignored.
        try line.write(toFile: state + "/jobs", atomically: false, encoding: .utf8)
        chown(state + "/jobs", Self.other, Self.other)
        #expect(JobRegistry(directory: state).killLeftovers().isEmpty)
        #expect(processIsAlive(pid))
        // Ours but with another start time (a recycled pid), or in an old format: ignored. (The
        // command name is not compared: a job's changes when it execs.)
        unlink(state + "/jobs")
        try "\(pid) \(identity.start + 1) \(identity.uid) \(identity.command)\n\(pid) \(identity.start)\n".write(toFile: state + "/jobs", atomically: false, encoding: .utf8)
        #expect(JobRegistry(directory: state).killLeftovers().isEmpty)
        #expect(processIsAlive(pid))
        // A planted jobs.tmp symlink: replaced, and what it pointed to is untouched.
        let target = dir.file("precious")
        try "keep me".write(toFile: target, atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: state + "/jobs.tmp", withDestinationPath: target)
        JobRegistry(directory: state).write([pid])
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me")
        // The list it wrote itself names the process exactly, and is trusted.
        #expect(JobRegistry(directory: state).killLeftovers() == [pid])
        victim.waitUntilExit()
        #expect(!processIsAlive(pid))
    }
}
