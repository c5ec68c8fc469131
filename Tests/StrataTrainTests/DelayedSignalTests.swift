import Foundation
import XCTest
import StrataCore
import StrataModels
import StrataTrain

/// The LMU delay task: band limit, unit power and the alignment of targets with delayed inputs.
final class DelayedSignalTests: XCTestCase {
    private func task(_ knobs: [String: String]) throws -> DelayedSignalTask {
        try XCTUnwrap(try CapabilityTasks.make("delayed_signal", knobs: knobs) as? DelayedSignalTask)
    }

    func testSignalHasNoPowerAboveTheCutoffAndUnitRMS() throws {
        let t = try task(["length": "80", "delay": "20", "cutoff": "0.1"])
        XCTAssertEqual(t.frequencies, 10)   // ⌊0.1 · 100⌋
        var rng = RNG(seed: 4)
        for _ in 0..<3 {
            let u = t.window(rng: &rng).map(Double.init)
            let l = u.count
            XCTAssertEqual(l, 100)
            XCTAssertEqual(u.map { $0 * $0 }.reduce(0, +) / Double(l), 1, accuracy: 1e-4)
            XCTAssertEqual(u.reduce(0, +) / Double(l), 0, accuracy: 1e-5, "no DC component")
            // DFT power per bin: all of it at 1 ≤ k ≤ 10 (and the mirror bins), none from 11 to L/2.
            var inside = 0.0, outside = 0.0
            for k in 0...(l / 2) {
                var re = 0.0, im = 0.0
                for (n, v) in u.enumerated() {
                    let a = 2 * Double.pi * Double(k * n) / Double(l)
                    re += v * cos(a); im -= v * sin(a)
                }
                let p = (re * re + im * im) / Double(l * l)
                if (1...10).contains(k) { inside += p } else { outside += p }
            }
            XCTAssertEqual(2 * inside, 1, accuracy: 1e-4, "Parseval: the in-band bins hold all the power")
            XCTAssertLessThan(outside, 1e-9)
        }
    }

    func testTargetIsTheInputDelayedAndTheFirstStepsAreUnscored() throws {
        let t = try task(["length": "32", "delay": "5", "cutoff": "0.2"])
        var rng = RNG(seed: 9)
        let batch = t.batch(size: 4, rng: &rng)
        let r = try XCTUnwrap(batch.regression)
        XCTAssertEqual(r.width, 1)
        XCTAssertEqual(r.targets.count, 4 * 32)
        for b in 0..<4 {
            for i in 0..<32 {
                let y = r.targets[b * 32 + i]
                if i < 5 { XCTAssertTrue(y.isNaN, "position \(i) needs input from before the sequence") } else {
                    XCTAssertEqual(y, r.features[b * 32 + i - 5], "target at \(i) is the input at \(i - 5)")
                }
            }
        }
        // Zero delay: the target is the input itself at every position.
        let copy = try task(["length": "16", "delay": "0"]).batch(size: 2, rng: &rng).regression!
        XCTAssertEqual(copy.targets, copy.features)
        XCTAssertThrowsError(try CapabilityTasks.make("delayed_signal", knobs: ["length": "16", "delay": "16"])) { XCTAssertTrue("\($0)".contains("delay")) }
        XCTAssertThrowsError(try CapabilityTasks.make("delayed_signal", knobs: ["length": "16", "cutoff": "0.01"])) { XCTAssertTrue("\($0)".contains("cutoff")) }
    }

    func testRunnerTrainsOnEveryScoredPositionAndReportsNRMSE() throws {
        var spec = ModelSpec()
        spec.name = "tiny"; spec.dim = 16; spec.heads = 2; spec.layers = 1
        var config = TaskRunConfig()
        config.steps = 40; config.batchSize = 8; config.evalBatches = 2; config.learningRate = 3e-3; config.warmup = 5
        let runner = try TaskRunner(task: try task(["length": "24", "delay": "0"]), spec: spec, config: config, store: nil,
                                    threads: 1)
        runner.quiet = true
        let result = try runner.run()
        let e = result.evaluations[0]
        let nrmse = try XCTUnwrap(e.nrmse)
        XCTAssertEqual(nrmse, (e.loss / 1).squareRoot(), accuracy: 0.2 * nrmse, "targets have about unit variance")
        // Zero delay is the identity map, learnable in a few steps: well below predicting the mean (NRMSE 1).
        XCTAssertLessThan(nrmse, 0.7)
        XCTAssertLessThan(runner.lossHistory.suffix(5).reduce(0, +) / 5, runner.lossHistory.prefix(5).reduce(0, +) / 5)
    }
}

/// The closed-form LMU delay line used as the task's untrained reference.
final class LegendreDelayLineTests: XCTestCase {
    func testShiftedLegendreAndTheDiscretizedMemory() {
        // P̃_2(r) = 6r² − 6r + 1.
        XCTAssertEqual(LegendreDelayLine.shiftedLegendre(0.3, count: 3)[2], 6 * 0.09 - 1.8 + 1, accuracy: 1e-12)
        // q = 1: A = −1/θ, B = 1/θ, so Ā = e^{−1/θ} and B̄ = 1 − e^{−1/θ} (zero-order hold).
        let one = LegendreDelayLine(order: 1, window: 4)
        XCTAssertEqual(one.transition[0], exp(-0.25), accuracy: 1e-12)
        XCTAssertEqual(one.input[0], 1 - exp(-0.25), accuracy: 1e-12)
    }

    func testOrder16ReconstructsTheDelayedBandLimitedSignal() throws {
        // Catalog `lmu` check (b): NRMSE < 0.05 at q = 16; a low order cannot hold the window.
        let task = try XCTUnwrap(try CapabilityTasks.make("delayed_signal", knobs: ["length": "96", "delay": "16", "cutoff": "0.1"])
                                 as? DelayedSignalTask)
        var rng = RNG(seed: 1)
        XCTAssertLessThan(task.legendreNRMSE(order: 16, batches: 2, batchSize: 8, rng: &rng), 0.05)
        XCTAssertGreaterThan(task.legendreNRMSE(order: 3, batches: 2, batchSize: 8, rng: &rng), 0.1)
    }
}
