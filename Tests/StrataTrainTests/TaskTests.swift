import Foundation
import XCTest
import StrataCore
import StrataModels
import StrataTrain

final class TaskTests: XCTestCase {
    private func make(_ id: String, _ knobs: [String: String] = [:]) throws -> any CapabilityTask {
        try CapabilityTasks.make(id, knobs: knobs)
    }

    /// Splits a batch into per-sequence (inputs, targets).
    private func sequences(_ b: TaskBatch) -> [(inputs: [Int32], targets: [Int32])] {
        (0..<b.batchSize).map { i in
            let r = (i * b.length)..<((i + 1) * b.length)
            return (Array(b.inputs[r]), Array(b.targets[r]))
        }
    }

    func testEveryTokenTaskIsDeterministicPerSeedAndInRange() throws {
        for task in CapabilityTasks.all() {
            var a = RNG(seed: 5), b = RNG(seed: 5), c = RNG(seed: 6)
            let x = task.batch(size: 3, rng: &a), y = task.batch(size: 3, rng: &b), z = task.batch(size: 3, rng: &c)
            XCTAssertEqual(x.inputs, y.inputs, task.id)
            XCTAssertEqual(x.targets, y.targets, task.id)
            XCTAssertEqual(x.inputs.count, 3 * task.length, task.id)
            XCTAssertEqual(x.targets.count, 3 * task.length, task.id)
            if let r = x.regression {
                XCTAssertEqual(r.features, y.regression!.features, task.id)
                XCTAssertNotEqual(r.features, z.regression!.features, task.id)
                continue
            }
            XCTAssertTrue(x.inputs != z.inputs || x.targets != z.targets, "\(task.id): seeds 5 and 6 gave the same batch")
            XCTAssertTrue(x.inputs.allSatisfy { $0 >= 0 && Int($0) < task.vocabSize }, task.id)
            XCTAssertTrue(x.targets.allSatisfy { $0 == TaskBatch.ignored || ($0 >= 0 && Int($0) < task.vocabSize) }, task.id)
            XCTAssertFalse(x.scoredPositions.isEmpty, task.id)
        }
    }

    func testMQARTargetsAreTheValuesOfTheQueriedKeys() throws {
        let task = try make("mqar", ["pairs": "6", "queries": "4", "length": "40", "vocab": "64"])
        var rng = RNG(seed: 1)
        for (inputs, targets) in sequences(task.batch(size: 8, rng: &rng)) {
            let scored = targets.indices.filter { targets[$0] != TaskBatch.ignored }
            XCTAssertEqual(scored.count, 4)
            let keys = (0..<6).map { inputs[2 * $0] }
            XCTAssertEqual(Set(keys).count, 6, "keys are distinct")
            XCTAssertTrue(keys.allSatisfy { $0 >= 1 && $0 < 32 })
            for p in scored {
                XCTAssertGreaterThanOrEqual(p, 12, "queries come after the pairs")
                let i = try XCTUnwrap(keys.firstIndex(of: inputs[p]))
                XCTAssertEqual(targets[p], inputs[2 * i + 1])
                XCTAssertGreaterThanOrEqual(targets[p], 32, "values are the upper half")
            }
        }
    }

    func testSelectiveCopyingTargetsAreTheContentTokensInOrder() throws {
        let task = try make("selective_copying", ["tokens": "5", "length": "30", "vocab": "10"])
        var rng = RNG(seed: 2)
        for (inputs, targets) in sequences(task.batch(size: 6, rng: &rng)) {
            let content = inputs[0..<25].filter { $0 >= 2 }
            XCTAssertEqual(content.count, 5)
            XCTAssertEqual(inputs[25], 1, "separator")
            XCTAssertEqual(Array(targets[25...]), Array(content))
            XCTAssertTrue(targets[0..<25].allSatisfy { $0 == TaskBatch.ignored })
        }
    }

