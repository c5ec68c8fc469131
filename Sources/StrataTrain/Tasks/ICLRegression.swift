import StrataCore

/// In-context linear regression (Garg et al. 2022; Zhang, Frei & Bartlett, "Trained Transformers Learn Linear
/// Models In-Context"; catalog `icl_linear_regression`). Per prompt w ~ N(0, I_d), x_i ~ N(0, I_d),
/// y_i = wᵀx_i + σ·ε. Each column (x_i, y_i) is one real token of width d+1; the last token is (x_q, 0) and
/// the target is y_q = wᵀx_q (noise-free). Inputs are continuous, so this task does not go through the token
/// embedding: `TaskRunner` feeds the columns through a Linear embedding, the spec's blocks and a Linear
/// read-out, trains with MSE at the last position and reports the error beside ordinary least squares on the
/// same prompts. `covariate_scale` scales every covariate of a prompt (the catalog's covariate shift, used at test
/// time through `--eval-knob`); `query_scale` scales only the query's (a query shift).
public struct ICLRegressionTask: RealValuedTask {
    public let id = "icl_linear_regression"
    public let summary = "in-context linear regression: predict y_q from (x_i, y_i) examples (MSE vs least squares and the LSA optimum; spec `lsa`: the reference)"
    /// Input dimension d.
    public let dimension: Int
    /// In-context examples N.
    public let examples: Int
    /// Label noise σ.
    public let noise: Double
    /// Factor on the query's covariates.
    public let queryScale: Double
    /// Factor on every covariate of a prompt (examples and query).
    public let covariateScale: Double
    /// Token width d + 1: the covariates and the label slot.
    public var featureWidth: Int { dimension + 1 }
    public var length: Int { examples + 1 }
    /// Token tasks need a vocabulary; this one feeds vectors, so one dummy id is enough.
    public let vocabSize = 1
    public var chance: Double { 0 }
    public var scoresSequences: Bool { false }

    init(_ r: inout KnobReader) throws {
        dimension = try r.int("dim", 5, in: 1...256)
        examples = try r.int("examples", 20, in: 1...100_000)
        noise = try r.double("noise", 0, in: 0...100)
        queryScale = try r.double("query_scale", 1, in: 0...1000)
        covariateScale = try r.double("covariate_scale", 1, in: 0...1000)
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("dim", "\(dimension)", "input dimension d (token width d+1)"),
         TaskKnob("examples", "\(examples)", "in-context examples N (catalog: 20-40); T = N + 1"),
         TaskKnob("noise", "\(noise)", "label noise σ on the examples (0: noiseless)"),
         TaskKnob("query_scale", "\(queryScale)", "scale of the query's covariates only (a query shift)"),
         TaskKnob("covariate_scale", "\(covariateScale)", "scale of every covariate in a prompt (2 at test: covariate-shift check)")]
    }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        let d = dimension, width = d + 1, t = length
        var features = [Float](repeating: 0, count: size * t * width)
        var targets = [Float](repeating: 0, count: size)
        for b in 0..<size {
            let w = (0..<d).map { _ in rng.nextNormal() }
            for i in 0..<t {
                let base = (b * t + i) * width
                let scale = Float(covariateScale) * (i == examples ? Float(queryScale) : 1)
                var y: Float = 0
                for j in 0..<d {
                    let x = rng.nextNormal() * scale
                    features[base + j] = x
                    y += w[j] * x
                }
                if i == examples { targets[b] = y } else { features[base + d] = y + Float(noise) * rng.nextNormal() }
            }
        }
        return TaskBatch(inputs: [Int32](repeating: 0, count: size * t), targets: [Int32](repeating: TaskBatch.ignored, count: size * t),
                         batchSize: size, length: t, vocabSize: vocabSize,
                         regression: RegressionBatch(features: features, width: width, targets: targets))
    }
}


extension ICLRegressionTask {
    /// Γ⁻¹ of the LSA global minimum for this task's prompts as training data (Λ = s²·I with s = `covariate_scale`,
    /// N examples, noise σ; an isotropic query scale does not change the optimum).
    public var inverseGamma: [[Double]] {
        let s2 = covariateScale * covariateScale
        let covariance = (0..<dimension).map { i in (0..<dimension).map { $0 == i ? s2 : 0.0 } }
        return ICLBaselines.inverseGamma(covariance: covariance, examples: examples, noise: noise)
    }
}

/// Closed-form baselines of in-context regression on one prompt (the entry points the runner and tests use).
public enum OrdinaryLeastSquares {
    /// Minimum-norm least squares fit to the examples, evaluated at the query: ŵᵀx_q with
    /// ŵ = `ICLBaselines.leastSquaresWeights` (exact OLS for N ≥ d, the minimum-norm interpolant for N < d).
    public static func predict(xs: [[Double]], ys: [Double], query: [Double]) -> Double {
        let w = ICLBaselines.leastSquaresWeights(xs: xs, ys: ys, dimension: query.count)
        return zip(w, query).map(*).reduce(0, +)
    }

    /// Mean squared error of OLS over the prompts of a regression batch (each predicted from its own examples).
    public static func meanSquaredError(_ batch: RegressionBatch, batchSize: Int, length: Int) -> Double {
        ICLPromptErrors(batch, batchSize: batchSize, length: length, inverseGamma: nil).leastSquares
    }
}

/// Per-batch squared errors of the closed-form predictors on the same prompts (sums over prompts, so
/// batches add up; divide by `prompts` for the MSE).
public struct ICLPromptErrors: Sendable, Equatable {
    /// Prompts summed over.
    public var prompts = 0
    /// Σ (ŷ_OLS − y_q)².
    public var leastSquares = 0.0
    /// Σ (ŷ_LSA-global-min − y_q)² (0 when no Γ⁻¹ was given).
    public var globalMinimum = 0.0
    /// Σ y_q², the error of predicting 0.
    public var zero = 0.0

    /// No prompts yet.
    public init() {}

    /// Errors of OLS and, given `inverseGamma` (of the training distribution), the LSA global-minimum predictor on
    /// every prompt of `batch` [B, T, d+1] (examples in the first T − 1 rows, the query in the last).
    public init(_ batch: RegressionBatch, batchSize: Int, length: Int, inverseGamma: [[Double]]?) {
        let width = batch.width, d = width - 1
        for b in 0..<batchSize {
            func row(_ i: Int) -> ArraySlice<Float> { batch.features[((b * length + i) * width)..<((b * length + i + 1) * width)] }
            let xs = (0..<(length - 1)).map { row($0).prefix(d).map(Double.init) }
            let ys = (0..<(length - 1)).map { Double(row($0).last!) }
            let q = row(length - 1).prefix(d).map(Double.init)
            let target = Double(batch.targets[b])
            let e = OrdinaryLeastSquares.predict(xs: xs, ys: ys, query: q) - target
            leastSquares += e * e
            if let g = inverseGamma {
                let m = ICLBaselines.globalMinimumPredict(xs: xs, ys: ys, query: q, inverseGamma: g) - target
                globalMinimum += m * m
            }
            zero += target * target
        }
        prompts = batchSize
    }

    /// Sums of two sets of prompts.
    public static func + (a: ICLPromptErrors, b: ICLPromptErrors) -> ICLPromptErrors {
        var s = a
        s.prompts += b.prompts; s.leastSquares += b.leastSquares; s.globalMinimum += b.globalMinimum; s.zero += b.zero
        return s
    }
}
