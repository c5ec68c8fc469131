import Foundation
import StrataCore
import StrataKernels
import StrataModels
import StrataNN

/// Settings of a task run: budget, optimizer (AdamW, warmup + cosine) and evaluation.
public struct TaskRunConfig: Codable, Equatable, Sendable {
    /// Optimizer steps.
    public var steps = 300
    /// Sequences per step.
    public var batchSize = 16
    /// Peak AdamW learning rate.
    public var learningRate: Float = 1e-3
    /// Decoupled weight decay on matrix weights.
    public var weightDecay: Float = 0.1
    /// Linear warmup steps before the cosine decay.
    public var warmup = 20
    /// Global gradient-norm clip; 0 disables it.
    public var gradClip: Float = 1
    /// Seed of initialization; training batches and test batches use disjoint streams derived from it.
    public var seed: UInt64 = 1
    /// Held-out batches (of `batchSize` sequences) per evaluated length.
    public var evalBatches = 8
    /// Extra test lengths (tasks with a `length` knob), e.g. passkey or parity at 2× the training length.
    public var evalLengths: [Int] = []
    /// Log the training loss every this many steps.
    public var logEvery = 10
    /// Knob overrides for one extra held-out test on a shifted task (e.g. `covariate_scale=2`); empty: none.
    public var evalKnobs: [String: String] = [:]

    /// The defaults.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case steps, batchSize = "batch_size", learningRate = "learning_rate", weightDecay = "weight_decay", warmup
        case gradClip = "grad_clip", seed, evalBatches = "eval_batches", evalLengths = "eval_lengths", logEvery = "log_every"
        case evalKnobs = "eval_knobs"
    }
}

/// Held-out results at one sequence length.
public struct TaskEvaluation: Codable, Sendable, Equatable {
    /// Sequence length T evaluated.
    public var length: Int
    /// Exact-match accuracy over scored positions (token tasks).
    public var accuracy: Double?
    /// Fraction of sequences with every scored position right (tasks with several scored positions).
    public var sequenceAccuracy: Double?
    /// Mean cross-entropy at scored positions (token tasks) or mean squared error (regression).
    public var loss: Double
    /// Ordinary-least-squares MSE on the same prompts (regression only).
    public var leastSquaresMSE: Double?
    /// MSE of always predicting 0, the scale of the targets (regression only).
    public var zeroMSE: Double?
    /// MSE of the one-layer LSA global-minimum predictor (fit to the training distribution) on the same prompts
    /// (in-context regression only).
    public var globalMinimumMSE: Double? = nil
    /// Normalized RMSE √(MSE / Var(target)) over scored positions (signal tasks).
    public var nrmse: Double? = nil
    /// The knob overrides of a shifted test (`--eval-knob`); nil for the training distribution.
    public var shift: String? = nil

    enum CodingKeys: String, CodingKey {
        case length, accuracy, sequenceAccuracy = "sequence_accuracy", loss
        case leastSquaresMSE = "least_squares_mse", zeroMSE = "zero_mse", globalMinimumMSE = "global_minimum_mse"
        case nrmse, shift
    }
}

/// What a task run reports (also the run's stored summary; top-level numbers are those at the training length).
public struct TaskResult: Codable, Sendable {
    /// Stored run id (nil without a run store).
    public var runID: String?
    /// Task id.
    public var task: String
    /// Spec name.
    public var spec: String
    /// Optimizer steps taken.
    public var steps: Int
    /// Trainable scalars (with the regression path's embedding and read-out).
    public var parameters: Int
    /// Chance accuracy of a scored position.
    public var chance: Double
    /// Per-position accuracy at the training length (token tasks).
    public var accuracy: Double?
    /// Per-sequence accuracy at the training length (tasks with several scored positions).
    public var sequenceAccuracy: Double?
    /// Held-out loss at the training length (cross-entropy, or MSE for regression).
    public var testLoss: Double
    /// Mean training loss of the last up-to-10 steps.
    public var finalTrainLoss: Double
    /// Wall-clock seconds of training and evaluation.
    public var elapsedSeconds: Double
    /// One entry per evaluated length, the training length first.
    public var evaluations: [TaskEvaluation]

