import Foundation
import XCTest
import StrataCore
import StrataModels
import StrataTrain

/// Closed-form baselines, the LSA reference model and the regression path of the runner (catalog
/// `icl_linear_regression`).
final class ICLRegressionTests: XCTestCase {
    private func task(_ knobs: [String: String]) throws -> ICLRegressionTask {
        try XCTUnwrap(try CapabilityTasks.make("icl_linear_regression", knobs: knobs) as? ICLRegressionTask)
    }

    private func normals(_ n: Int, _ d: Int, _ rng: inout RNG) -> [[Double]] {
        (0..<n).map { _ in (0..<d).map { _ in Double(rng.nextNormal()) } }
    }

    func testLeastSquaresIsTheMinimumNormSolutionInEveryRegime() {
        var rng = RNG(seed: 3)
        // N > d, noiseless: exact.
        let w = [0.5, -2.0, 1.5]
        let xs = normals(8, 3, &rng)
        let ys = xs.map { x in zip(w, x).map(*).reduce(0, +) }
        let fit = ICLBaselines.leastSquaresWeights(xs: xs, ys: ys, dimension: 3)
        for (a, b) in zip(fit, w) { XCTAssertEqual(a, b, accuracy: 1e-9) }
        // N = 1 < d: the minimum-norm interpolant x·y/‖x‖².
        let x = [1.0, 2.0, -2.0]
        let one = ICLBaselines.leastSquaresWeights(xs: [x], ys: [3], dimension: 3)
        for (a, b) in zip(one, x.map { $0 * 3 / 9 }) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        // N = d but collinear (the same example twice): singular XᵀX, still the minimum-norm solution.
        let twice = ICLBaselines.leastSquaresWeights(xs: [[1, 1], [1, 1]], ys: [2, 2], dimension: 2)
        XCTAssertEqual(twice[0], 1, accuracy: 1e-12)
        XCTAssertEqual(twice[1], 1, accuracy: 1e-12)
        // N = 4 < d = 6: interpolates the examples and lies in their span (ŵ = Xᵀ·α).
        let wide = normals(4, 6, &rng), labels = (0..<4).map { _ in Double(rng.nextNormal()) }
        let fit6 = ICLBaselines.leastSquaresWeights(xs: wide, ys: labels, dimension: 6)
        for (xi, yi) in zip(wide, labels) { XCTAssertEqual(zip(fit6, xi).map(*).reduce(0, +), yi, accuracy: 1e-9) }
        let inSpan = ICLBaselines.leastSquaresWeights(xs: wide, ys: wide.map { zip(fit6, $0).map(*).reduce(0, +) }, dimension: 6)
        for (a, b) in zip(inSpan, fit6) { XCTAssertEqual(a, b, accuracy: 1e-9) }
    }

    func testGlobalMinimumPredictorIsOnePreconditionedStep() {
        // Λ = I, σ = 0: Γ = (1 + (d + 1)/N)·I, so ŷ = x_qᵀ·Σ y_i x_i / (N + d + 1).
        var rng = RNG(seed: 5)
        let (d, n) = (4, 10)
        let identity = (0..<d).map { i in (0..<d).map { $0 == i ? 1.0 : 0.0 } }
        let g = ICLBaselines.inverseGamma(covariance: identity, examples: n, noise: 0)
        let xs = normals(n, d, &rng), ys = (0..<n).map { _ in Double(rng.nextNormal()) }, q = normals(1, d, &rng)[0]
        var direct = 0.0
        for (x, y) in zip(xs, ys) { direct += y * zip(x, q).map(*).reduce(0, +) }
        XCTAssertEqual(ICLBaselines.globalMinimumPredict(xs: xs, ys: ys, query: q, inverseGamma: g), direct / Double(n + d + 1),
                       accuracy: 1e-12)
        // A general Λ: Γ·Γ⁻¹ = I with Γ = (1 + 1/N)Λ + ((tr Λ + σ²)/N)·I.
        let lambda = [[2.0, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 0.5]]
        let gi = ICLBaselines.inverseGamma(covariance: lambda, examples: 5, noise: 0.3)
        for i in 0..<3 {
            for j in 0..<3 {
                var s = 0.0
                for k in 0..<3 {
                    let gamma = lambda[i][k] * 1.2 + (i == k ? (3.5 + 0.09) / 5 : 0)
                    s += gamma * gi[k][j]
                }
                XCTAssertEqual(s, i == j ? 1 : 0, accuracy: 1e-10)
            }
        }
    }

