import Foundation
import StrataModels
import StrataTrain
import XCTest

/// A fresh temporary directory, removed at the end of the test.
private func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("strata-compare-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A probe row at the final step.
private func probe(_ layer: Int, _ name: String, _ value: Double) -> ProbeRecord {
    ProbeRecord(step: 3, layer: layer, name: name, value: value)
}

final class CompareTests: XCTestCase {
    // MARK: Aggregation on hand-made runs

    func testAnInterruptedRunIsNotRanked() {
        // Seed 2 of "a" was stopped by Ctrl-C part-way: its (better) partial result must not enter the mean.
        let runs = [
            ComparisonRun(label: "a", seed: 1, runID: "a1", parameters: 10, validationBPB: 2.0, tokensPerSecond: 1, peakMemoryMB: 1),
            ComparisonRun(label: "a", seed: 2, runID: "a2", status: "interrupted", parameters: 10, validationBPB: 1.0,
                          tokensPerSecond: 1, peakMemoryMB: 1),
        ]
        let row = Leaderboard.rows(runs)[0]
        XCTAssertEqual(row.bpbMean, 2.0)
        XCTAssertEqual(row.seeds, 1)
        XCTAssertEqual(row.failures, 0)
        XCTAssertEqual(row.runIDs, ["a1", "a2"])
    }

    func testLeaderboardAggregatesSeedsSortsAndSummarizesProbes() throws {
        let runs = [
            ComparisonRun(label: "a", seed: 1, runID: "a1", parameters: 100, validationBPB: 2.0, tokensPerSecond: 1000,
                          peakMemoryMB: 50, probes: [probe(0, "residual_rms", 1), probe(1, "residual_rms", 3),
                                                     probe(0, "attention_entropy", 1), probe(1, "attention_entropy", 2),
                                                     probe(1, "residual_kurtosis", 7)]),
            ComparisonRun(label: "b", seed: 1, runID: "b1", parameters: 200, validationBPB: 1.5, tokensPerSecond: 500,
                          peakMemoryMB: 80, probes: [probe(0, "residual_rms", 2)]),
            ComparisonRun(label: "a", seed: 2, runID: "a2", parameters: 100, validationBPB: 2.2, tokensPerSecond: 3000,
                          peakMemoryMB: 60, probes: [probe(0, "residual_rms", 5), probe(0, "attention_entropy", 4)]),
            ComparisonRun(label: "b", seed: 2, runID: "b2", parameters: 200, validationBPB: 1.7, tokensPerSecond: 700,
                          peakMemoryMB: 70),
            // A diverged run counts as a failure, not as a number in the mean.
            ComparisonRun(label: "c", seed: 1, runID: "c1", status: "failed", parameters: 50, validationBPB: nil,
                          tokensPerSecond: .nan, peakMemoryMB: 10, error: "training diverged"),
            ComparisonRun(label: "d", seed: 1, runID: "d1", parameters: 10, validationBPB: 1.9, tokensPerSecond: 10,
                          peakMemoryMB: 5),
        ]
        let rows = Leaderboard.rows(runs)
        XCTAssertEqual(rows.map(\.label), ["b", "d", "a", "c"], "lowest mean bpb first, no result last")

        let a = try XCTUnwrap(rows.first { $0.label == "a" })
        XCTAssertEqual(a.bpbMean, 2.1, accuracy: 1e-12)
        // Sample std of {2.0, 2.2}: |2.2 − 2.0| / √2.
        XCTAssertEqual(a.bpbStd, 0.2 / 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(a.seeds, 2)
        XCTAssertEqual(a.failures, 0)
        XCTAssertEqual(a.tokensPerSecond, 2000, accuracy: 1e-9)
        XCTAssertEqual(a.peakMemoryMB, 60)
        XCTAssertEqual(a.parameters, 100)
        XCTAssertEqual(a.runIDs, ["a1", "a2"])
        // max over layers per seed (3 and 5), then the mean over seeds.
        XCTAssertEqual(try XCTUnwrap(a.probes["max residual_rms"]), 4, accuracy: 1e-12)
        // mean over layers per seed (1.5 and 4), then the mean over seeds.
        XCTAssertEqual(try XCTUnwrap(a.probes["mean attention_entropy"]), 2.75, accuracy: 1e-12)
        // Recorded by one seed only: averaged over the seeds that have it.
        XCTAssertEqual(try XCTUnwrap(a.probes["max residual_kurtosis"]), 7, accuracy: 1e-12)

        let b = try XCTUnwrap(rows.first { $0.label == "b" })
        XCTAssertEqual(b.bpbMean, 1.6, accuracy: 1e-12)
        XCTAssertNil(b.probes["mean attention_entropy"], "a probe nobody recorded stays absent")

        let d = try XCTUnwrap(rows.first { $0.label == "d" })
        XCTAssertEqual(d.bpbStd, 0, "one seed has no spread")

        let c = try XCTUnwrap(rows.last)
        XCTAssertEqual(c.seeds, 0)
        XCTAssertEqual(c.failures, 1)
        XCTAssertTrue(c.bpbMean.isNaN)
    }

    func testEqualMeansKeepFirstSeenOrder() {
        let runs = ["x", "y", "z"].map {
            ComparisonRun(label: $0, seed: 1, parameters: 1, validationBPB: 1.25, tokensPerSecond: 1, peakMemoryMB: 1)
        }
        XCTAssertEqual(Leaderboard.rows(runs).map(\.label), ["x", "y", "z"])
    }

    func testBudgetParsingAndSetupErrors() throws {
        XCTAssertEqual(try ComparisonBudget(parsing: "steps:500"), .steps(500))
        XCTAssertEqual(try ComparisonBudget(parsing: "time:5m"), .time(300))
        XCTAssertEqual(try ComparisonBudget(parsing: "time:90"), .time(90))
        for bad in ["steps:0", "steps:x", "time:soon", "500", "epochs:3"] {
            XCTAssertThrowsError(try ComparisonBudget(parsing: bad)) { error in
                XCTAssertTrue("\(error)".contains("--budget \(bad)"), "\(error)")
            }
        }
        let config = ComparisonBudget.steps(7).applied(to: TrainConfig())
        XCTAssertEqual(config.steps, 7)
        XCTAssertNil(config.timeBudget)
        XCTAssertThrowsError(try Comparison(entries: [("same", ModelSpec()), ("same", ModelSpec())], config: TrainConfig(),
                                            budget: .steps(1), seedCount: 1)) { error in
            XCTAssertTrue("\(error)".contains("\"same\""), "\(error)")
        }
        XCTAssertThrowsError(try Comparison(entries: [("a", ModelSpec())], config: TrainConfig(), budget: .steps(1),
                                            seedCount: 0))
    }

    // MARK: A tiny real comparison

    /// A decoder small enough to train in milliseconds.
    private func tinySpec(_ name: String, norm: String) -> ModelSpec {
        var s = ModelSpec()
        s.name = name
        s.dim = 16; s.layers = 1; s.heads = 2; s.contextLength = 32
        s.block.norm = ComponentSpec(norm)
        return s
    }

    /// ~20 KB of varied text: four 4096-token blocks, so a validation fraction of 1/4 holds a block.
    private func writeCorpus(in directory: URL) throws -> URL {
        let words = ["in", "the", "beginning", "was", "light", "and", "water", "over", "land", "seed", "of", "day"]
        // Deterministic: a fixed linear congruential walk over the words.
        var text = "", state: UInt64 = 12345
        while text.utf8.count < 20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            text += words[Int(state >> 33) % words.count] + ((state >> 20) % 9 == 0 ? ".\n" : " ")
        }
        let url = directory.appendingPathComponent("corpus.txt")
        try Data(text.utf8).write(to: url)
        return url
    }

    func testTinyComparisonTrainsEverySpecAndSeedAndGroupsRuns() throws {
        let root = try temporaryDirectory(self)
        let store = try RunStore(root: root.appendingPathComponent("runs"))
        var config = TrainConfig()
        config.data = try writeCorpus(in: root).path
        config.validationFraction = 0.25
        config.batchSize = 2
        config.evalBatches = 2
        config.evalEvery = 100
        config.logEvery = 1
        config.schedule = .constant
        config.learningRate = 1e-2
        let comparison = try Comparison(entries: [("pre-ln", tinySpec("pre-ln", norm: "layer_norm")),
                                                  ("pre-rms", tinySpec("pre-rms", norm: "rms_norm"))],
                                        config: config, budget: .steps(3), seedCount: 2)
        var started: [String] = []
        let result = try comparison.run(store: store, threads: 1, quiet: true) { index, total, label, seed in
            XCTAssertEqual(total, 4)
            started.append("\(index):\(label):\(seed)")
        }
        XCTAssertEqual(started, ["0:pre-ln:1", "1:pre-rms:1", "2:pre-ln:2", "3:pre-rms:2"], "seeds outer, specs inner")
        XCTAssertTrue(result.complete)
        XCTAssertEqual(result.runs.count, 4)

        // Grouping: the comparison run lists its four members with labels and seeds.
        let compare = try store.run(id: result.compareID)
        XCTAssertEqual(compare.kind, .compare)
        XCTAssertEqual(compare.status, .finished)
        let members = try store.comparison(compareID: result.compareID)
        XCTAssertEqual(members.map(\.label), ["pre-ln", "pre-rms", "pre-ln", "pre-rms"])
        XCTAssertEqual(members.map(\.seed), [1, 1, 2, 2])
        XCTAssertEqual(Set(members.map(\.runID)), Set(result.runs.compactMap(\.runID)))

        // Rows: both specs, two seeds each, finite bpb, sorted, with probe summaries from the final evaluation.
        XCTAssertEqual(Set(result.rows.map(\.label)), ["pre-ln", "pre-rms"])
        XCTAssertLessThanOrEqual(result.rows[0].bpbMean, result.rows[1].bpbMean)
        for row in result.rows {
            XCTAssertEqual(row.seeds, 2)
            XCTAssertEqual(row.failures, 0)
            XCTAssertTrue(row.bpbMean.isFinite && row.bpbMean > 0, "\(row)")
            XCTAssertTrue(row.bpbStd.isFinite)
            XCTAssertEqual(row.runIDs.count, 2)
            XCTAssertGreaterThan(row.parameters, 0)
            XCTAssertNotNil(row.probes["max residual_rms"], "\(row.probes)")
            XCTAssertNotNil(row.probes["mean attention_entropy"], "\(row.probes)")
        }
        // Different seeds give different initializations, so different results.
        let preLN = result.runs.filter { $0.label == "pre-ln" }
        XCTAssertNotEqual(preLN[0].validationBPB, preLN[1].validationBPB)
        for run in result.runs {
            let record = try store.run(id: XCTUnwrap(run.runID))
            XCTAssertEqual(record.status, .finished)
            XCTAssertEqual(record.seed, run.seed)
            XCTAssertEqual(try store.evaluations(runID: record.id).last?.step, 3)
        }

        // `strata eval` on a member reproduces the trainer's final evaluation (same split, same weights).
        let member = result.runs[0]
        let trained = try TrainedModel(argument: XCTUnwrap(member.runID), openStore: { store })
        let summary = try trained.evaluate(threads: 1)
        XCTAssertEqual(summary.step, 3)
        XCTAssertEqual(summary.bpb, try XCTUnwrap(member.validationBPB), accuracy: 1e-9)
        XCTAssertEqual(summary.tokens, 2 * 2 * 32)

        // `strata sample`: streamed bytes add up to the returned text; greedy decoding is deterministic.
        var streamed: [UInt8] = []
        let text = trained.sample(prompt: "in the", tokens: 12, options: SamplingOptions(temperature: 0), threads: 1) {
            streamed += $0
        }
        XCTAssertEqual(streamed.count, 12, "byte tokenizer: one byte per token")
        XCTAssertEqual(String(decoding: streamed, as: UTF8.self), text)
        XCTAssertEqual(trained.sample(prompt: "in the", tokens: 12, options: SamplingOptions(temperature: 0), threads: 1), text)

        // Unknown ids name the store and list what exists.
        XCTAssertThrowsError(try TrainedModel(argument: "no-such-run", openStore: { store })) { error in
            XCTAssertTrue("\(error)".contains("no-such-run"), "\(error)")
        }
    }
}