    /// A result with every field given (runs that are not `TaskRunner`s, like the LSA reference, build their own).
    public init(runID: String?, task: String, spec: String, steps: Int, parameters: Int, chance: Double, accuracy: Double?,
                sequenceAccuracy: Double?, testLoss: Double, finalTrainLoss: Double, elapsedSeconds: Double,
                evaluations: [TaskEvaluation]) {
        self.runID = runID; self.task = task; self.spec = spec; self.steps = steps; self.parameters = parameters
        self.chance = chance; self.accuracy = accuracy; self.sequenceAccuracy = sequenceAccuracy; self.testLoss = testLoss
        self.finalTrainLoss = finalTrainLoss; self.elapsedSeconds = elapsedSeconds; self.evaluations = evaluations
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", task, spec, steps, parameters, chance, accuracy, sequenceAccuracy = "sequence_accuracy"
        case testLoss = "test_loss", finalTrainLoss = "final_train_loss", elapsedSeconds = "elapsed_s", evaluations
    }
}

/// A task whose batches are real-valued (`TaskBatch.regression`), trained through the real-valued path. Its
/// `RegressionBatch.targets` hold either one value per sequence [B], read at the last position, or one per
/// position [B·T], where NaN marks a position that is not scored.
public protocol RealValuedTask: CapabilityTask {
    /// Width F of each input vector.
    var featureWidth: Int { get }
}

/// The real-valued path for regression tasks: a Linear embedding of each column into the model width, the
/// spec's positional scheme and blocks, its final norm, and a Linear read-out of one value per position.
final class VectorTaskModel: Module {
    let embed: Linear
    let body: TransformerModel
    let readout: Linear

    init(body: TransformerModel, width: Int, rng: inout RNG) {
        self.body = body
        embed = Linear(width, body.spec.dim, bias: true, rng: &rng)
        readout = Linear(body.spec.dim, 1, bias: true, rng: &rng)
        super.init()
    }

    /// Final hidden states [B, T, C] of features [B, T, F].
    private func hidden(_ features: Tensor) -> Tensor {
        var h = body.positional.embed(embed(features), offset: 0)
        for (i, block) in body.blocks.enumerated() {
            h = block.forward(h, context: MixerContext(positional: body.positional, layer: i), cache: nil)
        }
        if let n = body.finalNorm { h = n.normalize(h, site: .final, scratch: BlockScratch()) }
        return h
    }

    /// Predictions [B] at the last position of features [B, T, F].
    func predict(_ features: Tensor) -> Tensor {
        let b = features.shape[0], t = features.shape[1]
        return readout(hidden(features).slice(axis: 1, (t - 1)..<t).reshaped([b, body.spec.dim])).reshaped([b])
    }

    /// Predictions [B, T] at every position of features [B, T, F].
    func predictAll(_ features: Tensor) -> Tensor {
        let b = features.shape[0], t = features.shape[1]
        return readout(hidden(features)).reshaped([b, t])
    }
}

/// Trains a decoder spec on a capability task with AdamW and measures held-out accuracy; stores a run of kind
/// `task` (metrics, evaluation rows `test` (loss and accuracy), and `least_squares` for
/// regression, and the `TaskResult` as its summary).
public final class TaskRunner {
    /// The task trained on.
    public let task: any CapabilityTask
    /// The spec, with vocabulary and context set from the task.
    public let spec: ModelSpec
    /// Budget and optimizer settings.
    public let config: TaskRunConfig
    /// The model being trained (the body of the regression path for regression tasks).
    public let model: TransformerModel
    let vectorModel: VectorTaskModel?
    let store: RunStore?
    let threads: Int
    /// Progress goes to stderr unless quiet.
    public var quiet = false
    /// Training loss of every step, in order.
    public private(set) var lossHistory: [Double] = []
    /// Test tasks at the extra lengths, built before training so bad lengths fail fast.
    let lengthTasks: [any CapabilityTask]
    /// The task rebuilt with `config.evalKnobs`, tested after training (nil without overrides).
    let shiftedTask: (any CapabilityTask)?

    /// Generator of training batches for `seed` (a stream disjoint from `evaluationRNG`).
    public static func trainingRNG(seed: UInt64) -> RNG { RNG(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1) }
    /// Generator of held-out batches for `seed`: every spec (and the LSA reference) run with one seed is tested
    /// on the same prompts.
    public static func evaluationRNG(seed: UInt64) -> RNG { RNG(seed: seed &* 0xD1B5_4A32_D192_ED03 &+ 0x7E57) }

