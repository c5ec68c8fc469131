import Foundation
import XCTest
import StrataCore
import StrataModels
import StrataTrain

final class TrainerTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // A small corpus with structure to learn: numbered verses of a few repeated phrases.
        var text = ""
        var rng = RNG(seed: 3)
        let words = ["and", "the", "lord", "said", "unto", "him", "behold", "light", "was", "good"]
        for i in 0..<3000 {
            text += "\(i % 50):\(i % 7) " + (0..<8).map { _ in words[Int(rng.next() % 10)] }.joined(separator: " ") + ".\n"
        }
        try text.write(to: directory.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func tinySpec() -> ModelSpec {
        var s = ModelSpec()
        s.name = "tiny"; s.dim = 32; s.heads = 2; s.layers = 2; s.contextLength = 32
        return s
    }

    private func config(steps: Int) -> TrainConfig {
        var c = TrainConfig()
        c.steps = steps; c.batchSize = 4; c.learningRate = 3e-3; c.evalEvery = 4; c.evalBatches = 2; c.logEvery = 2
        c.schedule = .cosine(warmup: 2, minRatio: 0.1)
        c.data = directory.appendingPathComponent("corpus.txt").path
        c.sampleLength = 0
        return c
    }

    func testLossFallsAndTheRunIsStored() throws {
        let store = try RunStore(root: directory.appendingPathComponent("runs"))
        let trainer = try Trainer(spec: tinySpec(), config: config(steps: 40), store: store, threads: 1)
        trainer.quiet = true
        let outcome = try trainer.runTraining()
        XCTAssertEqual(outcome.steps, 40)
        XCTAssertLessThan(trainer.lossHistory.suffix(5).reduce(0, +) / 5, trainer.lossHistory.prefix(3).reduce(0, +) / 3 - 1)
        let record = try store.run(id: XCTUnwrap(outcome.runID))
        XCTAssertEqual(record.status, .finished)
        XCTAssertEqual(try store.evaluations(runID: record.id).count, 10)   // every 4 steps and the end
        XCTAssertFalse(try store.probes(runID: record.id).isEmpty)
        let checkpoint = try Checkpoint.load(record.checkpointsDirectory.appendingPathComponent("latest.safetensors"))
        XCTAssertEqual(checkpoint.step, 40)
        XCTAssertEqual(checkpoint.spec, tinySpec())
        // The checkpointed model reproduces the trained model's logits exactly.
        let ids: [Int32] = Array(repeating: 65, count: 8)
        XCTAssertEqual(try checkpoint.makeModel().logits(ids, batch: 1, length: 8).scalars,
                       trainer.model.logits(ids, batch: 1, length: 8).scalars)
    }

    func testInterruptedAndResumedRunMatchesAnUninterruptedOneBitForBit() throws {
        let store = try RunStore(root: directory.appendingPathComponent("runs"))
        for optimizer in ["adamw", "muon", "lion"] {
            var c = config(steps: 10)
            c.optimizer = optimizer
            let whole = try Trainer(spec: tinySpec(), config: c, store: nil, threads: 1)
            whole.quiet = true
            try whole.runTraining()

            let first = try Trainer(spec: tinySpec(), config: c, store: store, threads: 1)
            first.quiet = true
            first.stopAtStep = 6
            let stopped = try first.runTraining()
            XCTAssertEqual(stopped.status, "interrupted")
            let resumed = try Trainer(resuming: XCTUnwrap(stopped.runID), store: store, threads: 1)
            resumed.quiet = true
            let finished = try resumed.runTraining()
            XCTAssertEqual(finished.steps, 10)
            XCTAssertEqual(first.lossHistory + resumed.lossHistory, whole.lossHistory, "\(optimizer): resumed losses differ")
        }
    }

    func testDivergenceStopsWithADiagnosis() throws {
        var c = config(steps: 30)
        c.learningRate = 1e6
        c.gradClip = 0
        c.schedule = .constant
        let trainer = try Trainer(spec: tinySpec(), config: c, store: nil, threads: 1)
        trainer.quiet = true
        XCTAssertThrowsError(try trainer.runTraining()) { error in
            XCTAssertTrue("\(error)".contains("training diverged at step"), "\(error)")
        }
    }

    func testBadSettingsAreReportedByFlag() {
        var c = config(steps: 0)
        c.optimizer = "sgdd"
        XCTAssertThrowsError(try Trainer(spec: tinySpec(), config: c, store: nil, threads: 1)) { error in
            XCTAssertTrue("\(error)".contains("--steps must be at least 1"), "\(error)")
            XCTAssertTrue("\(error)".contains("--optimizer must be adamw, lion, muon or sgd"), "\(error)")
        }
        var missing = config(steps: 1)
        missing.data = "/nonexistent/corpus.txt"
        XCTAssertThrowsError(try Trainer(spec: tinySpec(), config: missing, store: nil, threads: 1)) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/corpus.txt"), "\(error)")
        }
    }

    func testSamplingRespectsItsFilters() {
        var rng = RNG(seed: 1)
        let logits: [Float] = [0, 5, 4, -1, 3]
        XCTAssertEqual(sampleToken(logits, options: SamplingOptions(temperature: 0), rng: &rng), 1)
        for _ in 0..<50 {
            let k = sampleToken(logits, options: SamplingOptions(temperature: 1, topK: 2), rng: &rng)
            XCTAssertTrue(k == 1 || k == 2)
            let p = sampleToken(logits, options: SamplingOptions(temperature: 1, topP: 0.5), rng: &rng)
            XCTAssertEqual(p, 1)
            let m = sampleToken(logits, options: SamplingOptions(temperature: 1, minP: 0.3), rng: &rng)
            XCTAssertTrue(m == 1 || m == 2)
        }
    }

    func testDurations() {
        XCTAssertEqual(parseDuration("300"), 300)
        XCTAssertEqual(parseDuration("5m"), 300)
        XCTAssertEqual(parseDuration("1h30m"), 5400)
        XCTAssertEqual(parseDuration("90s"), 90)
        XCTAssertNil(parseDuration("five"))
    }
}
