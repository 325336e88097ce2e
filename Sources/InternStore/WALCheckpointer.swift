import Foundation
import GRDB

/// Checkpoints a campaign database's write-ahead log in the background, so that the coordinator's
/// commits never do it. In WAL mode SQLite checkpoints on the commit that takes the log past
/// 1,000 pages: that commit copies the pages into the database file and waits for the disk to
/// flush it twice (`fdatasync`), on the coordinator's thread, while every request behind it
/// waits. Here a connection of its own runs a passive checkpoint every interval, on a queue of its
/// own: passive, it copies what no reader still needs and never blocks the writer, which keeps
/// appending meanwhile (and starts the log over once a checkpoint has copied all of it). The
/// writer still checkpoints by itself past ``CampaignStore/writerCheckpointPages``, should this
/// fall behind or be absent (an admin command's store).
public final class WALCheckpointer: Sendable {
    private let connection: DatabaseQueue
    private let queue = DispatchQueue(label: "intern.store.checkpoint", qos: .utility)

    /// Opens a connection of its own to `store`'s database.
    public init(store: CampaignStore) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(1)
        do {
            connection = try DatabaseQueue(path: store.databasePath, configuration: configuration)
        } catch let error as DatabaseError {
            throw StoreError(code: .database, message: "cannot open \(store.databasePath) to checkpoint it: \(error.message ?? "\(error)")", underlying: error)
        }
    }

    /// One passive checkpoint, now, on the calling thread: the frames in the log, and how many of
    /// them are in the database file now.
    @discardableResult
    public func checkpoint() throws -> (walFrames: Int, checkpointed: Int) {
        do {
            return try connection.writeWithoutTransaction { db in
                let result = try db.checkpoint(.passive)
                return (result.walFrameCount, result.checkpointedFrameCount)
            }
        } catch let error as DatabaseError {
            throw StoreError(code: .database, message: error.message ?? "\(error)", underlying: error)
        }
    }

    /// Checkpoints every `interval` until the task is cancelled. A checkpoint that fails (the
    /// writer checkpointing at that moment: busy) is left to the next one, or to the writer.
    public func run(every interval: Duration) async {
        while !Task.isCancelled {
            guard (try? await Task.sleep(for: interval)) != nil else { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                queue.async {
                    _ = try? self.checkpoint()
                    continuation.resume()
                }
            }
        }
    }
}
