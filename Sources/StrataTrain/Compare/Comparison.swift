import Foundation
import StrataModels

/// The budget every run of a comparison gets: a fixed step count, or the same wall-clock time.
public enum ComparisonBudget: Sendable, Equatable, Codable {
    /// Exactly this many optimizer steps per run.
    case steps(Int)
    /// This many seconds per run (the trainer plans its step count from the first steps' speed).
    case time(Double)

    /// Parses `steps:N` or `time:DURATION` (`time:90s`, `time:5m`).
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count) {
        case ("steps", 2):
            guard let n = Int(parts[1]), n >= 1 else {
                throw ComparisonError("--budget \(text): the step count must be a whole number ≥ 1, e.g. steps:500")
            }
            self = .steps(n)
        case ("time", 2):
            guard let s = parseDuration(parts[1]) else {
                throw ComparisonError("--budget \(text): cannot read \"\(parts[1])\" as a duration, e.g. time:90s or time:5m")
            }
            self = .time(s)
        default:
            throw ComparisonError("--budget \(text): expected steps:N or time:DURATION (e.g. steps:500, time:5m)")
        }
    }

    /// `config` with this budget (and only this budget) set.
    public func applied(to config: TrainConfig) -> TrainConfig {
        var c = config
        switch self {
        case .steps(let n): c.steps = n; c.timeBudget = nil
        case .time(let s): c.steps = nil; c.timeBudget = s
        }
        return c
    }

    /// `steps:N` or `time:Ns`.
    public var text: String {
        switch self {
        case .steps(let n): return "steps:\(n)"
        case .time(let s): return "time:\(s)s"
        }
    }
}

/// A comparison that cannot be set up, said in terms of the argument to change.
public struct ComparisonError: Error, CustomStringConvertible {
    /// The message for users.
    public var description: String
    /// A message naming the argument at fault.
    public init(_ message: String) { description = message }
}

/// What `Comparison.run` produced: the compare id grouping the runs, every member and the leaderboard.
public struct ComparisonResult: Sendable {
    /// The comparison's own run id (kind `compare`) in the store.
    public var compareID: String
    /// Every member run, in the order trained.
    public var runs: [ComparisonRun]
    /// Leaderboard rows, best (lowest bits per byte) first.
    public var rows: [LeaderboardRow]
    /// False when Ctrl-C stopped the comparison early (the rows cover what finished).
    public var complete: Bool
}

/// Trains several specs under the same budget and the same seeds (1…N), records every run in the store grouped
/// under one comparison run (`RunStore.addToComparison`), and ranks them by validation bits per byte.
///
/// Seeds are the outer loop, so an interrupted comparison still has every spec at the first seeds. A run that
/// diverges is recorded as failed and the comparison goes on; Ctrl-C or SIGTERM stops the current run (it is
/// kept in the store as interrupted, but not ranked) and the comparison, which is marked interrupted.
public struct Comparison {
    /// Specs with their labels (labels must be distinct; they name rows and legends).
    public var entries: [(label: String, spec: ModelSpec)]
    /// Training settings shared by every run (its budget and seed are replaced per run).
    public var config: TrainConfig
    /// The budget of each run.
    public var budget: ComparisonBudget
    /// Seeds 1…N.
    public var seeds: [UInt64]
    /// Probe summaries shown per row.
    public var summaries: [ProbeSummary] = ProbeSummary.defaults

    /// A comparison of `entries` with `seedCount` seeds; throws naming duplicate labels or a bad seed count.
    public init(entries: [(label: String, spec: ModelSpec)], config: TrainConfig, budget: ComparisonBudget,
                seedCount: Int) throws {
        guard !entries.isEmpty else { throw ComparisonError("give at least one spec to compare") }
        guard seedCount >= 1 else { throw ComparisonError("--seeds must be at least 1 (got \(seedCount))") }
        var seen = Set<String>()
        for e in entries where !seen.insert(e.label).inserted {
            throw ComparisonError("two specs have the label \"\(e.label)\"; labels name leaderboard rows, so give the files distinct names")
        }
        self.entries = entries
        self.config = config
        self.budget = budget
        seeds = (1...seedCount).map { UInt64($0) }
        let problems = budget.applied(to: config).problems()
        guard problems.isEmpty else { throw ComparisonError(problems.joined(separator: "; ")) }
    }