    /// `task` rebuilt with `overrides` replacing some of its knob values; names it does not have are errors.
    public static func shifted(_ task: any CapabilityTask, _ overrides: [String: String]) throws -> any CapabilityTask {
        var knobs = Dictionary(task.knobs.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        for (k, v) in overrides {
            guard knobs[k] != nil else {
                throw TaskError("--eval-knob \(k): \(task.id) has no such knob (its knobs: \(task.knobs.map(\.name).joined(separator: ", ")))")
            }
            knobs[k] = v
        }
        return try CapabilityTasks.make(task.id, knobs: knobs)
    }

    /// The label of a shifted test: its overrides as sorted `name=value` pairs.
    public static func shiftLabel(_ overrides: [String: String]) -> String {
        overrides.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// Prepares a run; the spec's vocabulary and context are set from the task (context covers `evalLengths`).
    public init(task: any CapabilityTask, spec: ModelSpec, config: TaskRunConfig, store: RunStore?, threads: Int) throws {
        guard spec.model == .decoder else { throw TaskError("tasks train decoders; spec \(spec.name) is an encoder") }
        guard config.steps >= 1, config.batchSize >= 1, config.evalBatches >= 1 else {
            throw TaskError("--steps, --batch and --eval-batches must be at least 1")
        }
        var extra: [any CapabilityTask] = []
        if !config.evalLengths.isEmpty {
            var knobs = Dictionary(task.knobs.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
            guard knobs["length"] != nil else {
                throw TaskError("\(task.id) has no length knob, so --eval-lengths does not apply (its knobs: \(task.knobs.map(\.name).joined(separator: ", ")))")
            }
            for l in config.evalLengths where l != task.length {
                knobs["length"] = "\(l)"
                extra.append(try CapabilityTasks.make(task.id, knobs: knobs))
            }
        }
        lengthTasks = extra
        shiftedTask = config.evalKnobs.isEmpty ? nil : try TaskRunner.shifted(task, config.evalKnobs)
        var s = spec
        s.vocabSize = max(task.vocabSize, 2)   // specs need V ≥ 2
        s.contextLength = ([task.length] + extra.map { $0.length }).max()!
        self.task = task
        self.spec = s
        self.config = config
        self.store = store
        self.threads = threads
        try s.requireTrainingFits(batch: config.batchSize)
        model = try TransformerModel(spec: s, seed: config.seed)
        if let real = task as? any RealValuedTask {
            var rng = RNG(seed: config.seed &+ 7)
            vectorModel = VectorTaskModel(body: model, width: real.featureWidth, rng: &rng)
        } else {
            vectorModel = nil
        }
    }

    private func say(_ text: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Loss of one batch: cross-entropy at scored positions, or MSE at the query (or at every scored position) for
    /// real-valued tasks.
    func loss(_ batch: TaskBatch) -> Tensor {
        if let vectorModel, let r = batch.regression {
            let (b, t) = (batch.batchSize, batch.length)
            let x = Tensor(r.features, shape: [b, t, r.width])
            if r.targets.count == b * t {
                // Per-position targets; NaN = unscored, so mask it out and average over the scored ones.
                let mask = r.targets.map { $0.isNaN ? Float(0) : 1 }
                let scored = max(mask.reduce(0, +), 1)
                let d = (vectorModel.predictAll(x) - Tensor(r.targets.map { $0.isNaN ? 0 : $0 }, shape: [b, t]))
                    * Tensor(mask, shape: [b, t])
                return (d * d).sum() / scored
            }
            let d = vectorModel.predict(x) - Tensor(r.targets, shape: [b])
            return (d * d).mean()
        }
        return model.loss(inputs: batch.inputs, targets: batch.targets, batch: batch.batchSize, length: batch.length)
    }

    /// Trains for `config.steps` steps, evaluates at every length and stores the run.
    @discardableResult
    public func run() throws -> TaskResult {
        try Threads.$limit.withValue(threads) { try loop() }
    }

    private func loop() throws -> TaskResult {
        let params = vectorModel?.parameters() ?? model.parameters()
        let optimizer = AdamW(parameters: params, options: .init(learningRate: config.learningRate, beta1: 0.9, beta2: 0.95,
                                                                 weightDecay: config.weightDecay))
        let schedule = LearningRateSchedule.cosine(warmup: config.warmup, minRatio: 0.1)
        var run: RunRecord?
        if let store {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            struct Setup: Encodable { var task: String; var knobs: [String: String]; var config: TaskRunConfig }
            let setup = Setup(task: task.id, knobs: Dictionary(task.knobs.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }),
                              config: config)
            let configJSON = String(decoding: try encoder.encode(setup), as: UTF8.self)
            run = try store.createRun(name: "\(task.id)-\(spec.name)", kind: .task, specJSON: spec.json.jsonText(),
                                      configJSON: configJSON, parameterCount: model.parameterCount, seed: config.seed,
                                      threads: threads)
            try AtomicFile.write(spec.json.jsonText(), to: run!.directory.appendingPathComponent("spec.json"))
            try AtomicFile.write(configJSON, to: run!.directory.appendingPathComponent("config.json"))
        }
        say("strata tasks: \(task.id) on \(spec.name), \(String(format: "%.3f", Double(model.parameterCount) / 1e6)) M parameters, "
            + "\(config.steps) steps × \(config.batchSize) × \(task.length)" + (run.map { ", run \($0.id)" } ?? ""))
        let start = BenchTimer.now()
        // Disjoint streams: training batches and test batches never share a generator state.
        var trainRNG = TaskRunner.trainingRNG(seed: config.seed)
        let progress = quiet ? nil : ProgressBar(total: config.steps, label: task.id)
        var window: [Double] = []
        do {
            for step in 0..<config.steps {
                optimizer.learningRate = config.learningRate * schedule.multiplier(step: step, totalSteps: config.steps)
                let l = loss(task.batch(size: config.batchSize, rng: &trainRNG))
                l.backward()
                let value = Double(l.item)
                let norm = config.gradClip > 0 ? clipGradientNorm(params, maxNorm: config.gradClip) : 0
                guard value.isFinite, norm.isFinite else {
                    throw NonFiniteError(step: step, diagnosis: "loss \(value), gradient norm \(norm); lower --lr")
                }
                optimizer.update()
                lossHistory.append(value)
                window.append(value)
                if (step + 1) % config.logEvery == 0 || step + 1 == config.steps {
                    let mean = window.reduce(0, +) / Double(window.count)
                    if let id = run?.id { try store?.logMetrics(runID: id, step: step + 1, [RunMetric.trainLoss: mean]) }
                    progress?.update(step: step + 1, fields: [("loss", String(format: "%.4f", mean))])
                    window = []
                }
            }
        } catch {
            progress?.finish()
            if let id = run?.id { try? store?.finish(runID: id, status: .failed, summary: ["error": "\(error)"]) }
            throw error
        }
        progress?.finish()
        var evalRNG = TaskRunner.evaluationRNG(seed: config.seed)
        var evaluations = ([task] + lengthTasks).map { t in evaluate(t, rng: &evalRNG) }
        if let shiftedTask {
            var e = evaluate(shiftedTask, rng: &evalRNG)
            e.shift = TaskRunner.shiftLabel(config.evalKnobs)
            evaluations.append(e)
        }
        let main = evaluations[0]
        let tail = lossHistory.suffix(10)
        let result = TaskResult(runID: run?.id, task: task.id, spec: spec.name, steps: config.steps,
                                parameters: vectorModel?.parameterCount ?? model.parameterCount, chance: task.chance,
                                accuracy: main.accuracy, sequenceAccuracy: main.sequenceAccuracy, testLoss: main.loss,
                                finalTrainLoss: tail.reduce(0, +) / Double(max(tail.count, 1)),
                                elapsedSeconds: BenchTimer.now() - start, evaluations: evaluations)
        if let id = run?.id, let store { try record(result, runID: id, in: store) }
        return result
    }

    /// Stores the evaluation rows, final metrics and summary of a finished run.
    private func record(_ result: TaskResult, runID id: String, in store: RunStore) throws {
        let seen = config.steps * config.batchSize * task.length
        for e in result.evaluations {
            let suffix = e.shift.map { "@" + $0 } ?? (e.length == task.length ? "" : "@\(e.length)")
            try store.logEvaluation(runID: id, step: config.steps, split: "test" + suffix, loss: e.loss, bpb: nil,
                                    tokensSeen: seen, elapsedSeconds: result.elapsedSeconds, accuracy: e.accuracy)
            if let m = e.globalMinimumMSE {
                try store.logEvaluation(runID: id, step: config.steps, split: "lsa_global_min" + suffix, loss: m,
                                        bpb: nil, tokensSeen: seen, elapsedSeconds: result.elapsedSeconds)
            }
            if let ols = e.leastSquaresMSE {
                try store.logEvaluation(runID: id, step: config.steps, split: "least_squares" + suffix, loss: ols,
                                        bpb: nil, tokensSeen: seen, elapsedSeconds: result.elapsedSeconds)
            }
        }
        var metrics: [String: Double] = [:]
        if let a = result.accuracy { metrics["accuracy"] = a }
        if let s = result.sequenceAccuracy { metrics["sequence_accuracy"] = s }
        if !metrics.isEmpty { try store.logMetrics(runID: id, step: config.steps, metrics) }
        try store.finish(runID: id, status: .finished, summary: result)
    }

    /// Held-out accuracy (or MSE) of `task` over `config.evalBatches` fresh batches.
    func evaluate(_ task: any CapabilityTask, rng: inout RNG) -> TaskEvaluation {
        model.train(false)
        defer { model.train(true) }
        if let icl = task as? ICLRegressionTask, let main = self.task as? ICLRegressionTask {
            return evaluateRegression(icl, batches: config.evalBatches, batchSize: config.batchSize,
                                      inverseGamma: main.inverseGamma, shift: false, rng: &rng) { batch in
                Double(withNoGrad { loss(batch) }.item)
            }
        }
        if task is any RealValuedTask { return evaluateSignal(task, rng: &rng) }
        var correct = 0, scored = 0, sequencesRight = 0, sequences = 0
        var lossSum = 0.0
        for _ in 0..<config.evalBatches {
            let batch = task.batch(size: config.batchSize, rng: &rng)
            let logits = withNoGrad { model.logits(batch.inputs, batch: batch.batchSize, length: batch.length) }
            let v = spec.vocabSize, t = batch.length
            lossSum += Double(withNoGrad {
                crossEntropy(logits: logits.reshaped([batch.batchSize * t, v]), targets: batch.targets)
            }.item)
            let values = logits.scalars
            for b in 0..<batch.batchSize {
                var allRight = true, any = false
                for i in (b * t)..<((b + 1) * t) where batch.targets[i] != TaskBatch.ignored {
                    let row = values[(i * v)..<((i + 1) * v)]
                    let guess = row.indices.max { row[$0] < row[$1] }! - i * v
                    any = true
                    scored += 1
                    if Int32(guess) == batch.targets[i] { correct += 1 } else { allRight = false }
                }
                if any { sequences += 1; if allRight { sequencesRight += 1 } }
            }
        }
        let n = Double(config.evalBatches)
        return TaskEvaluation(length: task.length, accuracy: Double(correct) / Double(max(scored, 1)),
                              sequenceAccuracy: task.scoresSequences ? Double(sequencesRight) / Double(max(sequences, 1)) : nil,
                              loss: lossSum / n, leastSquaresMSE: nil, zeroMSE: nil)
    }
}

extension TaskRunner {
    /// Held-out MSE and NRMSE of a real-valued task with per-position targets: Σ squared error over every scored
    /// position of `config.evalBatches` fresh batches, divided by the variance of those targets.
    func evaluateSignal(_ task: any CapabilityTask, rng: inout RNG) -> TaskEvaluation {
        var squared = 0.0, count = 0.0, sum = 0.0, sumSquares = 0.0
        for _ in 0..<config.evalBatches {
            let batch = task.batch(size: config.batchSize, rng: &rng)
            let r = batch.regression!
            let x = Tensor(r.features, shape: [batch.batchSize, batch.length, r.width])
            let predictions = withNoGrad { vectorModel!.predictAll(x) }.scalars
            for (p, y) in zip(predictions, r.targets) where !y.isNaN {
                let e = Double(p) - Double(y)
                squared += e * e; count += 1; sum += Double(y); sumSquares += Double(y) * Double(y)
            }
        }
        let mse = squared / max(count, 1)
        let mean = sum / max(count, 1)
        let variance = max(sumSquares / max(count, 1) - mean * mean, 1e-30)
        var e = TaskEvaluation(length: task.length, accuracy: nil, sequenceAccuracy: nil, loss: mse,
                               leastSquaresMSE: nil, zeroMSE: sumSquares / max(count, 1))
        e.nrmse = (mse / variance).squareRoot()
        return e
    }
}
