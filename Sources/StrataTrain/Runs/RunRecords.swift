import Foundation
import GRDB
import StrataModels

/// What produced a run: a training job, a comparison grouping other runs, or a synthetic-task job.
public enum RunKind: String, Sendable, CaseIterable, Codable {
    case train, compare, task
}

/// Life-cycle state of a run; `running` rows left behind by a crash are what `interrupted` is for.
public enum RunStatus: String, Sendable, CaseIterable, Codable {
    case running, finished, failed, interrupted
}

/// One row of the `runs` table, with its directory resolved against the store root.
public struct RunRecord: Sendable, Equatable {
    /// Sortable id: `yyyyMMdd-HHmm-<name slug>-<4 hex>` (UTC), e.g. `20261202-0335-bench-char-3f2a`.
    public var id: String
    /// The name the user gave (free text; the id carries a slug of it).
    public var name: String
    /// Kind of job.
    public var kind: RunKind
    /// The model spec exactly as written (JSON text).
    public var specJSON: String
    /// The training / compare configuration (JSON text).
    public var configJSON: String
    /// When the run was created.
    public var createdAt: Date
    /// Last time any row of this run was written.
    public var updatedAt: Date
    /// Current state.
    public var status: RunStatus
    /// The run directory (spec, `checkpoints/`, samples).
    public var directory: URL
    /// Number of trainable scalars in the model.
    public var parameterCount: Int
    /// The seed the run's `RNG` started from.
    public var seed: UInt64
    /// Thread count the run used (results do not depend on it; speed does).
    public var threads: Int
    /// Final summary written by `finish` (JSON text), nil while running.
    public var summaryJSON: String?

    /// The run's checkpoint directory, `<directory>/checkpoints`.
    public var checkpointsDirectory: URL { directory.appendingPathComponent("checkpoints", isDirectory: true) }

    /// Decodes `summaryJSON` into `type`; nil when there is no summary.
    public func summary<T: Decodable>(as type: T.Type) throws -> T? {
        guard let text = summaryJSON else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// Numeric top-level fields of the summary (e.g. `tokens_per_s`), ignoring everything else.
    public var summaryNumbers: [String: Double] {
        guard let text = summaryJSON, case .object(let object)? = (try? JSONValue.parse(Data(text.utf8))) else { return [:] }
        var numbers: [String: Double] = [:]
        for (key, value) in object {
            if case .number(let number) = value { numbers[key] = number }
        }
        return numbers
    }
}

/// One logged scalar of a run at a step (train loss, learning rate, tokens/s, ...).
public struct MetricPoint: Sendable, Equatable {
    /// Optimizer step.
    public var step: Int
    /// Value at that step.
    public var value: Double
    /// Memberwise initializer.
    public init(step: Int, value: Double) {
        self.step = step
        self.value = value
    }
}

/// One evaluation pass over a data split.
public struct EvaluationRecord: Sendable, Equatable {
    /// Optimizer step at which the model was evaluated.
    public var step: Int
    /// Data split, e.g. "val" or "train".
    public var split: String
    /// Mean cross-entropy in nats per token.
    public var loss: Double
    /// Bits per byte of the evaluated text, when the tokenizer knows byte counts.
    public var bpb: Double?
    /// Training tokens consumed before this evaluation.
    public var tokensSeen: Int
    /// Wall-clock seconds since the run started.
    public var elapsedSeconds: Double
    /// Held-out accuracy (capability tasks: exact match per scored position), when the evaluation has one.
    public var accuracy: Double?
    /// Memberwise initializer.
    public init(step: Int, split: String, loss: Double, bpb: Double?, tokensSeen: Int, elapsedSeconds: Double,
                accuracy: Double? = nil) {
        self.accuracy = accuracy
        self.step = step
        self.split = split
        self.loss = loss
        self.bpb = bpb
        self.tokensSeen = tokensSeen
        self.elapsedSeconds = elapsedSeconds
    }
}

/// One per-layer statistic (activation norm, attention entropy, ...) at a step.
public struct ProbeRecord: Sendable, Equatable {
    /// Optimizer step.
    public var step: Int
    /// Layer index (0-based; the embedding or head may use -1 / L by convention of the probe).
    public var layer: Int
    /// Probe name, e.g. "residual_rms".
    public var name: String
    /// Measured value.
    public var value: Double
    /// Memberwise initializer.
    public init(step: Int, layer: Int, name: String, value: Double) {
        self.step = step
        self.layer = layer
        self.name = name
        self.value = value
    }
}

/// A run's membership in a comparison (a run of kind `compare`).
public struct ComparisonMember: Sendable, Equatable {
    /// The comparison's run id.
    public var compareID: String
    /// The member run's id.
    public var runID: String
    /// Label shown in tables and legends (e.g. the config file name).
    public var label: String
    /// Seed of this member (comparisons may repeat one config over seeds).
    public var seed: UInt64
    /// Memberwise initializer.
    public init(compareID: String, runID: String, label: String, seed: UInt64) {
        self.compareID = compareID
        self.runID = runID
        self.label = label
        self.seed = seed
    }
}

/// Metric names shared by the trainer (which logs them) and the report (which plots them).
public enum RunMetric {
    /// Training loss of one step (nats per token).
    public static let trainLoss = "train_loss"
    /// Learning rate used at a step.
    public static let learningRate = "lr"
    /// Training throughput.
    public static let tokensPerSecond = "tokens_per_s"
    /// Peak resident memory in bytes.
    public static let peakMemoryBytes = "peak_memory_bytes"
    /// Global gradient norm before clipping.
    public static let gradNorm = "grad_norm"
}

/// Failures of the run store that users can act on; each names the database or run at fault.
public enum RunStoreError: Error, CustomStringConvertible, LocalizedError {
    /// No run id starts with the given prefix.
    case unknownRun(prefix: String, database: String, recent: [String])
    /// Several run ids start with the given prefix.
    case ambiguousRun(prefix: String, candidates: [String])
    /// A row holds a value this version cannot read (e.g. an unknown status).
    case corruptRow(table: String, column: String, value: String, valid: [String])
    /// The runs directory or a run directory could not be created or removed.
    case fileSystem(path: String, message: String)
    /// A process still holds the run's lock (it is training it), so it cannot be resumed or removed.
    case runIsLive(runID: String, holder: String, action: String)
    /// The database file is empty, missing next to run directories, or not a readable SQLite database.
    case damaged(path: String, message: String)
    /// The database refused an operation (read-only, disk full, locked); the message names the cause, not the SQL.
    case database(path: String, message: String)

