import Foundation
import GRDB
import XCTest
import StrataCore
import StrataModels
import StrataTrain

/// The run store tells the truth about a run's life: its lock, a process that vanished, resume after a kill
/// (no duplicate rows, bit-exact), failures of any kind, and a damaged database.
final class RunLifecycleTests: XCTestCase {
    private var directory: URL!
    private var root: URL { directory.appendingPathComponent("runs") }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-lifecycle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var text = ""
        var rng = RNG(seed: 5)
        let words = ["in", "the", "beginning", "god", "created", "heaven", "and", "earth", "light", "day"]
        for i in 0..<2000 {
            text += "\(i % 40) " + (0..<8).map { _ in words[Int(rng.next() % 10)] }.joined(separator: " ") + ".\n"
        }
        try text.write(to: directory.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func tinySpec(layers: Int = 2) -> ModelSpec {
        var s = ModelSpec()
        s.name = "tiny"; s.dim = 32; s.heads = 2; s.layers = layers; s.contextLength = 16
        return s
    }

    private func config(steps: Int, evalEvery: Int = 4) -> TrainConfig {
        var c = TrainConfig()
        c.steps = steps; c.batchSize = 2; c.evalEvery = evalEvery; c.evalBatches = 1; c.logEvery = 1
        c.schedule = .cosine(warmup: 2, minRatio: 0.1)
        c.data = directory.appendingPathComponent("corpus.txt").path
        c.sampleLength = 0
        c.checkpointEvery = 0
        return c
    }

    private func trainer(_ c: TrainConfig, store: RunStore?, layers: Int = 2) throws -> Trainer {
        let t = try Trainer(spec: tinySpec(layers: layers), config: c, store: store, threads: 1)
        t.quiet = true
        return t
    }

    /// Trains until `crashAt` and "dies" there (no final checkpoint, status left `running`, lock dropped).
    private func crashedRun(_ c: TrainConfig, crashAt: Int, store: RunStore) throws -> (id: String, losses: [Double]) {
        let t = try trainer(c, store: store)
        t.simulateCrashAtStep = crashAt
        XCTAssertThrowsError(try t.runTraining())
        return (try XCTUnwrap(t.run?.id), t.lossHistory)
    }

    // MARK: Lock

    func testATrainingHoldsItsRunsLockUntilItFinishes() throws {
        let store = try RunStore(root: root)
        let record = try store.createRun(name: "x", kind: .train, specJSON: "{}", configJSON: "{}", parameterCount: 1, seed: 1, threads: 1)
        guard case .live = store.liveness(of: record) else { return XCTFail("a new run is live") }
        // Another store (another process, as far as the lock is concerned) sees it live and cannot take it.
        let other = try RunStore(root: root)
        guard case .live(let holder) = other.liveness(of: record) else { return XCTFail("live from another store") }
        XCTAssertEqual(holder?.pid, getpid())
        XCTAssertThrowsError(try other.acquireLock(runID: record.id)) { XCTAssertTrue("\($0)".contains("still being trained"), "\($0)") }
        XCTAssertThrowsError(try other.remove(runID: record.id)) { XCTAssertTrue("\($0)".contains("still being trained"), "\($0)") }
        XCTAssertEqual(other.displayStatus(of: record), "running")
        try store.finish(runID: record.id, status: .finished)
        XCTAssertEqual(other.liveness(of: try other.run(id: record.id)), .gone)
        try other.remove(runID: record.id)
    }

    func testARunWhoseProcessIsGoneShowsAsInterruptedAndIsMarkedSo() throws {
        let store = try RunStore(root: root)
        let record = try store.createRun(name: "x", kind: .train, specJSON: "{}", configJSON: "{}", parameterCount: 1, seed: 1, threads: 1)
        store.releaseLock(runID: record.id)   // what the kernel does when the process is killed
        let reader = try RunStore(root: root)
        XCTAssertEqual(reader.displayStatus(of: try reader.run(id: record.id)), "interrupted (process gone)")
        XCTAssertEqual(try reader.markGoneRunsInterrupted(), [record.id])
        let marked = try reader.run(id: record.id)
        XCTAssertEqual(marked.status, .interrupted)
        XCTAssertEqual(reader.displayStatus(of: marked), "interrupted (process gone)")
        XCTAssertEqual(try reader.markGoneRunsInterrupted(), [])
    }

    func testResumeRefusesARunThatIsStillTraining() throws {
        let store = try RunStore(root: root)
        let first = try trainer(config(steps: 8), store: store)
        var refusal: String?
        first.afterStep = { step in
            guard step == 5, let id = first.run?.id else { return }
            // A second trainer (its own store, as a second process would have) must not get the run.
            do { _ = try Trainer(resuming: id, store: try RunStore(root: self.root), threads: 1) } catch { refusal = "\(error)" }
        }
        try first.runTraining()
        XCTAssertTrue(refusal?.contains("still being trained") ?? false, refusal ?? "resume was not refused")
        XCTAssertEqual(Set(try store.metrics(runID: XCTUnwrap(first.run?.id), name: RunMetric.trainLoss).map(\.step)).count, 8)
    }

    // MARK: Resume

    func testResumeAfterAKillDeletesTheRowsPastTheCheckpointAndMatchesAnUninterruptedRun() throws {
        let store = try RunStore(root: root)
        let whole = try trainer(config(steps: 10), store: nil)
        try whole.runTraining()
        // Evaluation checkpoints at 4 and 8; the kill at 7 leaves rows for steps 5–7 past the checkpoint at 4.
        let (id, before) = try crashedRun(config(steps: 10), crashAt: 7, store: store)
        XCTAssertEqual(store.displayStatus(of: try store.run(id: id)), "interrupted (process gone)")
        XCTAssertEqual(try store.metrics(runID: id, name: RunMetric.trainLoss).map(\.step), Array(1...7))
        let resumed = try Trainer(resuming: id, store: store, threads: 1)
        resumed.quiet = true
        XCTAssertEqual(try store.metrics(runID: id, name: RunMetric.trainLoss).map(\.step), Array(1...4))
        XCTAssertEqual(try store.run(id: id).status, .running)
        let outcome = try resumed.runTraining()
        XCTAssertEqual(outcome.status, "finished")
        XCTAssertEqual(Array(before.prefix(4)) + resumed.lossHistory, whole.lossHistory, "resumed losses differ")
        XCTAssertEqual(try store.metrics(runID: id, name: RunMetric.trainLoss).map(\.step), Array(1...10))
        XCTAssertEqual(try store.evaluations(runID: id).map(\.step), [4, 8, 10])
    }

    func testAWallTimeCheckpointResumesBitExact() throws {
        let store = try RunStore(root: root)
        var c = config(steps: 10, evalEvery: 100)
        let whole = try trainer(c, store: nil)
        try whole.runTraining()
        c.checkpointEvery = 1e-9   // every step, by the clock; no evaluation before the end
        let (id, before) = try crashedRun(c, crashAt: 7, store: store)
        let checkpoint = try Checkpoint.load(try store.run(id: id).checkpointsDirectory.appendingPathComponent("latest.safetensors"))
        XCTAssertEqual(checkpoint.step, 7)
        XCTAssertEqual(checkpoint.config?.checkpointEvery, 1e-9)
        let resumed = try Trainer(resuming: id, store: store, threads: 1)
        resumed.quiet = true
        try resumed.runTraining()
        XCTAssertEqual(before + resumed.lossHistory, whole.lossHistory)
    }

    func testResumeOfARunWithoutACheckpointSaysSo() throws {
        let store = try RunStore(root: root)
        let (id, _) = try crashedRun(config(steps: 10, evalEvery: 100), crashAt: 2, store: store)
        XCTAssertThrowsError(try Trainer(resuming: id, store: store, threads: 1)) { error in
            XCTAssertTrue("\(error)".contains("has no checkpoint to resume from"), "\(error)")
            XCTAssertTrue("\(error)".contains("strata runs rm \(id)"), "\(error)")
        }
        // The refusal released the lock it took: the run can be removed.
        try store.remove(runID: id)
    }

    func testAFinishedRunResumesOnlyWithALargerStepTotal() throws {
        let store = try RunStore(root: root)
        let first = try trainer(config(steps: 6), store: store)
        let id = try XCTUnwrap(try first.runTraining().runID)
        XCTAssertThrowsError(try Trainer(resuming: id, store: store, threads: 1)) {
            XCTAssertTrue("\($0)".contains("finished its 6 steps; to train it further pass --steps N"), "\($0)")
        }
        XCTAssertThrowsError(try Trainer(resuming: id, store: store, threads: 1, steps: 6)) {
            XCTAssertTrue("\($0)".contains("must exceed it"), "\($0)")
        }
        let more = try Trainer(resuming: id, store: store, threads: 1, steps: 9)
        more.quiet = true
        let outcome = try more.runTraining()
        XCTAssertEqual(outcome.steps, 9)
        XCTAssertEqual(more.lossHistory.count, 3)
        XCTAssertEqual(try store.evaluations(runID: id).map(\.step), [4, 6, 8, 9])
        XCTAssertTrue(try store.run(id: id).configJSON.contains("\"steps\" : 9"))
    }

    func testAStopRightAfterAnEvaluationLogsNoSecondEvaluationRow() throws {
        let store = try RunStore(root: root)
        let t = try trainer(config(steps: 10), store: store)
        t.stopAtStep = 4
        let outcome = try t.runTraining()
        XCTAssertEqual(outcome.status, "interrupted")
        XCTAssertEqual(try store.evaluations(runID: XCTUnwrap(outcome.runID)).map(\.step), [4])
    }

    // MARK: Failures

    func testAnyErrorInTheLoopMarksTheRunFailedWithTheError() throws {
        let store = try RunStore(root: root)
        let t = try trainer(config(steps: 10), store: store)
        // A checkpoint that cannot be written (as on a full disk): its folder becomes a file.
        t.afterStep = { step in
            guard step == 2, let run = t.run else { return }
            try FileManager.default.removeItem(at: run.checkpointsDirectory)
            try Data().write(to: run.checkpointsDirectory)
        }
        XCTAssertThrowsError(try t.runTraining())
        let record = try store.run(id: XCTUnwrap(t.run?.id))
        XCTAssertEqual(record.status, .failed)
        XCTAssertTrue(record.summaryJSON?.contains("checkpoints") ?? false, record.summaryJSON ?? "no summary")
        XCTAssertEqual(t.lastOutcome?.status, "failed")
        XCTAssertNotNil(t.lastOutcome?.error)
        XCTAssertEqual(store.liveness(of: record), .gone)
    }

    func testTheNaNGuardNamesTheMiddleBlockNotTheEmbedding() throws {
        // A NaN weight in block 1 of 3: every gradient goes NaN, but the weight is where it started.
        let t = try trainer(config(steps: 3), store: nil, layers: 3)
        let (name, p) = try XCTUnwrap(t.model.namedParameters().first { $0.0.hasPrefix("blocks.1.") && $0.1.value.shape.count == 2 })
        var values = p.value.scalars
        values[0] = .nan
        p.assign(Tensor(values, shape: p.value.shape))
        XCTAssertThrowsError(try t.runTraining()) { error in
            XCTAssertTrue("\(error)".contains("parameter \(name) (block 1) holds non-finite values"), "\(error)")
        }
        // Finite but huge weights in block 1's last projection (the FFN's, which writes to the stream): its
        // output overflows, the blocks before it are finite.
        let u = try trainer(config(steps: 3), store: nil, layers: 3)
        let (_, q) = try XCTUnwrap(u.model.namedParameters().last { $0.0.hasPrefix("blocks.1.") && $0.1.value.shape.count == 2 })
        q.assign(Tensor([Float](repeating: 3e38, count: q.value.scalars.count), shape: q.value.shape))
        XCTAssertThrowsError(try u.runTraining()) { error in
            XCTAssertTrue("\(error)".contains("non-finite at the output of block 1 (layers[1]); blocks 0…0 are finite"), "\(error)")
            XCTAssertFalse("\(error)".contains("tokenEmbedding"), "\(error)")
        }
    }

    func testEncodersZeroEvalBatchesAndTheValidationFractionAreRefusedByName() throws {
        var encoder = tinySpec()
        encoder.model = .encoder
        XCTAssertThrowsError(try Trainer(spec: encoder, config: config(steps: 2), store: nil, threads: 1)) {
            XCTAssertTrue("\($0)".contains("strata train trains causal decoders"), "\($0)")
        }
        var c = config(steps: 2)
        c.evalBatches = 0
        c.validationFraction = 0
        let problems = c.problems().joined(separator: "\n")
        XCTAssertTrue(problems.contains("--eval-batches must be at least 1"), problems)
        XCTAssertTrue(problems.contains("validation_fraction must be in (0, 0.5)"), problems)
        XCTAssertFalse(problems.contains("--validation-fraction"), problems)
    }

    func testAConfigWithoutCheckpointEveryDecodesWithTheDefault() throws {
        var c = config(steps: 2)
        c.checkpointEvery = 42
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as? [String: Any])
        XCTAssertEqual(object["checkpoint_every"] as? Double, 42)
        object.removeValue(forKey: "checkpoint_every")
        let old = try JSONDecoder().decode(TrainConfig.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertEqual(old.checkpointEvery, 300)
        c.checkpointEvery = -1
        XCTAssertTrue(c.problems().contains { $0.contains("--checkpoint-every") })
    }

    // MARK: Damaged store

    /// Two runs on disk: one finished (6 steps), one killed at step 5 after its checkpoint at 4.
    private func twoRuns() throws -> (finished: String, killed: String) {
        let store = try RunStore(root: root)
        let finished = try XCTUnwrap(try trainer(config(steps: 6), store: store).runTraining().runID)
        let (killed, _) = try crashedRun(config(steps: 10), crashAt: 5, store: store)
        return (finished, killed)
    }

    func testAnEmptiedDatabaseIsNotTakenForANewStore() throws {
        _ = try twoRuns()
        let database = root.appendingPathComponent("strata.sqlite")
        try Data().write(to: database)
        XCTAssertThrowsError(try RunStore(root: root)) { error in
            XCTAssertTrue("\(error)".contains("is empty (0 bytes) but"), "\(error)")
            XCTAssertTrue("\(error)".contains("strata runs repair --runs \(root.standardizedFileURL.path)"), "\(error)")
        }
        try FileManager.default.removeItem(at: database)
        XCTAssertThrowsError(try RunStore(root: root)) { XCTAssertTrue("\($0)".contains("does not exist but"), "\($0)") }
    }

    func testATruncatedDatabaseNamesTheFileAndTheRepairAndRepairRecoversEveryRun() throws {
        let (finished, killed) = try twoRuns()
        let database = root.appendingPathComponent("strata.sqlite")
        let bytes = try Data(contentsOf: database)
        try bytes.prefix(bytes.count / 2).write(to: database)
        XCTAssertThrowsError(try RunStore(root: root).runs()) { error in
            XCTAssertTrue("\(error)".contains(database.standardizedFileURL.path), "\(error)")
            XCTAssertTrue("\(error)".contains("strata runs repair"), "\(error)")
            XCTAssertFalse("\(error)".contains("SELECT"), "\(error)")
        }
        let report = try RunStore.repair(root: root)
        XCTAssertEqual(Set(report.recovered.map(\.id)), [finished, killed])
        XCTAssertEqual(report.recovered.first { $0.id == finished }?.status, .finished)
        XCTAssertEqual(report.recovered.first { $0.id == killed }?.status, .interrupted)
        XCTAssertEqual(report.recovered.first { $0.id == killed }?.step, 4)
        XCTAssertEqual(try Data(contentsOf: XCTUnwrap(report.backup)).count, bytes.count / 2)
        let store = try RunStore(root: root)
        XCTAssertEqual(try store.run(id: finished).summaryNumbers["steps"], 6)
        XCTAssertEqual(try store.run(id: finished).parameterCount, try trainer(config(steps: 1), store: nil).model.parameterCount)
        // The recovered run resumes from its checkpoint.
        let resumed = try Trainer(resuming: killed, store: store, threads: 1)
        resumed.quiet = true
        XCTAssertEqual(try resumed.runTraining().steps, 10)
        // A healthy store is left alone unless forced.
        XCTAssertThrowsError(try RunStore.repair(root: root)) { XCTAssertTrue("\($0)".contains("nothing to repair"), "\($0)") }
        XCTAssertEqual(try RunStore.repair(root: root, force: true).recovered.count, 2)
    }

    func testDatabaseErrorsNameTheCauseNotTheStatement() {
        let readOnly = DatabaseError(resultCode: .SQLITE_READONLY, message: "attempt to write a readonly database",
                                     sql: "INSERT INTO metrics (run_id, step, name, value) VALUES (?, ?, ?, ?)")
        let text = "\(RunStore.storeError(readOnly, path: "/x/strata.sqlite", root: URL(fileURLWithPath: "/x")))"
        XCTAssertTrue(text.hasPrefix("/x/strata.sqlite: the run store is read-only"), text)
        XCTAssertTrue(text.contains("--runs DIR"), text)
        XCTAssertFalse(text.contains("INSERT"), text)
    }

    func testAReadOnlyStoreSaysSo() throws {
        try XCTSkipIf(getuid() == 0, "root ignores file permissions")
        let store = try RunStore(root: root)
        let record = try store.createRun(name: "x", kind: .train, specJSON: "{}", configJSON: "{}", parameterCount: 1, seed: 1, threads: 1)
        try store.finish(runID: record.id, status: .finished)
        let database = root.appendingPathComponent("strata.sqlite")
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: database.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: database.path) }
        let reader = try RunStore(root: root)
        XCTAssertEqual(try reader.runs().count, 1)
        XCTAssertThrowsError(try reader.logMetrics(runID: record.id, step: 1, ["x": 1])) {
            XCTAssertTrue("\($0)".contains("read-only"), "\($0)")
            XCTAssertFalse("\($0)".contains("INSERT"), "\($0)")
        }
    }
}
