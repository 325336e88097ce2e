import Foundation
import Testing
import Yams

/// `deploy/k8s/*.yaml`: every document parses and is complete, and the pieces agree with each
/// other (ports, names, labels, the drain grace against the termination grace).
@Suite("Kubernetes manifests")
struct KubernetesManifestTests {
    let manifests: [Manifest]

    init() throws {
        manifests = try Manifest.all()
    }

    /// `intern` and its arguments as the container runs them: command and args, joined by spaces.
    static func commandLine(_ container: [String: Any]) -> String {
        let command = container["command"] as? [Any] ?? []
        let args = container["args"] as? [Any] ?? []
        return (command + args).map { "\($0)" }.joined(separator: " ")
    }

    /// The value after `option` in a command line (`--listen tcp://0.0.0.0:7700` → the URL).
    static func option(_ option: String, in commandLine: String) -> String? {
        let words = commandLine.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\\" }).map(String.init)
        guard let index = words.firstIndex(of: option), index + 1 < words.count else { return nil }
        return words[index + 1]
    }

    /// The port of a `tcp://host:port` URL, and its host.
    static func endpoint(_ url: String) -> (host: String, port: Int)? {
        guard let scheme = url.range(of: "://"), let colon = url.lastIndex(of: ":"), colon > scheme.upperBound,
              let port = Int(url[url.index(after: colon)...]) else { return nil }
        return (String(url[scheme.upperBound..<colon]), port)
    }

    static func containers(_ workload: Manifest) -> [[String: Any]] {
        workload.value(["spec", "template", "spec", "containers"]) as? [[String: Any]] ?? []
    }

    /// The Secret volume a workload mounts, and where its first container mounts it.
    static func secretVolume(_ workload: Manifest) throws -> (volume: [String: Any], mountPath: String) {
        let volumes = workload.value(["spec", "template", "spec", "volumes"]) as? [[String: Any]] ?? []
        let volume = try #require(volumes.first { $0["secret"] != nil }, "\(workload) mounts no Secret")
        let mounts = try #require(containers(workload).first?["volumeMounts"] as? [[String: Any]])
        let mount = try #require(mounts.first { $0["name"] as? String == volume["name"] as? String }, "\(workload): the Secret volume is not mounted")
        return (volume, mount["mountPath"] as? String ?? "")
    }

    @Test func everyDocumentHasApiVersionKindAndName() throws {
        #expect(manifests.count >= 6, "deploy/k8s should hold the ConfigMap, Service, StatefulSet, Deployment and Secret templates")
        for manifest in manifests {
            #expect(!(manifest.object["apiVersion"] as? String ?? "").isEmpty, "\(manifest): no apiVersion")
            #expect(!manifest.kind.isEmpty, "\(manifest.file): a document without kind")
            // A Kustomization is a build file for kubectl, not an object: it has no name.
            if manifest.kind != "Kustomization" {
                #expect(!manifest.name.isEmpty, "\(manifest): no metadata.name")
            }
        }
    }

    @Test func workloadsSelectTheirOwnPodsAndRunAnImage() throws {
        let workloads = manifests.filter { $0.kind == "StatefulSet" || $0.kind == "Deployment" }
        #expect(workloads.count == 2)
        for workload in workloads {
            let selector = try #require(workload.value(["spec", "selector", "matchLabels"]) as? [String: String], "\(workload): no selector")
            let labels = try #require(workload.value(["spec", "template", "metadata", "labels"]) as? [String: String], "\(workload): no pod labels")
            #expect(!selector.isEmpty)
            for (key, value) in selector {
                #expect(labels[key] == value, "\(workload): selector \(key)=\(value) does not match the pod template's labels")
            }
            let containers = Self.containers(workload)
            #expect(!containers.isEmpty, "\(workload): no containers")
            for container in containers {
                #expect(!(container["image"] as? String ?? "").isEmpty, "\(workload): a container without image")
                #expect(container["command"] != nil || container["args"] != nil, "\(workload): no command or args")
            }
        }
    }

