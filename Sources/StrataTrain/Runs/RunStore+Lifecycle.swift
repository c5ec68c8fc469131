import Foundation
import GRDB

/// The life cycle of a run beyond create and finish: its lock (who trains it), telling a live run from one whose
/// process is gone, and taking a run over for `--resume`.
extension RunStore {
    /// Summary key set on a run that was found `running` with nobody holding its lock.
    public static let processGoneKey = "process_gone"

    /// Takes the lock of `runID` for this process (to resume it); throws `runIsLive` naming the holder when
    /// another process (or another trainer in this one) trains it.
    public func acquireLock(runID: String) throws {
        let record = try run(id: runID)
        if locks.withLock({ $0[record.id] != nil }) {
            throw RunStoreError.runIsLive(runID: record.id, holder: "by this process", action: "wait for it to finish")
        }
        switch try RunLock.acquire(directory: record.directory) {
        case .success(let lock): locks.withLock { $0[record.id] = lock }
        case .failure(let busy):
            throw RunStoreError.runIsLive(runID: record.id, holder: busy.holder?.text ?? "its lock is held",
                                          action: "two trainers cannot share a run; wait for it to end or stop it first")
        }
    }

    /// Releases this process's lock of `runID`, if it holds it (the process ending does the same).
    public func releaseLock(runID: String) {
        let lock = locks.withLock { $0.removeValue(forKey: runID) }
        lock?.release()
    }

    /// Whether a process trains `record` now. Only `running` runs are asked; a run this store holds is live.
    public func liveness(of record: RunRecord) -> RunLiveness {
        if locks.withLock({ $0[record.id] != nil }) { return .live(nil) }
        return RunLock.liveness(directory: record.directory)
    }

    /// What `runs list` and `runs show` print as a run's status: its stored status, except that a `running` run
    /// whose lock nobody holds, or one marked so by `markGoneRunsInterrupted`, reads `interrupted (process gone)`.
    public func displayStatus(of record: RunRecord) -> String {
        if record.status == .running, case .gone = liveness(of: record) { return "interrupted (process gone)" }
        if record.status == .interrupted, record.summaryNumbers[RunStore.processGoneKey] == 1 { return "interrupted (process gone)" }
        return record.status.rawValue
    }

    /// Marks every `running` run whose process is gone as `interrupted` (summary `process_gone: 1` when it had
    /// none), and returns their ids. Each is checked while holding its lock, so a `--resume` that starts at the
    /// same moment is never overwritten.
    @discardableResult
    public func markGoneRunsInterrupted() throws -> [String] {
        var marked: [String] = []
        for record in try runs(status: .running) where locks.withLock({ $0[record.id] == nil }) {
            guard case .success(let lock) = try RunLock.acquire(directory: record.directory, attempts: 1) else { continue }
            defer { lock.release() }
            try dbWrite { db in
                try db.execute(sql: """
                    UPDATE runs SET status = ?, summary_json = COALESCE(summary_json, ?), updated_at = ?
                    WHERE id = ? AND status = ?
                    """, arguments: [RunStatus.interrupted.rawValue, "{\"\(RunStore.processGoneKey)\":1}", Date(),
                                     record.id, RunStatus.running.rawValue])
            }
            marked.append(record.id)
        }
        return marked
    }

    /// Sets a run back to `running` (a resume took it over) and replaces its config text.
    public func markRunning(runID: String, configJSON: String? = nil) throws {
        try write(runID: runID) { db in
            try db.execute(sql: "UPDATE runs SET status = ?, config_json = COALESCE(?, config_json) WHERE id = ?",
                           arguments: [RunStatus.running.rawValue, configJSON, runID])
        }
    }

    /// Deletes the metric, evaluation and probe rows of `runID` logged after `step`: the rows a killed process
    /// wrote past its last checkpoint, which a resume from that checkpoint is about to write again.
    @discardableResult
    public func deleteRows(runID: String, afterStep step: Int) throws -> Int {
        var deleted = 0
        try write(runID: runID) { db in
            for table in ["metrics", "evaluations", "probes"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE run_id = ? AND step > ?", arguments: [runID, step])
                deleted += db.changesCount
            }
        }
        return deleted
    }
}
