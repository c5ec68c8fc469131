import Foundation

/// Everything about a training run except the model: budget, batch, optimizer, schedule, evaluation and
/// data. Stored with each run (`config.json`) so a resumed run continues with identical settings.
public struct TrainConfig: Codable, Equatable, Sendable {
    /// Exact number of optimizer steps; when nil, `timeBudget` decides.
    public var steps: Int?
    /// Wall-clock budget in seconds; the step count is planned from the first steps' speed.
    public var timeBudget: Double?
    /// Sequences per micro-batch.
    public var batchSize = 8
    /// Micro-batches per optimizer step (gradient accumulation).
    public var accumulation = 1
    /// `adamw`, `lion` or `muon`.
    public var optimizer = "adamw"
    /// Peak learning rate (for `muon`, the AdamW group's; matrices use `muonLearningRate`). The default suits the
    /// CPU-sized models Strata trains (the main job); bench-char parity runs pass 3e-4 as nanoGPT does.
    public var learningRate: Float = 3e-3
    /// Learning rate of Muon's orthogonalized matrix updates.
    public var muonLearningRate: Float = 0.02
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    /// Decoupled weight decay on matrix weights (norms, biases and embeddings get none).
    public var weightDecay: Float = 0.1
    public var schedule: LearningRateSchedule = .cosine(warmup: 100, minRatio: 0.1)
    /// Global gradient-norm clip; 0 disables clipping.
    public var gradClip: Float = 1
    /// Evaluate (validation loss, bits per byte, probes) every this many steps and at the end.
    public var evalEvery = 250
    /// Validation batches per evaluation.
    public var evalBatches = 16
    /// Log training metrics every this many steps.
    public var logEvery = 10
    /// Seed of initialization and batch sampling.
    public var seed: UInt64 = 1337
    /// Fraction of the corpus held out for validation.
    public var validationFraction = 0.05
    /// Training text or token file.
    public var data = "data/kjv.txt"
    /// `byte`, or the path of a `tokenizer.json` (byte-level BPE).
    public var tokenizer = "byte"
    /// Characters of text sampled at the end of the run (0: none).
    public var sampleLength = 300
    /// Also checkpoint when this many seconds of wall time have passed since the last checkpoint (0: only at
    /// evaluations), so that a `kill -9` or a power cut loses at most this much training.
    public var checkpointEvery: Double = 300

    public init() {}

    enum CodingKeys: String, CodingKey {
        case steps, timeBudget = "time_budget", batchSize = "batch_size", accumulation, optimizer
        case learningRate = "learning_rate", muonLearningRate = "muon_learning_rate", beta1, beta2
        case weightDecay = "weight_decay", schedule, gradClip = "grad_clip", evalEvery = "eval_every"
        case evalBatches = "eval_batches", logEvery = "log_every", seed, validationFraction = "validation_fraction"
        case data, tokenizer, sampleLength = "sample_length", checkpointEvery = "checkpoint_every"
    }

    /// Decodes every field as stored; `checkpoint_every`, added later, defaults to 300 s so older `config.json`
    /// files and checkpoints still load.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        steps = try c.decodeIfPresent(Int.self, forKey: .steps)
        timeBudget = try c.decodeIfPresent(Double.self, forKey: .timeBudget)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        accumulation = try c.decode(Int.self, forKey: .accumulation)
        optimizer = try c.decode(String.self, forKey: .optimizer)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        muonLearningRate = try c.decode(Float.self, forKey: .muonLearningRate)
        beta1 = try c.decode(Float.self, forKey: .beta1)
        beta2 = try c.decode(Float.self, forKey: .beta2)
        weightDecay = try c.decode(Float.self, forKey: .weightDecay)
        schedule = try c.decode(LearningRateSchedule.self, forKey: .schedule)
        gradClip = try c.decode(Float.self, forKey: .gradClip)
        evalEvery = try c.decode(Int.self, forKey: .evalEvery)
        evalBatches = try c.decode(Int.self, forKey: .evalBatches)
        logEvery = try c.decode(Int.self, forKey: .logEvery)
        seed = try c.decode(UInt64.self, forKey: .seed)
        validationFraction = try c.decode(Double.self, forKey: .validationFraction)
        data = try c.decode(String.self, forKey: .data)
        tokenizer = try c.decode(String.self, forKey: .tokenizer)
        sampleLength = try c.decode(Int.self, forKey: .sampleLength)
        checkpointEvery = try c.decodeIfPresent(Double.self, forKey: .checkpointEvery) ?? 300
    }

    /// Problems with these settings, each naming its flag.
    public func problems() -> [String] {
        var p: [String] = []
        if steps == nil && timeBudget == nil { p.append("give a budget: --steps N or --time DURATION") }
        if let s = steps, s < 1 { p.append("--steps must be at least 1 (got \(s))") }
        if let t = timeBudget, !(t > 0 && t.isFinite) { p.append("--time must be a positive finite duration (got \(t) s)") }
        if batchSize < 1 { p.append("--batch must be at least 1") }
        if accumulation < 1 { p.append("--accumulation must be at least 1") }
        // Beyond these the token counters (batch × context × accumulation per step) could overflow.
        if accumulation > 1_000_000 { p.append("--accumulation must be at most 1000000 (got \(accumulation))") }
        if batchSize > 1_000_000 { p.append("--batch must be at most 1000000 (got \(batchSize))") }
        if !["adamw", "lion", "muon", "sgd"].contains(optimizer) {
            p.append("--optimizer must be adamw, lion, muon or sgd (got \(optimizer))")
        }
        if !(learningRate > 0 && learningRate.isFinite) { p.append("--lr must be a positive finite number (got \(learningRate))") }
        if !(weightDecay >= 0 && weightDecay.isFinite) { p.append("--weight-decay must be a finite number ≥ 0 (got \(weightDecay))") }
        if evalEvery < 1 { p.append("--eval-every must be at least 1") }
        // Every evaluation (and so every evaluation-time checkpoint) needs at least one validation batch.
        if evalBatches < 1 { p.append("--eval-batches must be at least 1 (got \(evalBatches))") }
        if logEvery < 1 { p.append("log_every must be at least 1 (got \(logEvery))") }
        if !(checkpointEvery >= 0 && checkpointEvery.isFinite) {
            p.append("--checkpoint-every must be a duration ≥ 0 (0: checkpoint only at evaluations; got \(checkpointEvery) s)")
        }
        // No flag sets it (it comes from the library or a stored config), so the message names the config key.
        if !(validationFraction > 0 && validationFraction < 0.5) {
            p.append("validation_fraction must be in (0, 0.5) (got \(validationFraction))")
        }
        return p
    }
}

/// Parses a duration: `90`, `90s`, `5m`, `1h30m`, `2.5m`.
public func parseDuration(_ text: String) -> Double? {
    if let plain = Double(text) { return plain }
    var total = 0.0, number = ""
    for ch in text {
        if ch.isNumber || ch == "." { number.append(ch); continue }
        guard let v = Double(number) else { return nil }
        switch ch {
        case "s": total += v
        case "m": total += v * 60
        case "h": total += v * 3600
        default: return nil
        }
        number = ""
    }
    if !number.isEmpty { guard let v = Double(number) else { return nil }; total += v }
    return total > 0 ? total : nil
}
