// swift-tools-version:6.1
// The layering below is the architecture: a target can only do what its dependencies allow.
// Pure logic (InternCore, InternProtocol) cannot import a socket, a database or a process API.
import PackageDescription

let package = Package(
    name: "intern",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "intern", targets: ["intern"]),
        .executable(name: "intern-load", targets: ["intern-load"]),
        .executable(name: "intern-mcp", targets: ["intern-mcp"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // `intern mcp`: the Model Context Protocol (docs/dependencies.md).
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.65.0"),
        // The dashboard's web server (`intern serve`, `--http`): docs/dependencies.md. No default
        // traits: neither swift-configuration nor full Foundation is needed.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // The dashboard's `/metrics`, in Prometheus's text format.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian, nothing else.
        .systemLibrary(name: "CNNG", providers: [.apt(["libnng-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // mbedtls comes with libnng-dev (NNG's TLS transport is built on it).
        .systemLibrary(name: "CMbedTLS", providers: [.apt(["libmbedtls-dev"])]),
        // SHA-256 in C of our own: the SHA-NI instructions where the CPU has them (every sealed
        // message is tagged with HMAC-SHA256; mbedtls's portable C was a quarter of ingest's CPU).
        .target(name: "CSHA256"),

        // Thin wrappers: typed errors, ownership, no domain types.
        .target(name: "NNG", dependencies: ["CNNG"]),
        .target(name: "Zstd", dependencies: ["CZstd"]),
        .target(name: "InternJob"),

        // The wire protocol: standard library only.
        .target(name: "InternProtocol"),
        // Authentication between nodes: the campaign secret, sealed messages, the campaign's CA.
        .target(name: "InternAuth", dependencies: ["CMbedTLS", "CSHA256"]),

        // Pure logic: campaign, sampling, scheduling, metrics parsing. No IO.
        .target(name: "InternCore"),
        .target(name: "InternSpec", dependencies: ["InternCore", .product(name: "Yams", package: "Yams")]),

        // The store: one SQLite database per campaign directory, plus the compressed log files.
        .target(name: "InternStore", dependencies: [
            "InternCore", "Zstd",
            .product(name: "GRDB", package: "GRDB.swift"),
            // SQLite's C API, for the scans that decode every row (ColumnScan).
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),

        // What a campaign amounts to: the report (Markdown, HTML with SVG charts, JSON) and the digest.
        .target(name: "InternReport", dependencies: ["InternCore", "InternSpec", "InternStore", "Zstd"]),

        // The lab: memory across campaigns (every campaign under the roots, their failure signatures,
        // best results, digests and notes), indexed in SQLite with FTS5 (docs/lab.md).
        .target(name: "InternLab", dependencies: [
            "InternCore", "InternSpec", "InternStore", "InternReport", .product(name: "GRDB", package: "GRDB.swift"),
        ]),

        // The dashboard: pages and Server-Sent Events read from the stores under a root, served by
        // Hummingbird. Page models, change detection and token checks are pure; the routes are thin.
        .target(name: "InternWeb", dependencies: [
            "InternCore", "InternStore", "InternReport", "InternLab", "Zstd",
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"), .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),

        // The shells around the logic.
        .target(name: "InternCoordinator", dependencies: [
            "InternCore", "InternProtocol", "InternStore", "InternAuth", "NNG",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "InternWorker", dependencies: [
            "InternCore", "InternProtocol", "InternAuth", "InternJob", "NNG", "Zstd",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // The one executable: a root command with subcommands.
        .executableTarget(name: "intern", dependencies: [
            "InternCore", "InternSpec", "InternStore", "InternReport", "InternAuth", "InternCoordinator", "InternWorker", "NNG",
            "InternProtocol", "InternWeb", "InternLab",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ], plugins: ["BuildInfo"]),
        // The git commit `intern --version` names, written before each build ("unknown" outside a checkout).
        .plugin(name: "BuildInfo", capability: .buildTool()),

        // The scale load generator (`make bench-scale`): simulated workers that speak the real protocol
        // (sealed, over real sockets) with simulated jobs, to measure the coordinator alone at scale.
        // What an agent may call (tools, their checks, answers cut to a budget): pure, no MCP.
        .target(name: "InternAgent", dependencies: ["InternCore", "InternReport"]),
        // `intern mcp` and `intern agent`: a program of its own (the MCP SDK and the planner's HTTP
        // client bring Foundation's networking and libcurl, which would slow every intern process's
        // start); `intern mcp` and `intern agent` start it.
        .executableTarget(name: "intern-mcp", dependencies: [
            "InternAgent", "InternJob", "Zstd", .product(name: "MCP", package: "swift-sdk"),
            // `status` and `digest` answered in-process from the store (no `intern` started per call).
            "InternCore", "InternReport", "InternStore",
            // ... with what the lab says of the campaign's failures, as the commands add it.
            "InternLab",
            .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .target(name: "InternLoad", dependencies: ["InternCore", "InternProtocol", "InternAuth", "InternWorker", "NNG", "Zstd"]),
        .executableTarget(name: "intern-load", dependencies: [
            "InternLoad", "InternAuth", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Helpers for tests: temporary directories, spawning the real binaries.
        .target(name: "InternTestKit", dependencies: ["InternCore"], path: "Tests/InternTestKit"),

        .testTarget(name: "NNGTests", dependencies: ["NNG", "InternAuth", "InternTestKit"]),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "CZstd"]),
        .testTarget(name: "InternJobTests", dependencies: ["InternJob"]),
        .testTarget(name: "InternProtocolTests", dependencies: ["InternProtocol"]),
        .testTarget(name: "InternAuthTests", dependencies: ["InternAuth", "InternTestKit", "CMbedTLS", "CSHA256"]),
        .testTarget(name: "InternCoreTests", dependencies: ["InternCore", "InternProtocol", "InternTestKit"]),
        .testTarget(name: "InternSpecTests", dependencies: ["InternSpec"]),
        .testTarget(name: "InternStoreTests", dependencies: ["InternStore", "InternTestKit"]),
        .testTarget(name: "InternReportTests", dependencies: ["InternReport", "InternStore", "InternCore", "InternTestKit"]),
        .testTarget(name: "InternCoordinatorTests", dependencies: [
            "InternCoordinator", "InternCore", "InternProtocol", "InternStore", "InternAuth", "InternTestKit", "NNG", "Zstd",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "InternWebTests", dependencies: [
            "InternWeb", "InternStore", "InternCore", "InternReport", "InternSpec", "InternTestKit", "Zstd",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "InternAgentTests", dependencies: ["InternAgent"]),
        .testTarget(name: "InternLabTests", dependencies: ["InternLab", "InternStore", "InternCore", "InternReport", "InternTestKit"]),
        .testTarget(name: "InternLoadTests", dependencies: ["InternLoad", "InternProtocol", "InternCore", "Zstd"]),
        .testTarget(name: "InternWorkerTests", dependencies: ["InternWorker", "InternProtocol", "InternTestKit"]),
        // The executable's own pieces (the process lifecycle), through @testable import.
        .testTarget(name: "InternCLITests", dependencies: [
            "intern", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "DeployTests", dependencies: [.product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "EndToEndTests", dependencies: ["InternStore", "InternProtocol", "InternTestKit", "NNG", "Zstd"],
            exclude: ["Fixtures"]),
    ]
)