    func testInductionHeadsAndDelayedRecallScoreOnlyTheLastPosition() throws {
        var rng = RNG(seed: 3)
        let induction = try make("induction_heads", ["length": "20", "vocab": "12"])
        for (inputs, targets) in sequences(induction.batch(size: 6, rng: &rng)) {
            XCTAssertEqual(targets.indices.filter { targets[$0] != TaskBatch.ignored }, [19])
            let triggers = inputs.indices.filter { inputs[$0] == 11 }
            XCTAssertEqual(triggers.count, 2)
            XCTAssertEqual(triggers.last, 19)
            XCTAssertEqual(targets[19], inputs[triggers[0] + 1])
        }
        let recall = try make("delayed_recall", ["length": "30", "classes": "4", "noise": "5", "min_delay": "10"])
        for (inputs, targets) in sequences(recall.batch(size: 6, rng: &rng)) {
            XCTAssertEqual(targets.indices.filter { targets[$0] != TaskBatch.ignored }, [29])
            XCTAssertEqual(inputs[29], 9, "recall marker")
            let cues = inputs.indices.filter { inputs[$0] < 4 }
            XCTAssertEqual(cues.count, 1)
            XCTAssertEqual(targets[29], inputs[cues[0]])
            XCTAssertGreaterThanOrEqual(28 - cues[0], 10, "at least min_delay distractors")
        }
    }

    func testPasskeyAndPhonebookAnswersMatchTheContext() throws {
        var rng = RNG(seed: 4)
        let passkey = try make("passkey_retrieval", ["digits": "4", "length": "48"])
        for (inputs, targets) in sequences(passkey.batch(size: 6, rng: &rng)) {
            let k = try XCTUnwrap(inputs.firstIndex(of: 26))
            let answer = Array(inputs[(k + 1)...(k + 4)])
            XCTAssertEqual(inputs[43], 27, "QUERY marker at T − digits − 1")
            XCTAssertEqual(Array(targets[43...46]), answer)
            XCTAssertEqual(targets.filter { $0 != TaskBatch.ignored }.count, 4)
        }
        let book = try make("phonebook", ["entries": "5", "name_tokens": "2", "number_digits": "3", "names": "8"])
        XCTAssertEqual(book.length, 5 * 7 + 1 + 2 + 3)
        for (inputs, targets) in sequences(book.batch(size: 6, rng: &rng)) {
            let query = try XCTUnwrap(inputs.firstIndex(of: 10 + 8 + 2))
            let name = Array(inputs[(query + 1)...(query + 2)])
            let entry = try XCTUnwrap((0..<5).first { Array(inputs[($0 * 7)..<($0 * 7 + 2)]) == name })
            let number = Array(inputs[(entry * 7 + 3)..<(entry * 7 + 6)])
            XCTAssertEqual(targets.filter { $0 != TaskBatch.ignored }, number)
            XCTAssertEqual(targets[query + 3], number[0], "the first digit is predicted at SEP")
        }
    }

    func testStateTrackingTargetsAreRunningParityAndS5Products() throws {
        var rng = RNG(seed: 5)
        let parity = try make("state_tracking", ["length": "16"])
        for (inputs, targets) in sequences(parity.batch(size: 4, rng: &rng)) {
            var p: Int32 = 0
            for t in 0..<16 { p ^= inputs[t]; XCTAssertEqual(targets[t], p) }
        }
        let perms = StateTrackingTask.permutations
        XCTAssertEqual(perms.count, 120)
        XCTAssertEqual(Set(perms).count, 120)
        let s5 = try make("state_tracking", ["group": "s5", "length": "12", "scored": "final"])
        for (inputs, targets) in sequences(s5.batch(size: 4, rng: &rng)) {
            // Apply every permutation in turn to the arrangement 0...4, independently of the composition table.
            var arrangement = Array(0..<5)
            for g in inputs { arrangement = arrangement.map { perms[Int(g)][$0] } }
            XCTAssertEqual(targets.filter { $0 != TaskBatch.ignored }.count, 1)
            XCTAssertEqual(perms[Int(targets[11])], arrangement)
        }
    }

