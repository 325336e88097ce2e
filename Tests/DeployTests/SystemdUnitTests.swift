import Foundation
import Testing

/// `deploy/systemd/*.service`: complete units whose stop drains the worker before systemd kills.
@Suite("systemd units")
struct SystemdUnitTests {
    static let units = ["intern-coordinator.service", "intern-worker@.service"]

    static func unit(_ name: String) throws -> SystemdUnit {
        SystemdUnit(try DeployFiles.text("systemd/\(name)"))
    }

    @Test func theUnitsAreTheOnesDocumented() {
        let found = DeployFiles.files(in: "systemd", suffix: ".service").map(\.lastPathComponent)
        #expect(found == Self.units)
    }

    @Test(arguments: units)
    func unitHasItsSectionsAndHardening(_ name: String) throws {
        let unit = try Self.unit(name)
        for section in ["Unit", "Service", "Install"] {
            #expect(unit.sections[section] != nil, "\(name): no [\(section)]")
        }
        #expect(unit.value("Install", "WantedBy") == "multi-user.target")
        #expect(unit.value("Service", "NoNewPrivileges") == "yes")
        #expect(["strict", "full", "yes"].contains(unit.value("Service", "ProtectSystem") ?? ""), "\(name): ProtectSystem")
        #expect(unit.value("Service", "StateDirectory") != nil, "\(name): no StateDirectory")
        #expect(unit.value("Service", "Restart") == "on-failure")
        #expect(!unit.values("Service", "EnvironmentFile").isEmpty, "\(name): no EnvironmentFile")
        #expect(unit.value("Service", "User") == "intern", "\(name): runs as root")
    }

    @Test func coordinatorUnitStartsTheCoordinator() throws {
        let unit = try Self.unit("intern-coordinator.service")
        let start = try #require(unit.value("Service", "ExecStart"))
        #expect(start.hasPrefix("/usr/local/bin/intern coordinator "), "ExecStart=\(start)")
        #expect(start.contains("--listen") && start.contains("--root /var/lib/intern"))
        #expect(unit.value("Service", "StateDirectory") == "intern")
        // A bad campaign file is not fixed by restarting.
        #expect(unit.value("Service", "RestartPreventExitStatus")?.split(separator: " ").contains("64") == true)
    }

    @Test func workerUnitDrainsBeforeSystemdKills() throws {
        let unit = try Self.unit("intern-worker@.service")
        let start = try #require(unit.value("Service", "ExecStart"))
        #expect(start.hasPrefix("/usr/local/bin/intern worker "), "ExecStart=\(start)")
        #expect(start.contains("--connect ${INTERN_COORDINATOR}") && start.contains("--id %H-%i"))
        // SIGTERM to the worker alone: it stops its trials itself after the drain grace.
        #expect(unit.value("Service", "KillMode") == "mixed")
        #expect(unit.value("Service", "KillSignal") ?? "SIGTERM" == "SIGTERM")

        // The defaults in Environment= (an EnvironmentFile may raise them, with TimeoutStopSec).
        var environment: [String: String] = [:]
        for line in unit.values("Service", "Environment") {
            for assignment in line.split(separator: " ") {
                let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { environment[parts[0]] = parts[1] }
            }
        }
        let drain = try #require(environment["INTERN_DRAIN_GRACE"].flatMap(Double.init))
        let kill = try #require(environment["INTERN_KILL_GRACE"].flatMap(Double.init))
        let timeout = try #require(unit.value("Service", "TimeoutStopSec").flatMap(seconds))
        #expect(timeout > drain + kill + 5, "TimeoutStopSec \(timeout) must exceed drain \(drain) + kill \(kill) + 5 s")
    }

    @Test func environmentExamplesSetWhatTheUnitsRead() throws {
        let coordinator = try DeployFiles.text("systemd/coordinator.env.example")
        for key in ["INTERN_CAMPAIGN=", "INTERN_LISTEN=", "INTERN_AUTH_DIR="] {
            #expect(coordinator.contains("\n\(key)"), "coordinator.env.example lacks \(key)")
        }
        let worker = try DeployFiles.text("systemd/worker.env.example")
        for key in ["INTERN_COORDINATOR=", "INTERN_AUTH_DIR=", "INTERN_DRAIN_GRACE="] {
            #expect(worker.contains("\n\(key)"), "worker.env.example lacks \(key)")
        }
    }
}