    func testExpectedErrorsMatchMonteCarlo() throws {
        // d = 5, N = 20, σ = 0.5: E[OLS] = σ²d/(N − d − 1) ≈ 0.0893, E[LSA-min] ≈ 1.17; and under a covariate
        // shift ×2 the LSA-min error explodes while OLS's does not move (catalog check c).
        var rng = RNG(seed: 11)
        for scale in [1.0, 2.0] {
            let t = try task(["dim": "5", "examples": "20", "noise": "0.5", "covariate_scale": "\(scale)"])
            let train = try task(["dim": "5", "examples": "20", "noise": "0.5"])
            var errors = ICLPromptErrors()
            for _ in 0..<100 {
                let b = t.batch(size: 100, rng: &rng)
                errors = errors + ICLPromptErrors(b.regression!, batchSize: 100, length: 21, inverseGamma: train.inverseGamma)
            }
            let ols = errors.leastSquares / Double(errors.prompts), lsa = errors.globalMinimum / Double(errors.prompts)
            let expectedOLS = ICLBaselines.expectedLeastSquaresMSE(dimension: 5, examples: 20, noise: 0.5, covariateScale: scale)
            let expectedLSA = ICLBaselines.expectedGlobalMinimumMSE(dimension: 5, examples: 20, noise: 0.5, covariateScale: scale)
            // 10,000 prompts: the sample means are within a few percent; 10% is over 3 standard errors.
            XCTAssertEqual(ols / expectedOLS, 1, accuracy: 0.1, "OLS at covariate scale \(scale)")
            XCTAssertEqual(lsa / expectedLSA, 1, accuracy: 0.1, "LSA-min at covariate scale \(scale)")
        }
        XCTAssertEqual(ICLBaselines.expectedGlobalMinimumMSE(dimension: 5, examples: 20, noise: 0), 30.0 / 26, accuracy: 1e-12)
        XCTAssertEqual(ICLBaselines.expectedLeastSquaresMSE(dimension: 5, examples: 20, noise: 0), 0)
        XCTAssertEqual(ICLBaselines.expectedLeastSquaresMSE(dimension: 5, examples: 2, noise: 0), 3)
        XCTAssertEqual(ICLBaselines.expectedLeastSquaresMSE(dimension: 5, examples: 6, noise: 0.1), .infinity)
    }

    func testLSAModelLastColumnIsTheFullTransformsEntryAndGradientsMatchFiniteDifferences() throws {
        var rng = RNG(seed: 2)
        let t = try task(["dim": "2", "examples": "4", "noise": "0.1"])
        let batch = t.batch(size: 3, rng: &rng)
        let r = try XCTUnwrap(batch.regression)
        let x = Tensor(r.features, shape: [3, 5, 3])
        let model = LinearSelfAttentionRegressor(dimension: 2, initStd: 0.5, rng: &rng)
        let full = withNoGrad { model.transform(x) }.scalars      // [B, d+1, T]
        let fast = withNoGrad { model.predict(x) }.scalars
        for b in 0..<3 { XCTAssertEqual(fast[b], full[b * 15 + 2 * 5 + 4], accuracy: 1e-5) }

        let y = Tensor(r.targets, shape: [3])
        let pv = rng.normal([3, 3], std: 0.5), kq = rng.normal([3, 3], std: 0.5)
        let wpv = pv.requiringGrad(), wkq = kq.requiringGrad()
        let loss = { (a: Tensor, b: Tensor) -> Tensor in
            let e = LinearSelfAttentionRegressor.predict(x, valueProjection: a, keyQuery: b) - y
            return (e * e).mean()
        }
        loss(wpv, wkq).backward()
        let analytic = [try XCTUnwrap(wpv.grad).scalars, try XCTUnwrap(wkq.grad).scalars]
        let eps: Float = 1e-2
        for which in 0..<2 {
            for i in 0..<9 {
                func value(_ delta: Float) -> Double {
                    var moved = [pv.scalars, kq.scalars]
                    moved[which][i] += delta
                    return Double(withNoGrad { loss(Tensor(moved[0], shape: [3, 3]), Tensor(moved[1], shape: [3, 3])) }.item)
                }
                let numeric = (value(eps) - value(-eps)) / Double(2 * eps)
                let a = Double(analytic[which][i])
                XCTAssertEqual(a, numeric, accuracy: 2e-3 * max(1, abs(numeric)), "d loss / d \(which == 0 ? "W^PV" : "W^KQ")[\(i)]")
            }
        }
    }

