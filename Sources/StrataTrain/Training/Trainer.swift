import Foundation
import StrataCore
import StrataKernels
import StrataModels
import StrataNN

/// What a finished (or stopped) training run reports.
public struct TrainOutcome: Codable, Sendable {
    public var runID: String?
    public var status: String
    public var steps: Int
    public var tokensSeen: Int
    public var validationLoss: Double?
    public var validationBPB: Double?
    public var tokensPerSecond: Double
    public var elapsedSeconds: Double
    public var peakMemoryMB: Double
    public var parameters: Int

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", status, steps, tokensSeen = "tokens_seen", validationLoss = "val_loss"
        case validationBPB = "val_bpb", tokensPerSecond = "tokens_per_s", elapsedSeconds = "elapsed_s"
        case peakMemoryMB = "peak_memory_mb", parameters
    }
}

/// Training stopped because a loss or gradient stopped being finite: says where.
public struct NonFiniteError: Error, CustomStringConvertible {
    public var step: Int
    public var diagnosis: String
    public var description: String { "training diverged at step \(step): \(diagnosis)" }
}

/// The training loop: sampled batches, AdamW/Lion/Muon with a schedule, clipping, accumulation, periodic
/// evaluation (loss, bits per byte, probes), atomic checkpoints, a NaN/Inf guard, Ctrl-C handling and exact
/// resume. Everything is logged to the run store when one is given.
public final class Trainer {
    public let spec: ModelSpec
    public let config: TrainConfig
    public let model: TransformerModel
    public let tokenizer: any Tokenizer
    let optimizer: any Optimizer
    let train: TokenSplit
    let validation: TokenSplit
    var sampler: BatchSampler
    let store: RunStore?
    public private(set) var run: RunRecord?
    let threads: Int
    /// Progress and messages go to stderr unless quiet.
    public var quiet = false
    var step = 0
    var plannedSteps: Int?
    var tokensSeen = 0
    var elapsedBefore = 0.0
    /// Mean training loss of every step taken by this process, in order (for tests and reports).
    public private(set) var lossHistory: [Double] = []
    /// Stop as if interrupted once this step is reached (tests of exact resume).
    package var stopAtStep: Int?

    /// A new run of `spec` under `config`; `store` nil trains without saving anything.
    public init(spec: ModelSpec, config: TrainConfig, store: RunStore?, threads: Int) throws {
        let problems = config.problems()
        guard problems.isEmpty else { throw TrainingSetupError(problems.joined(separator: "; ")) }
        self.spec = spec
        self.config = config
        self.store = store
        self.threads = threads
        tokenizer = try Trainer.makeTokenizer(config.tokenizer)
        guard tokenizer.vocabSize <= spec.vocabSize else {
            throw TrainingSetupError("the tokenizer has \(tokenizer.vocabSize) tokens but the spec's vocab_size is \(spec.vocabSize); use --set vocab_size=\(tokenizer.vocabSize)")
        }
        let dataset = try Trainer.loadData(config.data, tokenizer: tokenizer)
        (train, validation) = try dataset.trainingSplit(validationFraction: config.validationFraction, context: spec.contextLength)
        model = try TransformerModel(spec: spec, seed: config.seed)
        optimizer = Trainer.makeOptimizer(config, model: model)
        sampler = try BatchSampler(split: train, batchSize: config.batchSize, context: spec.contextLength,
                                   seed: config.seed &+ 1)
        plannedSteps = config.steps
    }

    /// Continues the run `runID` from its last checkpoint with its own spec and config.
    public convenience init(resuming runID: String, store: RunStore, threads: Int) throws {
        let record = try store.run(id: runID)
        let url = record.checkpointsDirectory.appendingPathComponent("latest.safetensors")
        let ckpt = try Checkpoint.load(url)
        guard let config = ckpt.config else { throw TrainingSetupError("\(url.path) holds no training config") }
        try self.init(spec: ckpt.spec, config: config, store: nil, threads: threads)
        try model.load(stateDict: ckpt.model)
        try optimizer.loadState(ckpt.optimizer)
        if let s = ckpt.sampler { sampler.state = s }
        step = ckpt.step
        plannedSteps = ckpt.plannedSteps
        tokensSeen = ckpt.tokensSeen
        elapsedBefore = ckpt.elapsedSeconds
        attach(store: store, run: record)
    }

    private var resumedStore: RunStore?
    private func attach(store: RunStore, run: RunRecord) {
        resumedStore = store
        self.run = run
    }
    private var activeStore: RunStore? { store ?? resumedStore }

    static func makeTokenizer(_ name: String) throws -> any Tokenizer {
        if name == "byte" { return ByteTokenizer() }
        return try BPETokenizer.load(from: URL(fileURLWithPath: name))
    }

