import StrataCore

/// In-context linear regression (Garg et al. 2022; Zhang, Frei & Bartlett, "Trained Transformers Learn Linear
/// Models In-Context"; catalog `icl_linear_regression`). Per prompt w ~ N(0, I_d), x_i ~ N(0, I_d),
/// y_i = wᵀx_i + σ·ε. Each column (x_i, y_i) is one real token of width d+1; the last token is (x_q, 0) and
/// the target is y_q = wᵀx_q (noise-free). Inputs are continuous, so this task does not go through the token
/// embedding: `TaskRunner` feeds the columns through a Linear embedding, the spec's blocks and a Linear
/// read-out, trains with MSE at the last position and reports the error beside ordinary least squares on the
/// same prompts. `query_scale` scales the query covariates (the catalog's covariate-shift test).
public struct ICLRegressionTask: CapabilityTask {
    public let id = "icl_linear_regression"
    public let summary = "in-context linear regression: predict y_q from (x_i, y_i) examples (MSE vs least squares)"
    /// Input dimension d.
    public let dimension: Int
    /// In-context examples N.
    public let examples: Int
    /// Label noise σ.
    public let noise: Double
    /// Factor on the query's covariates.
    public let queryScale: Double
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
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("dim", "\(dimension)", "input dimension d (token width d+1)"),
         TaskKnob("examples", "\(examples)", "in-context examples N (catalog: 20-40); T = N + 1"),
         TaskKnob("noise", "\(noise)", "label noise σ on the examples (0: noiseless)"),
         TaskKnob("query_scale", "\(queryScale)", "scale of the query covariates (2: covariate-shift test)")]
    }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        let d = dimension, width = d + 1, t = length
        var features = [Float](repeating: 0, count: size * t * width)
        var targets = [Float](repeating: 0, count: size)
        for b in 0..<size {
            let w = (0..<d).map { _ in rng.nextNormal() }
            for i in 0..<t {
                let base = (b * t + i) * width
                let scale: Float = i == examples ? Float(queryScale) : 1
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

/// Closed-form baselines of in-context regression on one prompt.
public enum OrdinaryLeastSquares {
    /// Ordinary least squares: ŵ = argmin Σ(y_i − wᵀx_i)², solved from the normal equations XᵀX w = Xᵀy by
    /// Gaussian elimination with partial pivoting, plus a 1e-6 ridge so an underdetermined prompt (N < d)
    /// gives the minimum-norm-like solution instead of failing. Returns ŵᵀx_q.
    public static func predict(xs: [[Double]], ys: [Double], query: [Double]) -> Double {
        let d = query.count
        var a = [[Double]](repeating: [Double](repeating: 0, count: d + 1), count: d)
        for (x, y) in zip(xs, ys) {
            for i in 0..<d {
                for j in 0..<d { a[i][j] += x[i] * x[j] }
                a[i][d] += x[i] * y
            }
        }
        for i in 0..<d { a[i][i] += 1e-6 }
        for c in 0..<d {
            let p = (c..<d).max { abs(a[$0][c]) < abs(a[$1][c]) }!
            a.swapAt(c, p)
            guard abs(a[c][c]) > 1e-300 else { continue }
            for r in 0..<d where r != c {
                let f = a[r][c] / a[c][c]
                if f != 0 { for k in c...d { a[r][k] -= f * a[c][k] } }
            }
        }
        var pred = 0.0
        for i in 0..<d where abs(a[i][i]) > 1e-300 { pred += a[i][d] / a[i][i] * query[i] }
        return pred
    }

    /// Mean squared error of OLS over the prompts of a regression batch (each predicted from its own examples).
    public static func meanSquaredError(_ batch: RegressionBatch, batchSize: Int, length: Int) -> Double {
        let width = batch.width, d = width - 1
        var total = 0.0
        for b in 0..<batchSize {
            func row(_ i: Int) -> ArraySlice<Float> { batch.features[((b * length + i) * width)..<((b * length + i + 1) * width)] }
            let xs = (0..<(length - 1)).map { row($0).prefix(d).map(Double.init) }
            let ys = (0..<(length - 1)).map { Double(row($0).last!) }
            let q = row(length - 1).prefix(d).map(Double.init)
            let e = predict(xs: xs, ys: ys, query: q) - Double(batch.targets[b])
            total += e * e
        }
        return total / Double(max(batchSize, 1))
    }
}
