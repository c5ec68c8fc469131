import Foundation
import StrataCore
import StrataKernels
import StrataNN

/// The one-layer linear self-attention (LSA) model of in-context regression exactly as the catalog writes it
/// (Zhang, Frei & Bartlett 2023): f(Z) = Z + W^{PV}·Z·(Zᵀ·W^{KQ}·Z)/N with Z ∈ R^{(d+1)×(N+1)} holding the
/// columns (x_i, y_i) and (x_q, 0); the prediction is entry (d+1, N+1) of f(Z). No softmax, no mask: the query
/// column takes part in the product (it only adds terms even in w, which the optimum switches off).
public final class LinearSelfAttentionRegressor: Module {
    /// W^{PV} [(d+1), (d+1)]; only its last row reaches the prediction.
    public let valueProjection: Parameter
    /// W^{KQ} [(d+1), (d+1)].
    public let keyQuery: Parameter
    /// Covariate dimension d.
    public let dimension: Int

    /// Both matrices drawn i.i.d. N(0, initStd²): a nonzero start, since W^{PV} = W^{KQ} = 0 is a saddle point.
    public init(dimension d: Int, initStd: Float = 0.1, rng: inout RNG) {
        dimension = d
        valueProjection = Parameter(rng.normal([d + 1, d + 1], std: initStd), role: .other)
        keyQuery = Parameter(rng.normal([d + 1, d + 1], std: initStd), role: .other)
        super.init()
    }

    /// f(Z) [B, d+1, N+1] for prompts given as features [B, N+1, d+1] (row i is column i of Z, so features = Zᵀ).
    public func transform(_ features: Tensor) -> Tensor {
        Self.transform(features, valueProjection: valueProjection.value, keyQuery: keyQuery.value)
    }

    /// Entry (d+1, N+1) of f(Z) for features [B, N+1, d+1] → [B].
    public func predict(_ features: Tensor) -> Tensor {
        Self.predict(features, valueProjection: valueProjection.value, keyQuery: keyQuery.value)
    }

    /// f(Z) = Z + W^{PV}·Z·(Zᵀ·W^{KQ}·Z)/N [B, d+1, N+1] for features [B, N+1, d+1] and matrices [(d+1), (d+1)].
    public static func transform(_ features: Tensor, valueProjection: Tensor, keyQuery: Tensor) -> Tensor {
        let n = Float(features.shape[1] - 1)
        let z = features.transposed(1, 2)                                  // [B, d+1, T]
        let scores = features.matmul(keyQuery.matmul(z))                   // Zᵀ·W^{KQ}·Z  [B, T, T]
        return z + valueProjection.matmul(z).matmul(scores) / n            // [B, d+1, T]
    }

    /// Entry (d+1, N+1) of f(Z) → [B], computing only the last column:
    /// f(Z)_{:, q} = z_q + W^{PV}·Z·(Zᵀ·(W^{KQ}·z_q))/N (O(T·d) per prompt instead of O(T²·d)).
    public static func predict(_ features: Tensor, valueProjection: Tensor, keyQuery: Tensor) -> Tensor {
        let (b, t, width) = (features.shape[0], features.shape[1], features.shape[2])
        let zq = features.slice(axis: 1, (t - 1)..<t)                      // [B, 1, d+1]
        let key = zq.matmul(keyQuery, transposeB: true)                    // (W^{KQ} z_q)ᵀ [B, 1, d+1]
        let scores = features.matmul(key, transposeB: true)                // Zᵀ·W^{KQ}·z_q [B, T, 1]
        let mixed = features.matmul(scores, transposeA: true)              // Z·scores [B, d+1, 1]
        let column = mixed.reshaped([b, width]).matmul(valueProjection, transposeB: true) / Float(t - 1)
        return (zq.reshaped([b, width]) + column).slice(axis: 1, (width - 1)..<width).reshaped([b])
    }

    /// The matrix M with prediction = x_qᵀ·M·(1/N)·Σ y_i x_i + (terms even in y): M = u_y·Aᵀ + b·u_xᵀ, where
    /// (u_x, u_y) is the last row of W^{PV}, A the top-left d×d block of W^{KQ} and bᵀ the first d entries of its
    /// last row. At the global minimum M = Γ⁻¹ (catalog check b).
    public var effectivePreconditioner: [[Double]] {
        let d = dimension, pv = valueProjection.value.scalars, kq = keyQuery.value.scalars
        let uy = Double(pv[d * (d + 1) + d])
        return (0..<d).map { i in
            (0..<d).map { j in
                uy * Double(kq[j * (d + 1) + i]) + Double(kq[d * (d + 1) + i]) * Double(pv[d * (d + 1) + j])
            }
        }
    }
}

/// What training the LSA reference produced, with closed-form comparisons on the same fresh prompts.
public struct LSAReferenceResult: Sendable {
    /// Training loss of every step.
    public var losses: [Double]
    /// Held-out evaluations: the training distribution first, then the shifted one if any.
    public var evaluations: [TaskEvaluation]
    /// Cosine similarity of the learned M (`effectivePreconditioner`) with Γ⁻¹ (catalog check b).
    public var preconditionerCosine: Double
    /// ‖M‖_F / ‖Γ⁻¹‖_F.
    public var preconditionerScale: Double
    /// Wall-clock seconds.
    public var elapsedSeconds: Double
}