    @Test func coordinatorRunsTheCampaignFromTheConfigMapOnItsVolume() throws {
        let coordinator = try Manifest.find(manifests, kind: "StatefulSet", name: "intern-coordinator")
        #expect(coordinator.value(["spec", "replicas"]) as? Int == 1, "one coordinator per campaign")
        let container = try #require(Self.containers(coordinator).first)
        let line = Self.commandLine(container)
        #expect(line.contains("intern coordinator"), "the coordinator container runs: \(line)")

        // The campaign directory lives on the claim template's volume, mounted at --root.
        let claims = try #require(coordinator.value(["spec", "volumeClaimTemplates"]) as? [[String: Any]])
        let claim = try #require(Manifest.value(claims.first as Any, ["metadata", "name"]) as? String)
        let mounts = try #require(container["volumeMounts"] as? [[String: Any]])
        let dataMount = try #require(mounts.first { $0["name"] as? String == claim }, "the claim template's volume is not mounted")
        #expect(Self.option("--root", in: line) == dataMount["mountPath"] as? String)

        // The spec comes from the ConfigMap in campaign.yaml, mounted where the command reads it.
        let volumes = try #require(coordinator.value(["spec", "template", "spec", "volumes"]) as? [[String: Any]])
        let configVolume = try #require(volumes.first { $0["configMap"] != nil }, "the campaign ConfigMap is not a volume")
        let configName = try #require(Manifest.value(configVolume, ["configMap", "name"]) as? String)
        let configMap = try Manifest.find(manifests, kind: "ConfigMap", name: configName)
        let specText = try #require(configMap.value(["data", "campaign.yaml"]) as? String, "the ConfigMap has no campaign.yaml")
        let spec = try #require(try Yams.load(yaml: specText) as? [String: Any])
        #expect(spec["name"] is String && (spec["command"] != nil || spec["shell"] != nil), "the campaign spec lacks name or command")
        let configMount = try #require(mounts.first { $0["name"] as? String == configVolume["name"] as? String })
        let mountPath = try #require(configMount["mountPath"] as? String)
        #expect(line.contains("intern coordinator \(mountPath)/campaign.yaml"), "the coordinator reads its spec from the ConfigMap at \(mountPath)")
    }