    static func loadData(_ path: String, tokenizer: any Tokenizer) throws -> TokenDataset {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingSetupError("data file \(path) does not exist (run from the repository root for the bundled data/kjv.txt, or pass --data FILE)")
        }
        let head = (try? FileHandle(forReadingFrom: url).read(upToCount: 8)) ?? nil
        if head == Data("STRATOK1".utf8) { return try TokenDataset(tokenFile: url) }
        return try TokenDataset(textFile: url, tokenizer: tokenizer)
    }

    static func makeOptimizer(_ c: TrainConfig, model: TransformerModel) -> any Optimizer {
        let adam = AdamW.Options(learningRate: c.learningRate, beta1: c.beta1, beta2: c.beta2, weightDecay: c.weightDecay)
        switch c.optimizer {
        case "lion":
            return Lion(parameters: model.parameters(),
                        options: .init(learningRate: c.learningRate, beta1: c.beta1, beta2: 0.99, weightDecay: c.weightDecay))
        case "muon":
            return Muon(namedParameters: model.namedParameters(),
                        options: .init(learningRate: c.muonLearningRate, weightDecay: c.weightDecay, adamW: adam))
        default:
            return AdamW(parameters: model.parameters(), options: adam)
        }
    }

    private func say(_ text: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Runs to the planned step count (or the time budget), evaluating and checkpointing along the way.
    @discardableResult
    public func runTraining() throws -> TrainOutcome {
        try Threads.$limit.withValue(threads) { try loop() }
    }

    private func loop() throws -> TrainOutcome {
        Interrupt.install()
        PeakMemory.reset()
        if run == nil, let store {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            let configJSON = String(decoding: try encoder.encode(config), as: UTF8.self)
            run = try store.createRun(name: spec.name, kind: .train, specJSON: spec.json.jsonText(), configJSON: configJSON,
                                      parameterCount: model.parameterCount, seed: config.seed, threads: threads)
            try AtomicFile.write(spec.json.jsonText(), to: run!.directory.appendingPathComponent("spec.json"))
            try AtomicFile.write(configJSON, to: run!.directory.appendingPathComponent("config.json"))
        }
        let t = spec.contextLength, b = config.batchSize
        let tokensPerStep = b * t * config.accumulation
        let evalSet = try EvaluationBatches(split: validation, batchSize: b, context: t, maxBatches: config.evalBatches)
        let evalBytes = evalSet.targetByteCount(using: tokenizer)
        say("strata train: \(spec.name), \(String(format: "%.2f", Double(model.parameterCount) / 1e6)) M parameters, "
            + "\(train.count) training tokens, batch \(b)×\(config.accumulation)×\(t), \(threads) threads"
            + (run.map { ", run \($0.id)" } ?? ""))
        let start = BenchTimer.now()
        func elapsed() -> Double { elapsedBefore + BenchTimer.now() - start }
        var progress: ProgressBar?
        var lossSum = 0.0, lossCount = 0, intervalStart = BenchTimer.now(), intervalTokens = 0
        var lastEval: (loss: Double, bpb: Double)?
        var status = RunStatus.finished
        var lastGradNorm: Float = 0
        func checkpoint() throws {
            guard let run else { return }
            try Checkpoint.save(to: run.checkpointsDirectory.appendingPathComponent("latest.safetensors"), model: model,
                                optimizer: optimizer, config: config, step: step, plannedSteps: plannedSteps ?? step,
                                sampler: sampler.state, tokensSeen: tokensSeen, elapsedSeconds: elapsed())
        }
        func evaluate() throws {
            let (loss, bpb) = evaluation(evalSet, bytes: evalBytes)
            lastEval = (loss, bpb)
            if let id = run?.id, let s = activeStore {
                try s.logEvaluation(runID: id, step: step, split: "validation", loss: loss, bpb: bpb, tokensSeen: tokensSeen,
                                    elapsedSeconds: elapsed())
                let probes = ProbeRecorder()
                let first = evalSet.batch(0)
                model.train(false)
                _ = withNoGrad { model.logits(first.inputs, batch: first.batchSize, length: t, probes: probes) }
                model.train(true)
                try s.logProbes(runID: id, step: step, probes.rows.map { (layer: $0.layer, name: $0.name, value: $0.value) })
            }
            progress?.note(String(format: "step %d: validation loss %.4f, %.4f bits/byte", step, loss, bpb))
        }
        do {
            while plannedSteps.map({ step < $0 }) ?? true {
                if Interrupt.isRequested || stopAtStep.map({ step >= $0 }) == true { status = .interrupted; break }
                let lr = config.learningRate * config.schedule.multiplier(step: step, totalSteps: plannedSteps ?? 1_000_000)
                optimizer.learningRate = config.optimizer == "muon" ? config.muonLearningRate * lr / config.learningRate : lr
                var stepLoss = 0.0
                for _ in 0..<config.accumulation {
                    let batch = sampler.next()
                    let loss = model.loss(inputs: batch.inputs, targets: batch.targets, batch: batch.batchSize, length: t)
                    let scaled = config.accumulation > 1 ? loss / Float(config.accumulation) : loss
                    scaled.backward()
                    stepLoss += Double(loss.item) / Double(config.accumulation)
                }
                let gradNorm = config.gradClip > 0 ? clipGradientNorm(model.parameters(), maxNorm: config.gradClip) : 0
                if !stepLoss.isFinite || !gradNorm.isFinite { throw NonFiniteError(step: step, diagnosis: diagnose(stepLoss)) }
                lastGradNorm = gradNorm
                optimizer.update()
                step += 1
                tokensSeen += tokensPerStep
                lossSum += stepLoss; lossCount += 1; intervalTokens += tokensPerStep
                lossHistory.append(stepLoss)
                if let budget = config.timeBudget, config.steps == nil {
                    // A time budget: the planned total is re-estimated after every step from the speed so far
                    // (measured from step 3, past one-time start-up costs; evaluations included), so the schedule
                    // tracks the clock and the run ends on time even when the machine's load changes.
                    if step == 3 { planStart = (step, elapsed()) }
                    if step >= 3 {
                        plannedSteps = plan(budget: budget, elapsed: elapsed())
                        progress?.total = plannedSteps!
                    }
                }
                if progress == nil, let total = plannedSteps {
                    progress = quiet ? nil : ProgressBar(total: total, label: "train", initialStep: step - 1)
                }
                if step % config.logEvery == 0 || step == plannedSteps {
                    let now = BenchTimer.now()
                    let rate = Double(intervalTokens) / max(now - intervalStart, 1e-9)
                    if let id = run?.id, let s = activeStore {
                        try s.logMetrics(runID: id, step: step, [
                            RunMetric.trainLoss: lossSum / Double(lossCount), RunMetric.learningRate: Double(lr),
                            RunMetric.tokensPerSecond: rate, RunMetric.gradNorm: Double(lastGradNorm),
                            RunMetric.peakMemoryBytes: PeakMemory.peakMB() * 1_048_576,
                        ])
                    }
                    progress?.update(step: step, fields: [("loss", String(format: "%.3f", lossSum / Double(lossCount))),
                                                          ("tok/s", TerminalFormat.grouped(Int(rate)))])
                    lossSum = 0; lossCount = 0; intervalStart = now; intervalTokens = 0
                }
                if step % config.evalEvery == 0 && step != plannedSteps {
                    try evaluate()
                    try checkpoint()
                }
                if let budget = config.timeBudget, config.steps == nil, elapsed() > budget * 1.02 {
                    progress?.note("time budget exceeded; stopping at step \(step)")
                    break
                }
            }
        } catch let e as NonFiniteError {
            progress?.finish()
            if let id = run?.id { try? activeStore?.finish(runID: id, status: .failed, summary: ["error": e.description]) }
            throw e
        }
        progress?.finish()
        try evaluate()
        try checkpoint()
        let seconds = elapsed()
        let outcome = TrainOutcome(runID: run?.id, status: status.rawValue, steps: step, tokensSeen: tokensSeen,
                                   validationLoss: lastEval?.loss, validationBPB: lastEval?.bpb,
                                   tokensPerSecond: Double(tokensSeen) / max(seconds, 1e-9), elapsedSeconds: seconds,
                                   peakMemoryMB: PeakMemory.peakMB(), parameters: model.parameterCount)
        if let id = run?.id { try activeStore?.finish(runID: id, status: status, summary: outcome) }
        return outcome
    }

    private var planStart: (step: Int, elapsed: Double) = (0, 0)

    /// Steps that fit the budget at the speed measured since step 3 (evaluations included in that speed),
    /// keeping back the time of the final evaluation (a forward is about a third of a training step).
    private func plan(budget: Double, elapsed: Double) -> Int {
        let measured = step - planStart.step
        let perStep = measured > 0 ? (elapsed - planStart.elapsed) / Double(measured) : elapsed / Double(max(step, 1))
        let finalEval = perStep * Double(config.evalBatches) / Double(3 * config.accumulation)
        let remaining = budget - elapsed - finalEval
        return max(step + 1, step + Int(remaining / max(perStep, 1e-9)))
    }

    /// Mean validation loss (nats per token) and bits per byte over the evaluation batches.
    public func evaluation(_ set: EvaluationBatches, bytes: Int) -> (loss: Double, bpb: Double) {
        evaluateLoss(model, on: set, bytes: bytes)
    }

    /// Names the first parameter whose gradient or value is not finite.
    private func diagnose(_ loss: Double) -> String {
        for (name, p) in model.namedParameters() {
            if p.value.scalars.contains(where: { !$0.isFinite }) { return "loss \(loss); parameter \(name) holds non-finite values" }
            if let g = p.grad, g.scalars.contains(where: { !$0.isFinite }) {
                return "loss \(loss); first non-finite gradient in \(name)"
            }
        }
        return "loss is \(loss) but every gradient is finite (overflow in the loss itself; lower the learning rate?)"
    }

    /// A sample of `length` tokens continuing `prompt`, streamed to `onText`.
    public func sample(prompt: String, length: Int, options: SamplingOptions, onText: (String) -> Void = { _ in }) -> String {
        var ids = tokenizer.encode(prompt)
        if ids.isEmpty { ids = tokenizer.encode("\n") }
        let out = generate(model, prompt: ids, maxTokens: length, options: options) { onText(tokenizer.decode([$0])) }
        return tokenizer.decode(out)
    }
}

/// A training setting that cannot work, said in terms of the flag to change.
public struct TrainingSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
