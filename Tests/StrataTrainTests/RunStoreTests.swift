import Foundation
import GRDB
import StrataTrain
import XCTest

/// A fresh temporary directory, removed at the end of the test.
private func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("strata-store-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

private struct Summary: Codable, Equatable {
    var finalLoss: Double
    var tokens_per_s: Double
}

final class RunStoreTests: XCTestCase {
    private func makeRun(_ store: RunStore, _ name: String, kind: RunKind = .train, seed: UInt64 = 7) throws -> RunRecord {
        try store.createRun(name: name, kind: kind, specJSON: #"{"dim":64}"#, configJSON: #"{"steps":10}"#,
                            parameterCount: 1234, seed: seed, threads: 2)
    }

    func testCreateLogQueryFinishRemoveRoundTrip() throws {
        let root = try temporaryDirectory(self)
        let store = try RunStore(root: root)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("strata.sqlite").path))

        // A seed above Int64.max must survive SQLite's signed integers.
        let run = try makeRun(store, "Bench Char!", seed: UInt64.max - 3)
        XCTAssertTrue(run.id.range(of: #"^\d{8}-\d{4}-bench-char-[0-9a-f]{4}$"#, options: .regularExpression) != nil, run.id)
        XCTAssertEqual(run.status, .running)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.checkpointsDirectory.path, isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)

        try store.logMetrics(runID: run.id, step: 1, [RunMetric.trainLoss: 3.5, RunMetric.learningRate: 1e-4])
        try store.logMetrics(runID: run.id, step: 2, [RunMetric.trainLoss: 3.0, RunMetric.learningRate: 2e-4])
        try store.logMetrics(runID: run.id, step: 3, [RunMetric.trainLoss: .nan])
        try store.logEvaluation(runID: run.id, step: 2, split: "val", loss: 3.2, bpb: 4.6, tokensSeen: 4096,
                                elapsedSeconds: 1.5)
        try store.logEvaluation(runID: run.id, step: 2, split: "train", loss: 3.1, bpb: nil, tokensSeen: 4096,
                                elapsedSeconds: 1.5)
        try store.logProbes(runID: run.id, step: 2, [(layer: 1, name: "rms", value: 0.5), (layer: 0, name: "rms", value: 0.25)])

        let losses = try store.metrics(runID: run.id, name: RunMetric.trainLoss)
        XCTAssertEqual(losses.map(\.step), [1, 2, 3])
        XCTAssertEqual(Array(losses.map(\.value).prefix(2)), [3.5, 3.0])
        XCTAssertTrue(losses[2].value.isNaN, "a NaN loss must read back as NaN, not vanish")
        XCTAssertEqual(try store.metrics(runID: run.id, name: RunMetric.learningRate).map(\.value), [1e-4, 2e-4])
        XCTAssertEqual(try store.metricNames(runID: run.id), [RunMetric.learningRate, RunMetric.trainLoss])
        XCTAssertEqual(try store.evaluations(runID: run.id), [
            EvaluationRecord(step: 2, split: "train", loss: 3.1, bpb: nil, tokensSeen: 4096, elapsedSeconds: 1.5),
            EvaluationRecord(step: 2, split: "val", loss: 3.2, bpb: 4.6, tokensSeen: 4096, elapsedSeconds: 1.5),
        ])
        XCTAssertEqual(try store.probes(runID: run.id), [
            ProbeRecord(step: 2, layer: 0, name: "rms", value: 0.25), ProbeRecord(step: 2, layer: 1, name: "rms", value: 0.5),
        ])

        try store.finish(runID: run.id, status: .finished, summary: Summary(finalLoss: 3.0, tokens_per_s: 5120))
        let finished = try store.run(id: run.id)
        XCTAssertEqual(finished.status, .finished)
        XCTAssertEqual(finished.seed, UInt64.max - 3)
        XCTAssertEqual(finished.name, "Bench Char!")
        XCTAssertEqual(finished.kind, .train)
        XCTAssertEqual(finished.parameterCount, 1234)
        XCTAssertEqual(finished.threads, 2)
        XCTAssertEqual(finished.specJSON, #"{"dim":64}"#)
        XCTAssertEqual(finished.directory.standardizedFileURL, run.directory.standardizedFileURL)
        XCTAssertGreaterThanOrEqual(finished.updatedAt, finished.createdAt)
        XCTAssertEqual(try finished.summary(as: Summary.self), Summary(finalLoss: 3.0, tokens_per_s: 5120))
        XCTAssertEqual(finished.summaryNumbers["tokens_per_s"], 5120)

        let other = try makeRun(store, "other")
        XCTAssertEqual(try store.runs().map(\.id), [other.id, run.id], "newest first")
        XCTAssertEqual(try store.runs(limit: 1).map(\.id), [other.id])
        XCTAssertEqual(try store.runs(status: .finished).map(\.id), [run.id])
        XCTAssertEqual(try store.runs(kind: .train, status: .running).map(\.id), [other.id])
        XCTAssertEqual(try store.runs(kind: .compare), [])

        try store.remove(runID: run.id)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run.directory.path))
        XCTAssertEqual(try store.runs().map(\.id), [other.id])
        XCTAssertEqual(try store.metrics(runID: run.id, name: RunMetric.trainLoss), [], "child rows cascade")
        XCTAssertEqual(try store.evaluations(runID: run.id), [])
        XCTAssertEqual(try store.probes(runID: run.id), [])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix(".removing") }
        XCTAssertEqual(leftovers, [])
        XCTAssertThrowsError(try store.remove(runID: run.id))
    }

    func testUnknownRunsAreRefusedWithTheirID() throws {
        let store = try RunStore(root: try temporaryDirectory(self))
        XCTAssertThrowsError(try store.logMetrics(runID: "nope", step: 1, ["x": 1])) { error in
            XCTAssertTrue("\(error)".contains("'nope'"), "\(error)")
        }
        XCTAssertThrowsError(try store.finish(runID: "nope", status: .failed))
        XCTAssertThrowsError(try store.logEvaluation(runID: "nope", step: 0, split: "val", loss: 1, bpb: nil,
                                                     tokensSeen: 0, elapsedSeconds: 0))
    }

    func testReopeningMigratesOnceAndKeepsRows() throws {
        let root = try temporaryDirectory(self)
        let id = try makeRun(try RunStore(root: root), "persist").id
        let reopened = try RunStore(root: root)  // the migrator must skip the applied migration
        XCTAssertEqual(try reopened.runs().map(\.id), [id])
        try reopened.logMetrics(runID: id, step: 5, ["loss": 1.25])
        let third = try RunStore(root: root)
        XCTAssertEqual(try third.metrics(runID: id, name: "loss"), [MetricPoint(step: 5, value: 1.25)])
    }

    /// A store written before the accuracy column existed (v1 only) gains it on open and keeps its rows.
    func testOpeningAVersion1StoreAddsTheAccuracyColumn() throws {
        let root = try temporaryDirectory(self)
        let id = try makeRun(try RunStore(root: root), "old").id
        // Turn the file back into a v1 store: no accuracy column, v2 not recorded as applied.
        let queue = try DatabaseQueue(path: root.appendingPathComponent("strata.sqlite").path)
        try queue.write { db in
            try db.execute(sql: "ALTER TABLE evaluations DROP COLUMN accuracy")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier LIKE 'v2:%'")
            try db.execute(sql: """
                INSERT INTO evaluations (run_id, step, split, loss, bpb, tokens_seen, elapsed_s)
                VALUES (?, 3, 'val', 2.5, 3.5, 100, 1.0)
                """, arguments: [id])
        }
        try queue.close()
        let reopened = try RunStore(root: root)
        try reopened.logEvaluation(runID: id, step: 4, split: "test", loss: 0.5, bpb: nil, tokensSeen: 200,
                                   elapsedSeconds: 2, accuracy: 0.75)
        let rows = try reopened.evaluations(runID: id)
        XCTAssertEqual(rows.map(\.split), ["val", "test"])
        XCTAssertEqual(rows.map(\.accuracy), [nil, 0.75])
    }

    func testPrefixLookupAndItsErrors() throws {
        let store = try RunStore(root: try temporaryDirectory(self))
        let alpha = try makeRun(store, "alpha")
        let alpine = try makeRun(store, "alpine")
        let common = zip(alpha.id, alpine.id).prefix { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(common, 17, "same minute and 'alp' slug prefix")

        XCTAssertEqual(try store.run(id: String(alpha.id.prefix(common + 1))).id, alpha.id)
        XCTAssertEqual(try store.run(id: String(alpine.id.prefix(common + 1))).id, alpine.id)
        XCTAssertEqual(try store.run(id: alpha.id).id, alpha.id)

        XCTAssertThrowsError(try store.run(id: String(alpha.id.prefix(common)))) { error in
            guard case let RunStoreError.ambiguousRun(_, candidates) = error else {
                return XCTFail("expected ambiguousRun, got \(error)")
            }
            XCTAssertEqual(Set(candidates), [alpha.id, alpine.id])
            XCTAssertTrue("\(error)".contains(alpha.id) && "\(error)".contains("ambiguous"))
        }
        XCTAssertThrowsError(try store.run(id: "1999")) { error in
            guard case RunStoreError.unknownRun = error else { return XCTFail("expected unknownRun, got \(error)") }
            let message = "\(error)"
            XCTAssertTrue(message.contains("'1999'") && message.contains("strata.sqlite") && message.contains(alpine.id),
                          message)
        }
        XCTAssertThrowsError(try store.run(id: ""), "an empty prefix must not pick a run")
    }

    func testComparisonsGroupRunsAndCascade() throws {
        let store = try RunStore(root: try temporaryDirectory(self))
        let compare = try makeRun(store, "a-vs-b", kind: .compare)
        let a = try makeRun(store, "a", seed: 1)
        let b = try makeRun(store, "b", seed: 2)
        try store.addToComparison(compareID: compare.id, runID: a.id, label: "a.json", seed: 1)
        try store.addToComparison(compareID: compare.id, runID: b.id, label: "b.json", seed: 2)
        XCTAssertEqual(try store.comparison(compareID: compare.id).map(\.label), ["a.json", "b.json"])
        XCTAssertThrowsError(try store.addToComparison(compareID: compare.id, runID: "missing", label: "x", seed: 0))

        try store.remove(runID: a.id)
        XCTAssertEqual(try store.comparison(compareID: compare.id).map(\.runID), [b.id])
        try store.remove(runID: compare.id)
        XCTAssertEqual(try store.comparison(compareID: compare.id), [])
        XCTAssertEqual(try store.run(id: b.id).id, b.id, "removing a compare keeps its member runs")
    }

    func testDefaultRootHonoursEnvironment() {
        XCTAssertEqual(RunStore.defaultRoot(environment: ["STRATA_RUNS": "/tmp/elsewhere"]).path, "/tmp/elsewhere")
        XCTAssertEqual(RunStore.defaultRoot(environment: [:]).lastPathComponent, "runs")
        XCTAssertEqual(RunStore.defaultRoot(environment: ["STRATA_RUNS": ""]).lastPathComponent, "runs")
    }

    func testAtomicFileReplacesContentAndLeavesNoTemporaryFiles() throws {
        let directory = try temporaryDirectory(self)
        let file = directory.appendingPathComponent("spec.json")
        try AtomicFile.write(Data("first".utf8), to: file)
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "first")
        try AtomicFile.write("second, longer content", to: file)
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "second, longer content")
        try AtomicFile.write(Data(), to: file)
        XCTAssertEqual(try Data(contentsOf: file).count, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["spec.json"])
    }

    func testAtomicFileErrorNamesThePath() throws {
        let missing = try temporaryDirectory(self).appendingPathComponent("no/such/dir/file.bin")
        XCTAssertThrowsError(try AtomicFile.write(Data([1, 2, 3]), to: missing)) { error in
            XCTAssertTrue("\(error)".contains("no/such/dir"), "\(error)")
        }
    }
}