    /// A one-line message for users.
    public var description: String {
        switch self {
        case let .unknownRun(prefix, database, recent):
            let hint = recent.isEmpty ? "the store is empty" : "recent runs: " + recent.joined(separator: ", ")
            return "no run id starts with '\(prefix)' in \(database) (\(hint))"
        case let .ambiguousRun(prefix, candidates):
            return "run id prefix '\(prefix)' is ambiguous; it matches: " + candidates.joined(separator: ", ")
                + " (type more characters)"
        case let .corruptRow(table, column, value, valid):
            return "\(table).\(column) holds '\(value)'; valid values: " + valid.joined(separator: ", ")
        case let .fileSystem(path, message), let .damaged(path, message), let .database(path, message):
            return "\(path): \(message)"
        case let .runIsLive(runID, holder, action):
            return "run \(runID) is still being trained (\(holder)); \(action)"
        }
    }

    /// Same as `description`, so Foundation's `localizedDescription` carries the details.
    public var errorDescription: String? { description }
}

extension RunRecord {
    /// Reads a `runs` row; `root` resolves a relative `directory` column.
    init(row: Row, root: URL) throws {
        let kindText: String = row["kind"]
        let statusText: String = row["status"]
        guard let kind = RunKind(rawValue: kindText) else {
            throw RunStoreError.corruptRow(table: "runs", column: "kind", value: kindText,
                                           valid: RunKind.allCases.map(\.rawValue))
        }
        guard let status = RunStatus(rawValue: statusText) else {
            throw RunStoreError.corruptRow(table: "runs", column: "status", value: statusText,
                                           valid: RunStatus.allCases.map(\.rawValue))
        }
        let directoryText: String = row["directory"]
        let seedBits: Int64 = row["seed"]
        self.init(
            id: row["id"], name: row["name"], kind: kind, specJSON: row["spec_json"],
            configJSON: row["config_json"], createdAt: row["created_at"], updatedAt: row["updated_at"],
            status: status,
            directory: directoryText.hasPrefix("/")
                ? URL(fileURLWithPath: directoryText, isDirectory: true)
                : root.appendingPathComponent(directoryText, isDirectory: true),
            parameterCount: row["parameter_count"], seed: UInt64(bitPattern: seedBits),
            threads: row["threads"], summaryJSON: row["summary_json"])
    }
}
