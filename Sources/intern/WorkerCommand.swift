import ArgumentParser
import Foundation
import InternCore
import InternWorker
import Logging

/// `intern worker`: a worker process that runs attempts for a coordinator.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run attempts for a coordinator: dial it, pull one trial per free slot, stream logs back.",
        discussion: "The worker exits when the coordinator says the campaign is over.")

    @Option(name: .long, help: "The coordinator's URL, e.g. ipc:///path/coordinator.sock or tcp://host:7700.")
    var connect: String

    @Option(name: .long, help: "How many attempts to run at once.")
    var slots: Int = 1

    @Option(name: .long, help: "This worker's stable identity (default: host name and process id).")
    var id: String?

    @Flag(name: .long, help: "Allow tcp:// without authentication (whoever answers at that address can run commands here).")
    var insecure = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        try requireLocalOrInsecure([connect], insecure: insecure, role: "--connect")
        guard slots >= 1 else { throw ValidationError("--slots must be at least 1") }
        if let id, id.isEmpty || id.utf8.count > 200 { throw ValidationError("--id must be 1 to 200 bytes") }
    }

    func run() async throws {
        global.bootstrapLogging()
        let identity = id ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let worker = Worker(
            options: WorkerOptions(connect: connect, id: WorkerID(identity), slots: slots),
            logger: Logger(label: "intern.worker"))
        do {
            try await withSignalCancellation { try await worker.run() }
        } catch let error as WorkerError {
            FileHandle.standardError.write(Data("intern worker: \(error.message)\n".utf8))
            throw ExitCode(ExitCodes.failure)
        }
    }
}
