import ArgumentParser
import Foundation
import Strata

/// Budget and optimizer flags shared by `train` and `compare`.
struct TrainingFlags: ParsableArguments {
    @Option(parsing: .unconditional, help: "Optimizer steps.")
    var steps: Int?
    @Option(help: "Wall-clock budget, e.g. 300, 90s, 5m (default when no --steps: 5m).")
    var time: String?
    @Option(help: "Training text or token file (default: data/kjv.txt).")
    var data: String?
    @Option(help: "Tokenizer: byte, or a tokenizer.json from `strata tokenizer train`.")
    var tokenizer: String?
    @Option(parsing: .unconditional, help: "Sequences per micro-batch.")
    var batch: Int?
    @Option(parsing: .unconditional, help: "Micro-batches per step (gradient accumulation).")
    var accumulation: Int?
    @Option(help: "Optimizer: adamw, lion, muon or sgd (plain, no momentum).")
    var optimizer: String?
    @Option(parsing: .unconditional, help: "Peak learning rate.")
    var lr: Float?
    @Option(parsing: .unconditional, help: "Weight decay on matrix weights.")
    var weightDecay: Float?
    @Option(help: "Schedule: cosine, wsd or constant.")
    var schedule: String?
    @Option(parsing: .unconditional, help: "Warmup steps.")
    var warmup: Int?
    @Option(parsing: .unconditional, help: "Evaluate every N steps.")
    var evalEvery: Int?
    @Option(parsing: .unconditional, help: "Validation batches per evaluation.")
    var evalBatches: Int?
    @Option(parsing: .unconditional, help: "Seed for initialization and batches.")
    var seed: UInt64?
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @Option(help: "Also checkpoint after this much wall time since the last checkpoint, e.g. 5m, 90s; 0: only at evaluations (default: 5m).")
    var checkpointEvery: String?
    // A new flag here must also be listed in `resumeConflicts` (TrainCommand.swift) or be allowed with --resume.

    /// What `TrainConfig.problems()` cannot see (it checks every setting the config holds, when `config` builds it).
    func validate() throws {
        var problems: [String] = []
        if let warmup, warmup < 0 { problems.append("--warmup must be ≥ 0 (got \(warmup))") }
        if let threads, threads < 1 {
            problems.append("--threads must be at least 1 (got \(threads); leave it out for all \(ThreadPool.availableCores) cores)")
        }
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
    }

    /// The config for `base` with these flags applied.
    func config(base: TrainConfig = TrainConfig(), defaultTime: Double? = 300) throws -> TrainConfig {
        var c = base
        if let steps { c.steps = steps; c.timeBudget = nil }
        if let time {
            guard let seconds = parseDuration(time) else { throw ValidationError("--time: cannot read \"\(time)\" as a duration (e.g. 300, 90s, 5m)") }
            c.timeBudget = seconds
            if steps == nil { c.steps = nil }
        }
        if c.steps == nil && c.timeBudget == nil { c.timeBudget = defaultTime }
        if let data { c.data = data }
        if let tokenizer { c.tokenizer = tokenizer }
        if let batch { c.batchSize = batch }
        if let accumulation { c.accumulation = accumulation }
        if let optimizer { c.optimizer = optimizer }
        if let lr { c.learningRate = lr }
        if let weightDecay { c.weightDecay = weightDecay }
        let warm = warmup ?? 100
        switch schedule {
        case nil: if let warmup, case .cosine(_, let m) = c.schedule { c.schedule = .cosine(warmup: warmup, minRatio: m) }
        case "cosine": c.schedule = .cosine(warmup: warm, minRatio: 0.1)
        case "wsd": c.schedule = .wsd(warmup: warm, decayFraction: 0.2, minRatio: 0)
        case "constant": c.schedule = .constant
        case let s?: throw ValidationError("--schedule must be cosine, wsd or constant (got \(s))")
        }
        if let evalEvery { c.evalEvery = evalEvery }
        if let evalBatches { c.evalBatches = evalBatches }
        if let seed { c.seed = seed }
        if let checkpointEvery { c.checkpointEvery = try checkpointInterval(checkpointEvery) }
        let problems = c.problems()
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        return c
    }

    /// `--checkpoint-every` in seconds: a duration, or 0 to checkpoint only at evaluations.
    func checkpointInterval(_ text: String) throws -> Double {
        if let seconds = Double(text), seconds == 0 { return 0 }
        guard let seconds = parseDuration(text), seconds.isFinite, seconds > 0 else {
            throw ValidationError("--checkpoint-every: cannot read \"\(text)\" as a duration (e.g. 5m, 90s; 0 for only at evaluations)")
        }
        return seconds
    }

    var threadCount: Int { min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount) }
}