    /// Trains every (seed, spec) pair in `store`; `onRunStart(index, total, label, seed)` is called before each
    /// run (for a header line), and `quiet` silences the trainers' progress bars.
    public func run(store: RunStore, threads: Int, quiet: Bool = false,
                    onRunStart: (Int, Int, String, UInt64) -> Void = { _, _, _, _ in }) throws -> ComparisonResult {
        // Installed before the first member builds its model, so a signal during setup stops cleanly too.
        Interrupt.install()
        let compare = try store.createRun(name: "compare " + entries.map(\.label).joined(separator: " vs "), kind: .compare,
                                          specJSON: specsJSON(), configJSON: try configJSON(), parameterCount: 0,
                                          seed: seeds.first ?? 1, threads: threads)
        var runs: [ComparisonRun] = []
        var complete = true
        do {
            try trainAll(store: store, compareID: compare.id, threads: threads, quiet: quiet, runs: &runs,
                         complete: &complete, onRunStart: onRunStart)
        } catch {
            // A setup error (unreadable data, a spec that does not build): keep the finished members listed.
            try? store.finish(runID: compare.id, status: .failed, summary: ["error": "\(error)"])
            throw error
        }
        let rows = Leaderboard.rows(runs, summaries: summaries)
        try store.finish(runID: compare.id, status: complete ? .finished : .interrupted, summary: rows)
        return ComparisonResult(compareID: compare.id, runs: runs, rows: rows, complete: complete)
    }

    /// The training loop over seeds (outer) and specs (inner).
    private func trainAll(store: RunStore, compareID: String, threads: Int, quiet: Bool, runs: inout [ComparisonRun],
                          complete: inout Bool, onRunStart: (Int, Int, String, UInt64) -> Void) throws {
        let total = seeds.count * entries.count
        outer: for seed in seeds {
            for (label, spec) in entries {
                // A stop between two members starts no new one (it would be an empty, interrupted member).
                if Interrupt.isRequested { complete = false; break outer }
                onRunStart(runs.count, total, label, seed)
                var c = budget.applied(to: config)
                c.seed = seed
                // Members are named by their label, so their run ids and report legends say which spec they are.
                var named = spec
                named.name = label
                let trainer = try Trainer(spec: named, config: c, store: store, threads: threads)
                trainer.quiet = quiet
                do {
                    let outcome = try trainer.runTraining()
                    runs.append(try member(label: label, seed: seed, outcome: outcome, store: store))
                    if outcome.status == RunStatus.interrupted.rawValue { complete = false }
                } catch let e as NonFiniteError {
                    runs.append(ComparisonRun(label: label, seed: seed, runID: trainer.run?.id, status: RunStatus.failed.rawValue,
                                              parameters: trainer.model.parameterCount, validationBPB: nil,
                                              tokensPerSecond: .nan, peakMemoryMB: 0, error: e.description))
                }
                if let id = trainer.run?.id {
                    try store.addToComparison(compareID: compareID, runID: id, label: label, seed: seed)
                }
                if !complete { break outer }
            }
        }
    }

    /// The member record of a finished run, with the probe rows of its final evaluation.
    private func member(label: String, seed: UInt64, outcome: TrainOutcome, store: RunStore) throws -> ComparisonRun {
        var probes: [ProbeRecord] = []
        if let id = outcome.runID {
            let all = try store.probes(runID: id)
            let last = all.map(\.step).max()
            probes = all.filter { $0.step == last }
        }
        return ComparisonRun(label: label, seed: seed, runID: outcome.runID, status: outcome.status,
                             parameters: outcome.parameters, validationBPB: outcome.validationBPB,
                             validationLoss: outcome.validationLoss, tokensPerSecond: outcome.tokensPerSecond,
                             peakMemoryMB: outcome.peakMemoryMB, probes: probes)
    }

    /// `{label: spec}` as one JSON object, the comparison run's "spec".
    private func specsJSON() -> String {
        JSONValue.object(Dictionary(uniqueKeysWithValues: entries.map { ($0.label, $0.spec.json) })).jsonText()
    }

    /// The shared config plus budget, seeds and labels, the comparison run's "config".
    private func configJSON() throws -> String {
        struct Record: Encodable {
            var budget: String, seeds: [UInt64], labels: [String], config: TrainConfig
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(Record(budget: budget.text, seeds: seeds, labels: entries.map(\.label),
                                                          config: budget.applied(to: config))), as: UTF8.self)
    }
}