    func testListOpsEvaluatorOnHandWrittenExpressions() throws {
        func value(_ text: String) throws -> Int { try ListOpsTask.evaluate(try ListOpsTask.tokenize(text)) }
        XCTAssertEqual(try value("[MAX 4 3 [MIN 2 3 ] 1 0 [MED 1 5 8 9 2 ] ]"), 5)
        XCTAssertEqual(try value("[SM 5 7 9 ]"), 1)
        XCTAssertEqual(try value("[MED 1 2 3 4 ]"), 2)
        XCTAssertEqual(try value("[MIN [MAX 1 9 ] [SM 9 9 ] 5 ]"), 5)
        XCTAssertEqual(try value("[MED [SM 3 4 ] [MIN 8 6 ] 0 ]"), 6)
        XCTAssertEqual(try value("7"), 7)
        XCTAssertThrowsError(try value("[MAX 1 2"))
        XCTAssertThrowsError(try value("[MAX ]"))
        XCTAssertThrowsError(try value("[MAX 1 ] 2"))
        XCTAssertThrowsError(try ListOpsTask.tokenize("[FOO 1 ]"))
    }

    func testListOpsBatchesAreLeftPaddedAndLabelledByTheirValue() throws {
        let task = try make("lra_listops", ["length": "64", "depth": "3", "args": "4", "min_length": "10"])
        var rng = RNG(seed: 6)
        for (inputs, targets) in sequences(task.batch(size: 8, rng: &rng)) {
            XCTAssertEqual(targets.indices.filter { targets[$0] != TaskBatch.ignored }, [63])
            let body = inputs.drop { $0 == 16 }
            XCTAssertGreaterThanOrEqual(body.count, 10)
            XCTAssertFalse(body.contains(16), "padding only on the left")
            XCTAssertEqual(Int(targets[63]), try ListOpsTask.evaluate(Array(body)))
        }
    }

    func testLeastSquaresRecoversAnExactLinearModel() throws {
        let w = [0.5, -2.0, 1.5]
        var rng = RNG(seed: 7)
        let xs = (0..<8).map { _ in (0..<3).map { _ in Double(rng.nextNormal()) } }
        let ys = xs.map { x in zip(w, x).map(*).reduce(0, +) }
        let q = [1.0, 2.0, -1.0]
        XCTAssertEqual(OrdinaryLeastSquares.predict(xs: xs, ys: ys, query: q), 0.5 - 4 - 1.5, accuracy: 1e-4)  // exact for N > d (minimum-norm least squares)
        // Noiseless prompts with N > d: OLS is exact, while predicting 0 costs about d (the variance of y_q).
        let task = try make("icl_linear_regression", ["dim": "3", "examples": "10"])
        let batch = task.batch(size: 64, rng: &rng)
        let r = try XCTUnwrap(batch.regression)
        XCTAssertEqual(r.width, 4)
        XCTAssertLessThan(OrdinaryLeastSquares.meanSquaredError(r, batchSize: 64, length: 11), 1e-6)
        let zero = r.targets.map { Double($0 * $0) }.reduce(0, +) / 64
        XCTAssertGreaterThan(zero, 1)
        XCTAssertEqual(r.features[10 * 4 + 3], 0, "the query's label slot is empty")
    }

    func testUnknownTasksAndKnobsAreNamed() {
        XCTAssertThrowsError(try make("mqarr")) { XCTAssertTrue("\($0)".contains("valid: mqar")) }
        XCTAssertThrowsError(try make("mqar", ["pair": "3"])) { XCTAssertTrue("\($0)".contains("unknown knob pair")) }
        XCTAssertThrowsError(try make("mqar", ["pairs": "40", "length": "20"])) { XCTAssertTrue("\($0)".contains("length")) }
        XCTAssertThrowsError(try make("state_tracking", ["group": "s4"])) { XCTAssertTrue("\($0)".contains("parity, s5")) }
    }

    private func tinySpec() -> ModelSpec {
        var s = ModelSpec()
        s.name = "tiny"; s.dim = 16; s.heads = 2; s.layers = 1
        return s
    }