    func testTrainedLSAMatchesTheClosedFormGlobalMinimum() throws {
        // Catalog checks (a) and (b) at d = 5, N = 20: test MSE within 5% of the global-minimum predictor's on
        // the same prompts, and the learned preconditioner M ∝ Γ⁻¹.
        let t = try task(["dim": "5", "examples": "20"])
        let shifted = try task(["dim": "5", "examples": "20", "covariate_scale": "2"])
        var config = TaskRunConfig()
        config.steps = 1000; config.batchSize = 256; config.learningRate = 0.01; config.warmup = 50
        config.evalBatches = 16; config.seed = 1
        let (_, result) = LSAReference.train(task: t, shifted: shifted, config: config)
        let e = result.evaluations[0]
        let best = try XCTUnwrap(e.globalMinimumMSE)
        XCTAssertEqual(best, 30.0 / 26, accuracy: 0.1, "the closed form's own error is d(d+1)/(N+d+1)")
        XCTAssertEqual(e.loss / best, 1, accuracy: 0.05)
        XCTAssertGreaterThan(result.preconditionerCosine, 0.99)
        XCTAssertEqual(result.preconditionerScale, 1, accuracy: 0.1)
        // Check (c): the covariate shift hurts LSA badly, OLS (noiseless, N > d) not at all.
        let s = result.evaluations[1]
        XCTAssertGreaterThan(s.loss, 5 * e.loss)
        XCTAssertLessThan(try XCTUnwrap(s.leastSquaresMSE), 1e-6)
    }

    func testRunnerReportsAllBaselinesAndTheShiftedTest() throws {
        var spec = ModelSpec()
        spec.name = "tiny"; spec.dim = 16; spec.heads = 2; spec.layers = 1
        var config = TaskRunConfig()
        config.steps = 3; config.batchSize = 8; config.evalBatches = 2
        config.evalKnobs = ["covariate_scale": "2"]
        let runner = try TaskRunner(task: try task(["dim": "3", "examples": "8"]), spec: spec, config: config, store: nil, threads: 1)
        runner.quiet = true
        let result = try runner.run()
        XCTAssertEqual(result.evaluations.map(\.shift), [nil, "covariate_scale=2"])
        for e in result.evaluations {
            XCTAssertLessThan(try XCTUnwrap(e.leastSquaresMSE), 1e-6)
            XCTAssertGreaterThan(try XCTUnwrap(e.globalMinimumMSE), 0)
            XCTAssertTrue(e.loss.isFinite)
        }
        XCTAssertGreaterThan(try XCTUnwrap(result.evaluations[1].zeroMSE), 2 * (try XCTUnwrap(result.evaluations[0].zeroMSE)))
        var bad = config
        bad.evalKnobs = ["covariate": "2"]
        XCTAssertThrowsError(try TaskRunner(task: try task([:]), spec: spec, config: bad, store: nil, threads: 1)) {
            XCTAssertTrue("\($0)".contains("covariate_scale"))
        }
    }
}