    @Test func secretVolumesAreOwnerReadOnly() throws {
        for name in ["intern-coordinator", "intern-worker"] {
            let workload = try #require(manifests.first { $0.name == name && ($0.kind == "StatefulSet" || $0.kind == "Deployment") })
            let (volume, mountPath) = try Self.secretVolume(workload)
            // 0400 in YAML 1.1 (what Kubernetes and Yams read) is octal: 256.
            #expect(Manifest.value(volume, ["secret", "defaultMode"]) as? Int == 0o400, "\(workload): the Secret volume's defaultMode must be 0400")
            let line = Self.commandLine(try #require(Self.containers(workload).first))
            #expect(Self.option("--auth", in: line) == mountPath, "\(workload): --auth must name the Secret's mount path \(mountPath)")
        }
    }

    @Test func serviceExposesTheCoordinatorsListenPort() throws {
        let service = try Manifest.find(manifests, kind: "Service", name: "intern-coordinator")
        let coordinator = try Manifest.find(manifests, kind: "StatefulSet", name: "intern-coordinator")
        let container = try #require(Self.containers(coordinator).first)
        let listen = try #require(Self.option("--listen", in: Self.commandLine(container)), "the coordinator has no --listen")
        #expect(listen.hasPrefix("tcp://") || listen.hasPrefix("tls+tcp://"))
        let port = try #require(Self.endpoint(listen)?.port)

        let ports = try #require(service.value(["spec", "ports"]) as? [[String: Any]])
        #expect(ports.contains { $0["port"] as? Int == port }, "the Service does not expose the coordinator's port \(port)")
        let containerPorts = container["ports"] as? [[String: Any]] ?? []
        #expect(containerPorts.contains { $0["containerPort"] as? Int == port })
        let selector = try #require(service.value(["spec", "selector"]) as? [String: String])
        let labels = try #require(coordinator.value(["spec", "template", "metadata", "labels"]) as? [String: String])
        #expect(selector.allSatisfy { labels[$0.key] == $0.value }, "the Service does not select the coordinator pod")
        #expect(coordinator.value(["spec", "serviceName"]) as? String == service.name)
    }

    @Test func workerDialsTheServiceAndRequestsGPUs() throws {
        let worker = try Manifest.find(manifests, kind: "Deployment", name: "intern-worker")
        let service = try Manifest.find(manifests, kind: "Service", name: "intern-coordinator")
        let container = try #require(Self.containers(worker).first)
        let line = Self.commandLine(container)
        #expect(line.contains("intern worker"), "the worker container runs: \(line)")
        let connect = try #require(Self.option("--connect", in: line).flatMap(Self.endpoint), "the worker has no --connect URL")
        #expect(connect.host == service.name || connect.host.hasPrefix(service.name + "."))
        let ports = service.value(["spec", "ports"]) as? [[String: Any]] ?? []
        #expect(ports.contains { $0["port"] as? Int == connect.port }, "the worker dials port \(connect.port), the Service does not expose it")

        let resources = try #require(container["resources"] as? [String: Any])
        for kind in ["requests", "limits"] {
            let gpus = Manifest.value(resources, [kind, "nvidia.com/gpu"]) as? Int ?? 0
            #expect(gpus >= 1, "the worker's \(kind) have no nvidia.com/gpu")
        }
    }

    @Test func workerGetsMoreTimeToStopThanItsDrainTakes() throws {
        let worker = try Manifest.find(manifests, kind: "Deployment", name: "intern-worker")
        let line = Self.commandLine(try #require(Self.containers(worker).first))
        let drain = try #require(Self.option("--drain-grace", in: line).flatMap(Double.init), "set --drain-grace explicitly")
        let kill = Self.option("--kill-grace", in: line).flatMap(Double.init) ?? 5
        let grace = try #require(worker.value(["spec", "template", "spec", "terminationGracePeriodSeconds"]) as? Int)
        #expect(Double(grace) > drain, "terminationGracePeriodSeconds \(grace) must exceed --drain-grace \(drain)")
        // The worker is gone at most drain + kill grace + 5 s after SIGTERM.
        #expect(Double(grace) >= drain + kill + 5, "terminationGracePeriodSeconds \(grace) < drain \(drain) + kill \(kill) + 5 s")
    }

    @Test func secretTemplateNamesWhatTheWorkloadsMount() throws {
        let secrets = manifests.filter { $0.kind == "Secret" }
        for name in ["intern-coordinator", "intern-worker"] {
            let workload = try #require(manifests.first { $0.name == name && $0.kind != "Service" })
            let (volume, _) = try Self.secretVolume(workload)
            let secretName = try #require(Manifest.value(volume, ["secret", "secretName"]) as? String)
            let secret = try #require(secrets.first { $0.name == secretName }, "no Secret template for \(secretName)")
            let keys = Set((secret.object["stringData"] as? [String: Any] ?? secret.object["data"] as? [String: Any] ?? [:]).keys)
            #expect(keys.isSuperset(of: ["secret", "ca.crt"]), "\(secretName) lacks secret or ca.crt")
            #expect(!keys.contains("ca.key"), "ca.key must not go into the cluster")
        }
        let template = try DeployFiles.text("k8s/secret.yaml")
        #expect(template.contains("kubectl create secret generic") && template.contains("--from-file"))
    }

    @Test func kustomizationAppliesEverythingButTheSecretTemplate() throws {
        let kustomization = try #require(manifests.first { $0.kind == "Kustomization" })
        let resources = try #require(kustomization.object["resources"] as? [String])
        let files = Set(DeployFiles.files(in: "k8s", suffix: ".yaml").map(\.lastPathComponent))
        #expect(Set(resources) == files.subtracting(["kustomization.yaml", "secret.yaml"]))
    }

    @Test func coordinatorShellWrapperIsValidShell() throws {
        let coordinator = try Manifest.find(manifests, kind: "StatefulSet", name: "intern-coordinator")
        let container = try #require(Self.containers(coordinator).first)
        let command = container["command"] as? [String] ?? []
        guard command.contains("-c"), let script = (container["args"] as? [String])?.first else { return }
        let result = try DeployFiles.run("/bin/sh", ["-n", "-c", script])
        #expect(result.status == 0, "sh -n: \(result.stderr)")
    }

    @Test func containerfileBuildsStaticallyAndShipsTheRuntimeLibraries() throws {
        let text = try DeployFiles.text("Containerfile")
        let stages = text.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2, "a build stage and a runtime stage")
        #expect(text.contains("swift:6."), "built with a swift:6.x image")
        #expect(text.contains("swift build -c release --static-swift-stdlib"))
        #expect(text.contains("debian:bookworm-slim"))
        for package in ["libnng1", "libzstd1", "python3"] {
            #expect(text.contains(package), "the runtime stage installs \(package)")
        }
    }

    /// The image's binary is linked as `make release` links it (position-dependent, by lld with
    /// deploy/intern-hot.ld, no exported symbols): both `swift build` lines of the Containerfile
    /// carry the Makefile's RELEASE_FLAGS, the repository's folder being `/src` in the image.
    @Test func containerfileBuildsWithTheMakefilesReleaseFlags() throws {
        let printer = FileManager.default.temporaryDirectory.appendingPathComponent("print-release-flags-\(ProcessInfo.processInfo.processIdentifier).mk")
        try "print-release-flags:\n\t@echo $(RELEASE_FLAGS)\n".write(to: printer, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: printer) }
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.currentDirectoryURL = DeployFiles.root
        make.arguments = ["-s", "--no-print-directory", "-f", "Makefile", "-f", printer.path, "print-release-flags"]
        let output = Pipe()
        make.standardOutput = output
        try make.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        make.waitUntilExit()
        #expect(make.terminationStatus == 0)
        let flags = printed.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: DeployFiles.root.standardizedFileURL.path, with: "/src")
        #expect(flags.contains("--script=/src/deploy/intern-hot.ld"), "\(flags)")
        let builds = try DeployFiles.text("Containerfile").components(separatedBy: "swift build ").dropFirst()
        #expect(builds.count == 2, "the build and the --show-bin-path")
        for build in builds {
            #expect(build.hasPrefix(flags + " "), "the Containerfile builds with \(build.prefix(120))..., not the Makefile's \(flags)")
        }
        #expect(try DeployFiles.text("Containerfile").contains("COPY deploy/intern-hot.ld ./deploy/"))
    }
}