    func testTaskRunnerTrainsEvaluatesAndStoresARun() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-tasks-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try RunStore(root: directory)
        var config = TaskRunConfig()
        config.steps = 6; config.batchSize = 4; config.evalBatches = 2; config.warmup = 2; config.logEvery = 3
        config.evalLengths = [24]
        let task = try make("passkey_retrieval", ["digits": "2", "length": "16"])
        let runner = try TaskRunner(task: task, spec: tinySpec(), config: config, store: store, threads: 1)
        runner.quiet = true
        XCTAssertEqual(runner.spec.vocabSize, 28)
        XCTAssertEqual(runner.spec.contextLength, 24)
        let result = try runner.run()
        XCTAssertEqual(runner.lossHistory.count, 6)
        XCTAssertEqual(result.evaluations.map(\.length), [16, 24])
        let accuracy = try XCTUnwrap(result.accuracy)
        XCTAssertTrue((0...1).contains(accuracy))
        XCTAssertNotNil(result.sequenceAccuracy)
        let record = try store.run(id: XCTUnwrap(result.runID))
        XCTAssertEqual(record.kind, .task)
        XCTAssertEqual(record.status, .finished)
        let rows = try store.evaluations(runID: record.id)
        XCTAssertEqual(Set(rows.map(\.split)), ["test", "test@24"])
        XCTAssertEqual(try XCTUnwrap(rows.first { $0.split == "test" }?.accuracy), accuracy, accuracy: 1e-12)
        XCTAssertNotNil(rows.first { $0.split == "test@24" }?.accuracy)
        XCTAssertEqual(record.summaryNumbers["accuracy"] ?? -1, accuracy, accuracy: 1e-12)

        // Same seed, same result (training and test streams are fixed by the seed).
        let again = try TaskRunner(task: task, spec: tinySpec(), config: config, store: nil, threads: 1)
        again.quiet = true
        XCTAssertEqual(try again.run().evaluations, result.evaluations)
    }

    func testRegressionRunnerReportsMSEBesideLeastSquares() throws {
        var config = TaskRunConfig()
        config.steps = 3; config.batchSize = 8; config.evalBatches = 1
        let runner = try TaskRunner(task: try make("icl_linear_regression", ["dim": "3", "examples": "8"]),
                                    spec: tinySpec(), config: config, store: nil, threads: 1)
        runner.quiet = true
        let result = try runner.run()
        let e = result.evaluations[0]
        XCTAssertNil(e.accuracy)
        XCTAssertTrue(e.loss.isFinite && e.loss > 0)
        XCTAssertLessThan(try XCTUnwrap(e.leastSquaresMSE), 1e-6)
        XCTAssertGreaterThan(try XCTUnwrap(e.zeroMSE), 0)
    }

    func testScalingBenchmarkStateSizesAndCrossover() throws {
        // Softmax attention's KV cache grows with T (2 · K · T · D floats); a recurrent state does not.
        let a8 = try ScalingBenchmark.measure(mixer: "softmax_attention", length: 8, decodeTokens: 2, repeats: 1, threads: 1)
        let a16 = try ScalingBenchmark.measure(mixer: "softmax_attention", length: 16, decodeTokens: 2, repeats: 1, threads: 1)
        XCTAssertEqual(a8.stateBytes, 2 * 2 * 8 * 32 * 4)
        XCTAssertEqual(a16.stateBytes, 2 * a8.stateBytes)
        let l8 = try ScalingBenchmark.measure(mixer: "linear_attention", length: 8, decodeTokens: 2, repeats: 1, threads: 1)
        let l16 = try ScalingBenchmark.measure(mixer: "linear_attention", length: 16, decodeTokens: 2, repeats: 1, threads: 1)
        XCTAssertGreaterThan(l8.stateBytes, 0)
        XCTAssertEqual(l8.stateBytes, l16.stateBytes)

        func point(_ m: String, _ t: Int, _ s: Double) -> ScalingPoint {
            ScalingPoint(mixer: m, length: t, trainSeconds: s, trainTokensPerS: 0, trainPeakMB: 0, decodeTokensPerS: 0, stateBytes: 0)
        }
        let points = [point("softmax_attention", 256, 1), point("softmax_attention", 512, 3), point("softmax_attention", 1024, 9),
                      point("gla", 256, 0.5), point("gla", 512, 4), point("gla", 1024, 8),
                      point("slow", 256, 2), point("slow", 512, 6), point("slow", 1024, 10)]
        XCTAssertEqual(ScalingBenchmark.crossover(points, mixer: "gla"), 1024, "faster at 256 but not at 512: crossover is 1024")
        XCTAssertNil(ScalingBenchmark.crossover(points, mixer: "slow"))
    }
}
