import Foundation
import GRDB
import StrataIO
import StrataModels

/// One run that `RunStore.repair` put back into the store.
public struct RecoveredRun: Sendable, Equatable {
    /// The run id (its directory's name).
    public var id: String
    /// Kind read from its config.
    public var kind: RunKind
    /// `finished` when its checkpoint reached the planned steps, else `interrupted`.
    public var status: RunStatus
    /// The checkpoint's step, nil without a checkpoint.
    public var step: Int?
}

/// What `RunStore.repair` did: the backup of the old file, the runs recovered and the directories skipped.
public struct RepairReport: Sendable {
    /// Where the damaged database was moved (nil when there was none).
    public var backup: URL?
    /// Runs written into the new store, in directory order.
    public var recovered: [RecoveredRun]
    /// Directories that were not runs that can be recovered, with the reason.
    public var skipped: [(directory: String, reason: String)]
}

extension RunStore {
    /// Rebuilds `<root>/strata.sqlite` from the run directories, after moving the old file aside as
    /// `strata.sqlite.broken-<UTC time>`.
    ///
    /// Each directory holds `spec.json`, `config.json` and usually `checkpoints/latest.safetensors`; its row gets
    /// the spec and config texts, and from the checkpoint's metadata the step, tokens and elapsed time (status
    /// `finished` when the step reached the planned steps, otherwise `interrupted`). Metric, evaluation and probe
    /// history lived only in the database and is not recovered; nor are comparisons (their members are).
    /// A store that opens and passes SQLite's integrity check is left alone unless `force`; a run still being
    /// trained (its lock held) stops the repair, since its trainer writes into the old file.
    public static func repair(root: URL? = nil, force: Bool = false) throws -> RepairReport {
        let root = (root ?? defaultRoot()).standardizedFileURL
        let database = root.appendingPathComponent("strata.sqlite")
        let fm = FileManager.default
        guard fm.fileExists(atPath: root.path) else {
            throw RunStoreError.fileSystem(path: root.path, message: "no such runs directory; nothing to repair")
        }
        let size = (try? fm.attributesOfItem(atPath: database.path)[.size] as? NSNumber)?.intValue ?? 0
        if size > 0, !force, (try? RunStore(root: root)) != nil {
            throw RunStoreError.database(path: database.path, message: "the run store opens and passes its integrity check; "
                + "nothing to repair (`strata runs repair --force` rebuilds it anyway, losing its metric history)")
        }
        let directories = runDirectories(in: root)
        for directory in directories {
            if case .live(let holder) = RunLock.liveness(directory: directory) {
                throw RunStoreError.runIsLive(runID: directory.lastPathComponent, holder: holder?.text ?? "its lock is held",
                                              action: "repair the store once it has stopped")
            }
        }
        var backup: URL?
        if fm.fileExists(atPath: database.path) {
            let stamp = RunID.timestamp(Date()) + String(format: "%02d", Calendar(identifier: .gregorian).component(.second, from: Date()))
            var target = root.appendingPathComponent("strata.sqlite.broken-\(stamp)")
            var n = 1
            while fm.fileExists(atPath: target.path) {
                target = root.appendingPathComponent("strata.sqlite.broken-\(stamp)-\(n)")
                n += 1
            }
            for suffix in ["", "-wal", "-shm", "-journal"] where fm.fileExists(atPath: database.path + suffix) {
                do { try fm.moveItem(atPath: database.path + suffix, toPath: target.path + suffix) } catch {
                    throw RunStoreError.fileSystem(path: database.path + suffix, message: "cannot move the damaged store aside: \(error.localizedDescription)")
                }
            }
            backup = target
        }
        let store = try RunStore(root: root, checkingRunDirectories: false)
        var report = RepairReport(backup: backup, recovered: [], skipped: [])
        for directory in directories {
            do {
                if let run = try store.recover(directory: directory) { report.recovered.append(run) }
                else { report.skipped.append((directory.lastPathComponent, "no spec.json and config.json (a comparison, or not a run)")) }
            } catch {
                report.skipped.append((directory.lastPathComponent, "\(error)"))
            }
        }
        return report
    }

    /// Writes the row of the run in `directory`; nil when the directory has no spec and config to recover from.
    private func recover(directory: URL) throws -> RecoveredRun? {
        let specURL = directory.appendingPathComponent("spec.json"), configURL = directory.appendingPathComponent("config.json")
        guard let specData = FileManager.default.contents(atPath: specURL.path),
              let configData = FileManager.default.contents(atPath: configURL.path) else { return nil }
        let id = directory.lastPathComponent
        guard case .object(let spec) = try JSONValue.parse(specData) else {
            throw RunStoreError.fileSystem(path: specURL.path, message: "not a JSON object")
        }
        guard case .object(let config) = try JSONValue.parse(configData) else {
            throw RunStoreError.fileSystem(path: configURL.path, message: "not a JSON object")
        }
        // Train configs carry the corpus (`data`); task configs do not.
        let kind: RunKind = config["data"] != nil ? .train : .task
        var name = id
        if case .string(let n)? = spec["name"] { name = n }
        var seed: UInt64 = 0
        if case .number(let s)? = config["seed"], s >= 0, s < 1.8e19 { seed = UInt64(s) }
        var summary: [String: Double] = ["recovered_by_repair": 1]
        var status = RunStatus.interrupted, step: Int?, parameters = 0
        let checkpoint = directory.appendingPathComponent("checkpoints/latest.safetensors")
        if FileManager.default.fileExists(atPath: checkpoint.path) {
            let file = try SafeTensorsFile(url: checkpoint)
            let meta = file.metadata
            guard let s = meta["step"].flatMap({ Int($0) }), let planned = meta["planned_steps"].flatMap({ Int($0) }) else {
                throw CheckpointError(file: checkpoint.path, message: "step or planned_steps missing from the metadata")
            }
            step = s
            status = s >= planned ? .finished : .interrupted
            summary["steps"] = Double(s)
            summary["planned_steps"] = Double(planned)
            if let t = meta["tokens_seen"].flatMap({ Double($0) }) { summary["tokens_seen"] = t }
            if let e = meta["elapsed_s"].flatMap({ Double($0) }) { summary["elapsed_s"] = e }
            parameters = file.infos.filter { $0.name.hasPrefix("model.") }.reduce(0) { $0 + $1.count }
        }
        let created = RunStore.creationDate(id: id, directory: directory)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let summaryJSON = String(decoding: try encoder.encode(summary), as: UTF8.self)
        try dbWrite { db in
            try db.execute(sql: """
                INSERT INTO runs (id, name, kind, spec_json, config_json, created_at, updated_at, status,
                                  directory, parameter_count, seed, threads, summary_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
                """, arguments: [id, name, kind.rawValue, String(decoding: specData, as: UTF8.self),
                                 String(decoding: configData, as: UTF8.self), created, Date(), status.rawValue, id,
                                 parameters, Int64(bitPattern: seed), summaryJSON])
        }
        return RecoveredRun(id: id, kind: kind, status: status, step: step)
    }

    /// The start time an id carries (`yyyyMMdd-HHmm-…`, UTC), else the directory's creation date.
    static func creationDate(id: String, directory: URL) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmm"
        if id.count >= 13, let date = formatter.date(from: String(id.prefix(13))) { return date }
        let attributes = try? FileManager.default.attributesOfItem(atPath: directory.path)
        return (attributes?[.creationDate] as? Date) ?? (attributes?[.modificationDate] as? Date) ?? Date()
    }
}
