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
    /// Why the run failed (status `failed`); nil otherwise.
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", status, steps, tokensSeen = "tokens_seen", validationLoss = "val_loss"
        case validationBPB = "val_bpb", tokensPerSecond = "tokens_per_s", elapsedSeconds = "elapsed_s"
        case peakMemoryMB = "peak_memory_mb", parameters, error
    }
}

/// Training stopped because a loss or gradient stopped being finite: says where.
public struct NonFiniteError: Error, CustomStringConvertible {
    public var step: Int
    public var diagnosis: String
    public var description: String { "training diverged at step \(step): \(diagnosis)" }
}

/// The training loop: sampled batches, AdamW/Lion/Muon with a schedule, clipping, accumulation, periodic
/// evaluation (loss, bits per byte, probes), atomic checkpoints (at evaluations and every `checkpointEvery`
/// seconds), a NaN/Inf guard, Ctrl-C / SIGTERM handling and exact resume. Everything is logged to the run store
/// when one is given; the run holds its lock while it trains and ends `finished`, `interrupted` or `failed`.
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
    /// Vanish once this step is reached, as a `kill -9` would: no final checkpoint, no status, lock dropped (tests).
    package var simulateCrashAtStep: Int?
    /// Called at the end of every step with the step count (tests inject failures with it).
    package var afterStep: ((Int) throws -> Void)?
    /// The outcome of the last `runTraining`, also when it threw (status `failed` and the error), for `--json`.
    public private(set) var lastOutcome: TrainOutcome?
    /// Re-plan the step count from the clock after every step (time budgets). A resumed run keeps the total
    /// planned at its checkpoint, so that its remaining steps, and their schedule, do not depend on the clock.
    var replanByTime = true
    /// Step of the last checkpoint written or loaded; a checkpoint that would repeat it is skipped.
    var checkpointedStep: Int?

    /// A new run of `spec` under `config`; `store` nil trains without saving anything.
    public init(spec: ModelSpec, config: TrainConfig, store: RunStore?, threads: Int) throws {
        let problems = config.problems()
        guard problems.isEmpty else { throw TrainingSetupError(problems.joined(separator: "; ")) }
        // The loss is next-token prediction over a causal mask; an encoder has neither (train it with a task).
        guard spec.model == .decoder else {
            throw TrainingSetupError("the spec's \"model\" is \"\(spec.model.rawValue)\": strata train trains causal decoders "
                + "(\"model\": \"decoder\"); encoders are loaded for embedding and scoring (strata embed, strata import)")
        }
        self.spec = spec
        self.config = config
        self.store = store
        self.threads = threads
        // Before anything is allocated: a spec that cannot be built, or a step that cannot fit in memory, is refused
        // with every problem (or the estimate) in the message.
        try spec.requireTrainingFits(batch: config.batchSize)
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
    ///
    /// Takes the run's lock first (a run another process still trains is refused, naming its pid), deletes the
    /// rows logged after the checkpoint's step (a killed process logs past its last checkpoint), and marks the
    /// run `running` again. `steps` extends the run to that many steps in total (more than the checkpoint's); a
    /// run that already reached its planned steps needs it; the schedule then spans the new total (so the steps
    /// after the checkpoint differ from the first run's plan). `checkpointEvery` replaces the wall-time checkpoint
    /// interval. Everything else comes from the checkpoint.
    public convenience init(resuming runID: String, store: RunStore, threads: Int, steps: Int? = nil,
                            checkpointEvery: Double? = nil) throws {
        let record = try store.run(id: runID)
        guard record.kind == .train else {
            throw TrainingSetupError("run \(record.id) is a \(record.kind.rawValue) run; only train runs can be resumed")
        }
        try store.acquireLock(runID: record.id)
        var ready = false
        defer { if !ready { store.releaseLock(runID: record.id) } }
        let url = record.checkpointsDirectory.appendingPathComponent("latest.safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TrainingSetupError("run \(record.id) has no checkpoint to resume from (\(url.path) does not exist): it stopped "
                + "before its first one (written at the first evaluation or after --checkpoint-every); start a new run, and "
                + "remove this one with `strata runs rm \(record.id)`")
        }
        let ckpt = try Checkpoint.load(url)
        guard var config = ckpt.config else { throw TrainingSetupError("\(url.path) holds no training config") }
        var planned = ckpt.plannedSteps
        // Checkpoint timing changes no result, so it may differ from the first run's.
        if let checkpointEvery { config.checkpointEvery = checkpointEvery }
        if let steps {
            guard steps > ckpt.step else {
                throw TrainingSetupError("--steps \(steps) with --resume: run \(record.id) is at step \(ckpt.step) already; "
                    + "--steps is the new total and must exceed it")
            }
            config.steps = steps
            config.timeBudget = nil
            planned = steps
        } else if ckpt.step >= planned || (record.status == .finished && config.steps == nil) {
            throw TrainingSetupError("run \(record.id) finished its \(ckpt.step) steps; to train it further pass --steps N "
                + "(the new total, more than \(ckpt.step)) with --resume")
        }
        let problems = config.problems()
        guard problems.isEmpty else {
            throw TrainingSetupError("the config stored in \(url.path) cannot be used: " + problems.joined(separator: "; "))
        }
        try self.init(spec: ckpt.spec, config: config, store: nil, threads: threads)
        try model.load(stateDict: ckpt.model)
        try optimizer.loadState(ckpt.optimizer)
        if let s = ckpt.sampler { sampler.state = s }
        step = ckpt.step
        plannedSteps = planned
        replanByTime = false
        checkpointedStep = ckpt.step
        tokensSeen = ckpt.tokensSeen
        elapsedBefore = ckpt.elapsedSeconds
        try store.deleteRows(runID: record.id, afterStep: ckpt.step)
        var configJSON: String?
        if steps != nil || checkpointEvery != nil {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            configJSON = String(decoding: try encoder.encode(config), as: UTF8.self)
            try AtomicFile.write(configJSON!, to: record.directory.appendingPathComponent("config.json"))
        }
        try store.markRunning(runID: record.id, configJSON: configJSON)
        attach(store: store, run: record)
        ready = true
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
        case "sgd":
            // Plain SGD (no momentum) with the same decoupled decay as AdamW: the optimizer the catalog's
            // training-equivalence checks are stated for.
            return SGD(parameters: model.parameters(), options: .init(learningRate: c.learningRate, weightDecay: c.weightDecay))
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
            do {
                try AtomicFile.write(spec.json.jsonText(), to: run!.directory.appendingPathComponent("spec.json"))
                try AtomicFile.write(configJSON, to: run!.directory.appendingPathComponent("config.json"))
            } catch {
                try? store.finish(runID: run!.id, status: .failed, summary: ["error": "\(error)"])
                throw error
            }
        }
        let start = BenchTimer.now()
        do {
            return try trainingLoop(start: start)
        } catch let crash as SimulatedCrash {
            if let id = run?.id { activeStore?.releaseLock(runID: id) }
            throw crash
        } catch {
            // Any failure inside the loop (divergence, a full disk, an unreadable batch) ends the run `failed`
            // with the error in its summary, so no run stays `running` behind a live process's back.
            let seconds = elapsedBefore + BenchTimer.now() - start
            let outcome = TrainOutcome(runID: run?.id, status: RunStatus.failed.rawValue, steps: step, tokensSeen: tokensSeen,
                                       validationLoss: nil, validationBPB: nil,
                                       tokensPerSecond: Double(tokensSeen) / max(seconds, 1e-9), elapsedSeconds: seconds,
                                       peakMemoryMB: PeakMemory.peakMB(), parameters: model.parameterCount, error: "\(error)")
            lastOutcome = outcome
            if let id = run?.id {
                try? activeStore?.finish(runID: id, status: .failed, summary: outcome)
                activeStore?.releaseLock(runID: id)
            }
            throw error
        }
    }

    private func trainingLoop(start: Double) throws -> TrainOutcome {
        let t = spec.contextLength, b = config.batchSize
        let tokensPerStep = b * t * config.accumulation
        let evalSet = try EvaluationBatches(split: validation, batchSize: b, context: t, maxBatches: config.evalBatches)
        let evalBytes = evalSet.targetByteCount(using: tokenizer)
        say("strata train: \(spec.name), \(String(format: "%.2f", Double(model.parameterCount) / 1e6)) M parameters, "
            + "\(train.count) training tokens, batch \(b)×\(config.accumulation)×\(t), \(threads) threads"
            + (run.map { ", run \($0.id)" } ?? ""))
        func elapsed() -> Double { elapsedBefore + BenchTimer.now() - start }
        var progress: ProgressBar?
        var lossSum = 0.0, lossCount = 0, intervalStart = BenchTimer.now(), intervalTokens = 0
        var lastEval: (step: Int, loss: Double, bpb: Double)?
        var status = RunStatus.finished
        var lastGradNorm: Float = 0
        var lastCheckpointTime = BenchTimer.now()
        func checkpoint() throws {
            guard let run, checkpointedStep != step else { return }
            try Checkpoint.save(to: run.checkpointsDirectory.appendingPathComponent("latest.safetensors"), model: model,
                                optimizer: optimizer, config: config, step: step, plannedSteps: plannedSteps ?? step,
                                sampler: sampler.state, tokensSeen: tokensSeen, elapsedSeconds: elapsed())
            checkpointedStep = step
            lastCheckpointTime = BenchTimer.now()
        }
        func evaluate() throws {
            let (loss, bpb) = evaluation(evalSet, bytes: evalBytes)
            lastEval = (step, loss, bpb)
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
        var batches: [Batch] = []
        while plannedSteps.map({ step < $0 }) ?? true {
            if simulateCrashAtStep.map({ step >= $0 }) == true { throw SimulatedCrash() }
            if Interrupt.isRequested || stopAtStep.map({ step >= $0 }) == true { status = .interrupted; break }
            let lr = config.learningRate * config.schedule.multiplier(step: step, totalSteps: plannedSteps ?? 1_000_000)
            optimizer.learningRate = config.optimizer == "muon" ? config.muonLearningRate * lr / config.learningRate : lr
            var stepLoss = 0.0
            batches.removeAll(keepingCapacity: true)
            for _ in 0..<config.accumulation {
                let batch = sampler.next()
                batches.append(batch)
                let loss = model.loss(inputs: batch.inputs, targets: batch.targets, batch: batch.batchSize, length: t)
                let scaled = config.accumulation > 1 ? loss / Float(config.accumulation) : loss
                scaled.backward()
                stepLoss += Double(loss.item) / Double(config.accumulation)
            }
            let gradNorm = config.gradClip > 0 ? clipGradientNorm(model.parameters(), maxNorm: config.gradClip) : 0
            if !stepLoss.isFinite || !gradNorm.isFinite {
                throw NonFiniteError(step: step, diagnosis: diagnose(stepLoss, batches: batches))
            }
            lastGradNorm = gradNorm
            optimizer.update()
            step += 1
            tokensSeen += tokensPerStep
            lossSum += stepLoss; lossCount += 1; intervalTokens += tokensPerStep
            lossHistory.append(stepLoss)
            if let budget = config.timeBudget, config.steps == nil, replanByTime {
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
            } else if config.checkpointEvery > 0, plannedSteps != nil, step != plannedSteps,
                      BenchTimer.now() - lastCheckpointTime >= config.checkpointEvery {
                // Wall-time checkpoints bound what a kill -9 loses; they change no state, so resume stays exact.
                // (Not before a time-budget run has planned its total: the checkpoint records that total.)
                try checkpoint()
            }
            try afterStep?(step)
            if let budget = config.timeBudget, config.steps == nil, replanByTime, elapsed() > budget * 1.02 {
                progress?.note("time budget exceeded; stopping at step \(step)")
                break
            }
        }
        progress?.finish()
        // A stop right after an evaluation reuses it instead of logging a second row for the same step.
        if lastEval?.step != step { try evaluate() }
        try checkpoint()
        let seconds = elapsed()
        let outcome = TrainOutcome(runID: run?.id, status: status.rawValue, steps: step, tokensSeen: tokensSeen,
                                   validationLoss: lastEval?.loss, validationBPB: lastEval?.bpb,
                                   tokensPerSecond: Double(tokensSeen) / max(seconds, 1e-9), elapsedSeconds: seconds,
                                   peakMemoryMB: PeakMemory.peakMB(), parameters: model.parameterCount)
        lastOutcome = outcome
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

    /// Where the non-finite values started, in forward order: a parameter that already holds them (left by the
    /// previous update), else the first block whose output is non-finite when the step's batches are run again
    /// (with probes), else the deepest block with a non-finite gradient, since the backward pass runs from the
    /// last block to the first and every parameter before the origin inherits the NaN.
    private func diagnose(_ loss: Double, batches: [Batch]) -> String {
        let parameters = model.namedParameters()
        func nonFinite(_ values: [Float]) -> Bool { values.contains { !$0.isFinite } }
        if let (name, _) = parameters.first(where: { nonFinite($0.1.value.scalars) }) {
            return "loss \(loss); parameter \(name)\(Trainer.layerText(name)) holds non-finite values"
        }
        let t = spec.contextLength
        model.train(false)
        defer { model.train(true) }
        for batch in batches {
            let probes = ProbeRecorder(wantsAttention: false)
            let logits = withNoGrad { model.logits(batch.inputs, batch: batch.batchSize, length: t, probes: probes) }
            for layer in 0..<model.blocks.count {
                let rms = probes.value(layer: layer, name: "residual_rms") ?? 0
                let maxAbs = probes.value(layer: layer, name: "residual_max_abs") ?? 0
                if !rms.isFinite || !maxAbs.isFinite {
                    return "loss \(loss); activations first became non-finite at the output of block \(layer) (layers[\(layer)])"
                        + (layer > 0 ? "; blocks 0…\(layer - 1) are finite" : "")
                }
            }
            if nonFinite(logits.scalars) {
                return "loss \(loss); every block's output is finite but the logits are not (final norm or head)"
            }
        }
        let bad = parameters.filter { $0.1.grad.map { nonFinite($0.scalars) } ?? false }.map(\.0)
        guard let lastBad = bad.last else {
            return "loss is \(loss) but every gradient is finite (overflow in the loss itself; lower the learning rate?)"
        }
        let deepest = bad.compactMap { Trainer.layerIndex($0) }.max()
        let origin = deepest.flatMap { d in bad.first { Trainer.layerIndex($0) == d } } ?? lastBad
        return "loss \(loss); activations are finite but gradients are not: the backward pass first produced non-finite "
            + "gradients in \(origin)\(Trainer.layerText(origin)), and \(bad.count - 1) parameter(s) before it inherited them"
    }

    /// The block index in a parameter name `blocks.<i>.…`, if any.
    static func layerIndex(_ name: String) -> Int? {
        let parts = name.split(separator: ".")
        guard parts.count > 1, parts[0] == "blocks" else { return nil }
        return Int(parts[1])
    }

    private static func layerText(_ name: String) -> String { layerIndex(name).map { " (block \($0))" } ?? "" }

    /// A sample of `length` tokens continuing `prompt`, streamed to `onText`.
    public func sample(prompt: String, length: Int, options: SamplingOptions, onText: (String) -> Void = { _ in }) -> String {
        var ids = tokenizer.encode(prompt)
        if ids.isEmpty { ids = tokenizer.encode("\n") }
        let out = generate(model, prompt: ids, maxTokens: length, options: options) { onText(tokenizer.decode([$0])) }
        return tokenizer.decode(out)
    }
}

/// What `simulateCrashAtStep` throws: the process "died" (tests of what a kill -9 leaves behind).
package struct SimulatedCrash: Error {}

/// A training setting that cannot work, said in terms of the flag to change.
public struct TrainingSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
