import Foundation
import GRDB
import Synchronization

/// The run store: one SQLite database `<root>/strata.sqlite` plus one directory per run.
///
/// Rows (runs, metrics, evaluations, probes, comparisons) make many runs listable and comparable;
/// directories hold what is too big for rows (spec copies, checkpoints, samples). Access goes through
/// one serial `DatabaseQueue`, which is all a single training process needs and is safe to share
/// between tasks; a busy timeout lets `strata runs` read while a training process writes.
public final class RunStore: Sendable {
    /// Directory holding the database and the run directories.
    public let root: URL
    /// Path of the SQLite database file.
    public let databaseURL: URL
    private let queue: DatabaseQueue
    /// Locks of the runs this process created or resumed through this store, by run id (see `RunLock`).
    let locks = Mutex<[String: RunLock]>([:])

    /// Environment variable that overrides the default root `./runs`.
    public static let rootEnvironmentKey = "STRATA_RUNS"

    /// The root used when none is passed: `$STRATA_RUNS` if set and non-empty, else `./runs`.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let path = environment[rootEnvironmentKey], !path.isEmpty {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        return URL(fileURLWithPath: "runs", isDirectory: true)
    }

    /// Opens (creating if needed) the store at `root`, or at `defaultRoot()` when nil, and migrates it.
    ///
    /// A store file that is missing or empty while run directories exist is an error, not a new empty store:
    /// opening it would hide every run. So is a file SQLite cannot read. Both name `strata runs repair`.
    public convenience init(root: URL? = nil) throws {
        try self.init(root: root, checkingRunDirectories: true)
    }

    init(root: URL?, checkingRunDirectories: Bool) throws {
        let root = (root ?? RunStore.defaultRoot()).standardizedFileURL
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            throw RunStoreError.fileSystem(path: root.path, message: "cannot create the runs directory: \(error.localizedDescription)")
        }
        self.root = root
        self.databaseURL = root.appendingPathComponent("strata.sqlite")
        if checkingRunDirectories { try RunStore.refuseHiddenRuns(root: root, database: databaseURL) }
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(10)
        configuration.label = "strata.runs"
        do {
            queue = try DatabaseQueue(path: databaseURL.path, configuration: configuration)
            try RunStore.migrate(queue)
            // A truncated file can open and even migrate; reading every page is what finds the damage.
            let check = try queue.read { try String.fetchOne($0, sql: "PRAGMA quick_check") }
            if check != "ok" { throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: check ?? "quick_check failed") }
        } catch {
            throw RunStore.storeError(error, path: databaseURL.path, root: root)
        }
    }

    /// Run directories under `root`: folders holding a `spec.json`, a `config.json` or a `checkpoints` folder.
    static func runDirectories(in root: URL) -> [URL] {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { root.appendingPathComponent($0, isDirectory: true) }
            .filter { dir in ["spec.json", "config.json", "checkpoints"].contains { fm.fileExists(atPath: dir.appendingPathComponent($0).path) } }
    }

    private static func refuseHiddenRuns(root: URL, database: URL) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: database.path)[.size] as? NSNumber)?.intValue
        guard size == nil || size == 0 else { return }
        let directories = runDirectories(in: root)
        guard !directories.isEmpty else { return }
        let state = size == nil ? "does not exist" : "is empty (0 bytes)"
        throw RunStoreError.damaged(path: database.path, message: "the run store \(state) but \(root.path) holds \(directories.count) "
            + "run director\(directories.count == 1 ? "y" : "ies"); rebuild it from them with `strata runs repair --runs \(root.path)`")
    }

    /// A database failure in words for users: what is wrong with the file and what to do, never the SQL text.
    package static func storeError(_ error: Error, path: String, root: URL) -> Error {
        guard let e = error as? DatabaseError else { return error }
        let detail = e.message ?? "\(e.resultCode)"
        switch e.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return RunStoreError.damaged(path: path, message: "the run store is damaged (\(detail)); rebuild it from the run "
                + "directories with `strata runs repair --runs \(root.path)` (the damaged file is kept as a backup)")
        case .SQLITE_READONLY:
            return RunStoreError.database(path: path, message: "the run store is read-only (\(detail)); make the file and its "
                + "directory writable, or use another store with --runs DIR or STRATA_RUNS")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return RunStoreError.database(path: path, message: "cannot open the run store (\(detail)); check that the file and "
                + "its directory are readable and writable, or use another store with --runs DIR")
        case .SQLITE_FULL:
            return RunStoreError.database(path: path, message: "the disk holding the run store is full (\(detail))")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return RunStoreError.database(path: path, message: "the run store stayed locked by another process for 10 s (\(detail)); try again")
        case .SQLITE_IOERR:
            return RunStoreError.database(path: path, message: "input/output error on the run store (\(detail)); is the disk full or gone?")
        default:
            return RunStoreError.database(path: path, message: "the run store failed: \(detail)")
        }
    }

    /// A write transaction whose database errors are turned into `storeError`s.
    func dbWrite<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try queue.write(body) } catch { throw RunStore.storeError(error, path: databaseURL.path, root: root) }
    }

    /// A read transaction whose database errors are turned into `storeError`s.
    func dbRead<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try queue.read(body) } catch { throw RunStore.storeError(error, path: databaseURL.path, root: root) }
    }

    /// Two processes opening a new store at the same moment can both find it unmigrated; the second one's
    /// `CREATE TABLE` then fails once the first has committed. A retry re-reads the applied migrations and
    /// finds nothing left to do, so a few attempts make concurrent first opens safe.
    private static func migrate(_ queue: DatabaseQueue) throws {
        var attempt = 0
        while true {
            do {
                try RunStoreSchema.migrator.migrate(queue)
                return
            } catch {
                attempt += 1
                if attempt >= 4 { throw error }
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }

    // MARK: Runs

    /// Creates a `running` run row and its directory `<root>/<id>/checkpoints/`, and takes the run's lock for
    /// this process until `finish` (or the process ends): `strata runs list` tells a live run from a dead one by it.
    public func createRun(
        name: String, kind: RunKind, specJSON: String, configJSON: String,
        parameterCount: Int, seed: UInt64, threads: Int
    ) throws -> RunRecord {
        let now = Date()
        var generator = SystemRandomNumberGenerator()
        let (record, lock): (RunRecord, RunLock) = try dbWrite { db in
            // Four hex digits keep ids short; collisions need the same minute and name, so retry.
            var id = RunID.make(name: name, date: now, using: &generator)
            while try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM runs WHERE id = ?)", arguments: [id]) == true {
                id = RunID.make(name: name, date: now, using: &generator)
            }
            let directory = root.appendingPathComponent(id, isDirectory: true)
            try db.execute(sql: """
                INSERT INTO runs (id, name, kind, spec_json, config_json, created_at, updated_at, status,
                                  directory, parameter_count, seed, threads, summary_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
                """, arguments: [id, name, kind.rawValue, specJSON, configJSON, now, now,
                                 RunStatus.running.rawValue, id, parameterCount, Int64(bitPattern: seed), threads])
            // Inside the transaction: if the directory cannot be made, the row is rolled back too.
            let checkpoints = directory.appendingPathComponent("checkpoints", isDirectory: true)
            do {
                try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
            } catch {
                throw RunStoreError.fileSystem(path: checkpoints.path, message: "cannot create the run directory: \(error.localizedDescription)")
            }
            // Taken before the row commits, so no reader ever sees this run `running` without its lock.
            guard case .success(let lock) = try RunLock.acquire(directory: directory) else {
                throw RunStoreError.fileSystem(path: directory.path, message: "a new run's lock is held by another process")
            }
            return (RunRecord(
                id: id, name: name, kind: kind, specJSON: specJSON, configJSON: configJSON, createdAt: now,
                updatedAt: now, status: .running, directory: directory, parameterCount: parameterCount,
                seed: seed, threads: threads, summaryJSON: nil), lock)
        }
        locks.withLock { $0[record.id] = lock }
        return record
    }

    /// Sets a run's final status and summary (any `Encodable`, stored as sorted-key JSON), and releases the
    /// run's lock if this store holds it.
    public func finish(runID: String, status: RunStatus, summary: (any Encodable)? = nil) throws {
        var summaryJSON: String?
        if let summary {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(
                positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            summaryJSON = String(decoding: try encoder.encode(summary), as: UTF8.self)
        }
        try dbWrite { db in
            try db.execute(
                sql: "UPDATE runs SET status = ?, summary_json = COALESCE(?, summary_json), updated_at = ? WHERE id = ?",
                arguments: [status.rawValue, summaryJSON, Date(), runID])
            if db.changesCount == 0 { throw unknownRun(runID, db) }
        }
        releaseLock(runID: runID)
    }

    /// The most recent runs first (by creation time), optionally of one kind and/or status, at most
    /// `limit` of them (nil: all).
    public func runs(limit: Int? = nil, kind: RunKind? = nil, status: RunStatus? = nil) throws -> [RunRecord] {
        try dbRead { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM runs WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR status = ?2)
                ORDER BY created_at DESC, rowid DESC LIMIT ?3
                """, arguments: [kind?.rawValue, status?.rawValue, limit ?? -1])
            return try rows.map { try RunRecord(row: $0, root: root) }
        }
    }

    /// The run whose id is `id` or uniquely starts with it; throws listing candidates otherwise.
    public func run(id: String) throws -> RunRecord {
        try dbRead { db in
            // An empty prefix would match every run; refuse it rather than pick one.
            if id.isEmpty { throw unknownRun(id, db) }
            if let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]) {
                return try RunRecord(row: row, root: root)
            }
            // substr() instead of LIKE: ids may contain '_' or '%', which LIKE treats as wildcards.
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM runs WHERE substr(id, 1, ?) = ? ORDER BY created_at DESC, rowid DESC LIMIT 21",
                arguments: [id.utf8.count, id])
            switch rows.count {
            case 0: throw unknownRun(id, db)
            case 1: return try RunRecord(row: rows[0], root: root)
            default:
                var candidates = rows.prefix(20).map { $0["id"] as String }
                if rows.count > 20 { candidates.append("…") }
                throw RunStoreError.ambiguousRun(prefix: id, candidates: candidates)
            }
        }
    }

    /// Deletes a run's rows (all tables, one transaction) and its directory; refuses a run that another
    /// process is still training (its lock is held).
    ///
    /// The directory is first renamed aside inside the transaction, so a failure at any point leaves
    /// either the whole run or nothing visible; the renamed copy is deleted after the commit.
    public func remove(runID: String) throws {
        let fileManager = FileManager.default
        let trash = root.appendingPathComponent(".removing-\(runID)", isDirectory: true)
        let movedAside: Bool = try dbWrite { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [runID]) else {
                throw unknownRun(runID, db)
            }
            let record = try RunRecord(row: row, root: root)
            if record.status == .running, locks.withLock({ $0[runID] == nil }),
               case .live(let holder) = RunLock.liveness(directory: record.directory) {
                throw RunStoreError.runIsLive(runID: runID, holder: holder?.text ?? "its lock is held",
                                              action: "stop it first (Ctrl-C, or kill its process), then remove it")
            }
            try db.execute(sql: "DELETE FROM runs WHERE id = ?", arguments: [runID])
            guard fileManager.fileExists(atPath: record.directory.path) else { return false }
            do {
                if fileManager.fileExists(atPath: trash.path) { try fileManager.removeItem(at: trash) }
                try fileManager.moveItem(at: record.directory, to: trash)
            } catch {
                throw RunStoreError.fileSystem(path: record.directory.path, message: "cannot remove the run directory: \(error)")
            }
            return true
        }
        releaseLock(runID: runID)
        if movedAside {
            do { try fileManager.removeItem(at: trash) } catch {
                throw RunStoreError.fileSystem(path: trash.path, message: "run rows removed but its directory was not: \(error)")
            }
        }
    }

    // MARK: Helpers shared with RunStore+Rows

    /// Runs a write transaction and turns a foreign-key failure into "unknown run" naming `runID`.
    func write(runID: String, _ body: (Database) throws -> Void) throws {
        try dbWrite { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM runs WHERE id = ?)", arguments: [runID]) == true
            else { throw unknownRun(runID, db) }
            try body(db)
            try db.execute(sql: "UPDATE runs SET updated_at = ? WHERE id = ?", arguments: [Date(), runID])
        }
    }

    /// Runs a read-only transaction.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try dbRead(body)
    }

    /// The "unknown run" error, listing the most recent ids so the user can pick one.
    func unknownRun(_ prefix: String, _ db: Database) -> RunStoreError {
        let recent = (try? String.fetchAll(db, sql: "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 5")) ?? []
        return .unknownRun(prefix: prefix, database: databaseURL.path, recent: recent)
    }
}