/// Trains `LinearSelfAttentionRegressor` on fresh prompts of an `ICLRegressionTask` with Adam (no weight decay:
/// it would move the optimum), learning rate warmed up then cosine-decayed to 1% so the last iterates settle
/// near the minimum. Prompts come from the same seed streams as `TaskRunner`, so a spec and the reference
/// trained with one seed are tested on identical prompts.
public enum LSAReference {
    /// Trains for `config.steps` steps of `config.batchSize` prompts (peak rate `config.learningRate`) and
    /// evaluates on `config.evalBatches` held-out batches of the training task and of `shifted`, if given.
    public static func train(task: ICLRegressionTask, shifted: ICLRegressionTask? = nil, config: TaskRunConfig,
                             initStd: Float = 0.1) -> (LinearSelfAttentionRegressor, LSAReferenceResult) {
        let start = BenchTimer.now()
        var initRNG = RNG(seed: config.seed &+ 7)
        let model = LinearSelfAttentionRegressor(dimension: task.dimension, initStd: initStd, rng: &initRNG)
        let optimizer = AdamW(parameters: model.parameters(),
                              options: .init(learningRate: config.learningRate, beta1: 0.9, beta2: 0.999, weightDecay: 0))
        let schedule = LearningRateSchedule.cosine(warmup: config.warmup, minRatio: 0.01)
        var trainRNG = TaskRunner.trainingRNG(seed: config.seed)
        var losses: [Double] = []
        for step in 0..<config.steps {
            optimizer.learningRate = config.learningRate * schedule.multiplier(step: step, totalSteps: config.steps)
            let l = loss(model, task.batch(size: config.batchSize, rng: &trainRNG))
            l.backward()
            losses.append(Double(l.item))
            optimizer.update()
        }
        var evalRNG = TaskRunner.evaluationRNG(seed: config.seed)
        let gamma = task.inverseGamma
        let evaluations = ([task] + (shifted.map { [$0] } ?? [])).map { t in
            evaluateRegression(t, batches: config.evalBatches, batchSize: config.batchSize, inverseGamma: gamma,
                               shift: t.covariateScale != task.covariateScale || t.queryScale != task.queryScale,
                               rng: &evalRNG) { batch in
                Double(withNoGrad { loss(model, batch) }.item)
            }
        }
        let m = model.effectivePreconditioner.joined(), g = gamma.joined()
        let dot = zip(m, g).map(*).reduce(0, +)
        let nm = m.map { $0 * $0 }.reduce(0, +).squareRoot(), ng = g.map { $0 * $0 }.reduce(0, +).squareRoot()
        return (model, LSAReferenceResult(losses: losses, evaluations: evaluations, preconditionerCosine: dot / (nm * ng),
                                          preconditionerScale: nm / ng, elapsedSeconds: BenchTimer.now() - start))
    }

    /// A `strata tasks run` row for the reference (spec `lsa`, no run id: it has no spec to store): trains on
    /// `task` with `threads` threads, tests also on the `config.evalKnobs` shift if any.
    public static func run(task: ICLRegressionTask, config: TaskRunConfig, threads: Int) throws -> (TaskResult, LSAReferenceResult) {
        let shifted = config.evalKnobs.isEmpty ? nil : try TaskRunner.shifted(task, config.evalKnobs) as? ICLRegressionTask
        let (model, trained) = Threads.$limit.withValue(threads) { train(task: task, shifted: shifted, config: config) }
        var r = trained
        if r.evaluations.count > 1 { r.evaluations[1].shift = TaskRunner.shiftLabel(config.evalKnobs) }
        let tail = r.losses.suffix(10)
        let result = TaskResult(runID: nil, task: task.id, spec: "lsa", steps: config.steps, parameters: model.parameterCount,
                                chance: 0, accuracy: nil, sequenceAccuracy: nil, testLoss: r.evaluations[0].loss,
                                finalTrainLoss: tail.reduce(0, +) / Double(max(tail.count, 1)),
                                elapsedSeconds: r.elapsedSeconds, evaluations: r.evaluations)
        return (result, r)
    }

    /// Mean squared error of the prediction against y_q over a batch.
    public static func loss(_ model: LinearSelfAttentionRegressor, _ batch: TaskBatch) -> Tensor {
        let r = batch.regression!
        let x = Tensor(r.features, shape: [batch.batchSize, batch.length, r.width])
        let d = model.predict(x) - Tensor(r.targets, shape: [batch.batchSize])
        return (d * d).mean()
    }
}

/// Held-out regression results of `batches` fresh batches of `task`: the model's MSE (from `modelMSE`, one call
/// per batch) beside OLS and the LSA global minimum (Γ⁻¹ of the training distribution) on the same prompts.
func evaluateRegression(_ task: ICLRegressionTask, batches: Int, batchSize: Int, inverseGamma: [[Double]], shift: Bool,
                        rng: inout RNG, modelMSE: (TaskBatch) -> Double) -> TaskEvaluation {
    var model = 0.0
    var errors = ICLPromptErrors()
    for _ in 0..<batches {
        let batch = task.batch(size: batchSize, rng: &rng)
        model += modelMSE(batch) * Double(batch.batchSize)
        errors = errors + ICLPromptErrors(batch.regression!, batchSize: batch.batchSize, length: batch.length,
                                          inverseGamma: inverseGamma)
    }
    let n = Double(max(errors.prompts, 1))
    var e = TaskEvaluation(length: task.length, accuracy: nil, sequenceAccuracy: nil, loss: model / n,
                           leastSquaresMSE: errors.leastSquares / n, zeroMSE: errors.zero / n)
    e.globalMinimumMSE = errors.globalMinimum / n
    if shift { e.shift = "covariate_scale=\(task.covariateScale),query_scale=\(task.queryScale)" }
    return e
}
