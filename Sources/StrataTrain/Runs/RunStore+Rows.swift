import Foundation
import GRDB

/// Logging and querying the per-step rows of a run.
///
/// SQLite stores a NaN double as NULL, so NULL reads back as NaN: a diverged loss stays visible as
/// NaN instead of disappearing from the curve.
extension RunStore {
    /// Logs scalar metrics of one step (e.g. `[RunMetric.trainLoss: 2.31, RunMetric.learningRate: 3e-4]`).
    public func logMetrics(runID: String, step: Int, _ values: [String: Double]) throws {
        try write(runID: runID) { db in
            // Sorted so the insertion order (and rowids) do not depend on dictionary hashing.
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                try db.execute(sql: "INSERT INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)",
                               arguments: [runID, step, name, value])
            }
        }
    }

    /// Logs one evaluation pass over `split` at `step`.
    public func logEvaluation(
        runID: String, step: Int, split: String, loss: Double, bpb: Double?, tokensSeen: Int, elapsedSeconds: Double,
        accuracy: Double? = nil
    ) throws {
        try write(runID: runID) { db in
            try db.execute(sql: """
                INSERT INTO evaluations (run_id, step, split, loss, bpb, tokens_seen, elapsed_s, accuracy)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [runID, step, split, loss, bpb, tokensSeen, elapsedSeconds, accuracy])
        }
    }

    /// Logs per-layer probe values measured at `step`.
    public func logProbes(runID: String, step: Int, _ rows: [(layer: Int, name: String, value: Double)]) throws {
        try write(runID: runID) { db in
            for row in rows {
                try db.execute(sql: "INSERT INTO probes (run_id, step, layer, name, value) VALUES (?, ?, ?, ?, ?)",
                               arguments: [runID, step, row.layer, row.name, row.value])
            }
        }
    }

    /// Adds `runID` to the comparison `compareID` (itself a run, usually of kind `compare`).
    public func addToComparison(compareID: String, runID: String, label: String, seed: UInt64) throws {
        try write(runID: compareID) { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM runs WHERE id = ?)", arguments: [runID]) == true
            else { throw unknownRun(runID, db) }
            try db.execute(sql: """
                INSERT OR REPLACE INTO comparisons (compare_id, run_id, label, seed) VALUES (?, ?, ?, ?)
                """, arguments: [compareID, runID, label, Int64(bitPattern: seed)])
        }
    }

    /// The values of metric `name` for a run, by step (insertion order among equal steps).
    public func metrics(runID: String, name: String) throws -> [MetricPoint] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT step, value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step, rowid",
                             arguments: [runID, name])
                .map { MetricPoint(step: $0["step"], value: $0["value"] ?? .nan) }
        }
    }

    /// The distinct metric names logged for a run, sorted.
    public func metricNames(runID: String) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT name FROM metrics WHERE run_id = ? ORDER BY name",
                                arguments: [runID])
        }
    }

    /// All evaluations of a run, by step then split.
    public func evaluations(runID: String) throws -> [EvaluationRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM evaluations WHERE run_id = ? ORDER BY step, split, rowid",
                             arguments: [runID])
                .map {
                    EvaluationRecord(step: $0["step"], split: $0["split"], loss: $0["loss"] ?? .nan, bpb: $0["bpb"],
                                     tokensSeen: $0["tokens_seen"], elapsedSeconds: $0["elapsed_s"], accuracy: $0["accuracy"])
                }
        }
    }

    /// All probe rows of a run, by step, name, then layer.
    public func probes(runID: String) throws -> [ProbeRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM probes WHERE run_id = ? ORDER BY step, name, layer, rowid",
                             arguments: [runID])
                .map { ProbeRecord(step: $0["step"], layer: $0["layer"], name: $0["name"], value: $0["value"] ?? .nan) }
        }
    }

    /// The members of comparison `compareID`, in the order they were added.
    public func comparison(compareID: String) throws -> [ComparisonMember] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM comparisons WHERE compare_id = ? ORDER BY rowid",
                             arguments: [compareID])
                .map {
                    ComparisonMember(compareID: $0["compare_id"], runID: $0["run_id"], label: $0["label"],
                                     seed: UInt64(bitPattern: $0["seed"] as Int64))
                }
        }
    }
}
