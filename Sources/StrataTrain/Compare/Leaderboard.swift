import Foundation

/// One finished (or failed) training run of a comparison, reduced to what the leaderboard needs.
/// Built from a `TrainOutcome` plus the run's final probe rows, or by hand in tests.
public struct ComparisonRun: Sendable, Equatable {
    /// The spec's label (the leaderboard groups runs by it).
    public var label: String
    /// Seed of the run.
    public var seed: UInt64
    /// Run id in the store (nil when trained without one).
    public var runID: String?
    /// `finished`, `interrupted` or `failed`.
    public var status: String
    /// Trainable parameter count.
    public var parameters: Int
    /// Final validation bits per byte (nil or non-finite when the run failed).
    public var validationBPB: Double?
    /// Final validation loss in nats per token.
    public var validationLoss: Double?
    /// Training throughput over the whole run.
    public var tokensPerSecond: Double
    /// Peak resident memory of the process during the run, in MiB.
    public var peakMemoryMB: Double
    /// Per-layer probe rows of the final evaluation.
    public var probes: [ProbeRecord]
    /// Why the run failed, when it did.
    public var error: String?

    /// Memberwise initializer.
    public init(label: String, seed: UInt64, runID: String? = nil, status: String = "finished", parameters: Int,
                validationBPB: Double?, validationLoss: Double? = nil, tokensPerSecond: Double, peakMemoryMB: Double,
                probes: [ProbeRecord] = [], error: String? = nil) {
        self.label = label; self.seed = seed; self.runID = runID; self.status = status; self.parameters = parameters
        self.validationBPB = validationBPB; self.validationLoss = validationLoss; self.tokensPerSecond = tokensPerSecond
        self.peakMemoryMB = peakMemoryMB; self.probes = probes; self.error = error
    }
}

/// A scalar summary of one per-layer probe at the final evaluation: the probe's values over layers reduced
/// to one number (e.g. the largest residual RMS), so that variants with different depths stay comparable.
public struct ProbeSummary: Sendable, Equatable, Codable {
    /// How the per-layer values are reduced.
    public enum Reduction: String, Sendable, Codable { case max, mean }

    /// Probe name as logged by `ProbeRecorder` (`residual_rms`, `attention_entropy`, …).
    public var probe: String
    /// Reduction over layers.
    public var reduction: Reduction

    /// A summary of `probe` by `reduction`.
    public init(_ probe: String, _ reduction: Reduction) { self.probe = probe; self.reduction = reduction }

    /// Column title, e.g. `max residual_rms`.
    public var title: String { "\(reduction.rawValue) \(probe)" }

    /// The defaults the leaderboard shows: stream growth (Pre-LN's residual RMS grows with depth), attention
    /// sharpness, and outlier features (massive activations show up as high excess kurtosis).
    public static let defaults = [ProbeSummary("residual_rms", .max), ProbeSummary("attention_entropy", .mean),
                                  ProbeSummary("residual_kurtosis", .max)]

    /// The summary over `rows` (one value per layer expected); nil when the probe was not recorded.
    public func value(of rows: [ProbeRecord]) -> Double? {
        let values = rows.filter { $0.name == probe && $0.value.isFinite }.map(\.value)
        guard !values.isEmpty else { return nil }
        switch reduction {
        case .max: return values.max()
        case .mean: return values.reduce(0, +) / Double(values.count)
        }
    }
}

/// One leaderboard line: a spec's results aggregated over its seeds.
public struct LeaderboardRow: Sendable, Equatable, Codable {
    /// The spec's label.
    public var label: String
    /// Trainable parameter count (the same for every seed).
    public var parameters: Int
    /// Seeds that finished with a finite validation bits per byte.
    public var seeds: Int
    /// Seeds whose run failed or did not reach a finite evaluation.
    public var failures: Int
    /// Mean validation bits per byte over the finished seeds (NaN when none finished).
    public var bpbMean: Double
    /// Sample standard deviation (n − 1) of bits per byte over seeds; 0 with a single seed.
    public var bpbStd: Double
    /// Mean training tokens per second over the finished seeds.
    public var tokensPerSecond: Double
    /// Largest peak memory over the seeds, in MiB.
    public var peakMemoryMB: Double
    /// Probe summaries (by `ProbeSummary.title`), each averaged over the seeds that recorded it.
    public var probes: [String: Double]
    /// The member runs, in seed order.
    public var runIDs: [String]

    enum CodingKeys: String, CodingKey {
        case label, parameters, seeds, failures, bpbMean = "bpb_mean", bpbStd = "bpb_std"
        case tokensPerSecond = "tokens_per_s", peakMemoryMB = "peak_memory_mb", probes, runIDs = "run_ids"
    }
}

/// Aggregation of comparison runs into a leaderboard; kept apart from training so it is testable on
/// hand-made runs.
public enum Leaderboard {
    /// One row per label (first-seen order of labels breaks ties), sorted by mean bits per byte, lowest
    /// first; labels with no finished seed come last.
    public static func rows(_ runs: [ComparisonRun], summaries: [ProbeSummary] = ProbeSummary.defaults) -> [LeaderboardRow] {
        var labels: [String] = []
        for run in runs where !labels.contains(run.label) { labels.append(run.label) }
        let rows = labels.map { label -> LeaderboardRow in
            let all = runs.filter { $0.label == label }.sorted { $0.seed < $1.seed }
            // An interrupted run stopped short of the budget: ranking it would compare unequal budgets.
            let group = all.filter { $0.status != RunStatus.interrupted.rawValue }
            let ok = group.filter { $0.status != "failed" && ($0.validationBPB?.isFinite ?? false) }
            let bpbs = ok.map { $0.validationBPB! }
            var probes: [String: Double] = [:]
            for s in summaries {
                let values = ok.compactMap { s.value(of: $0.probes) }
                if !values.isEmpty { probes[s.title] = mean(values) }
            }
            return LeaderboardRow(
                label: label, parameters: group.first?.parameters ?? 0, seeds: ok.count, failures: group.count - ok.count,
                bpbMean: bpbs.isEmpty ? .nan : mean(bpbs), bpbStd: sampleStd(bpbs),
                tokensPerSecond: ok.isEmpty ? .nan : mean(ok.map(\.tokensPerSecond)),
                peakMemoryMB: group.map(\.peakMemoryMB).max() ?? 0, probes: probes, runIDs: all.compactMap(\.runID))
        }
        let order = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, $0) })
        return rows.sorted { a, b in
            switch (a.bpbMean.isNaN, b.bpbMean.isNaN) {
            case (false, true): return true
            case (true, false): return false
            default: return a.bpbMean == b.bpbMean || a.bpbMean.isNaN ? order[a.label]! < order[b.label]! : a.bpbMean < b.bpbMean
            }
        }
    }

    /// Arithmetic mean (NaN for no values).
    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
    }

    /// Sample standard deviation with Bessel's correction; 0 for fewer than two values (one seed says nothing
    /// about the spread, and 0 keeps the "mean ± std" column printable).
    static func sampleStd(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let m = mean(values)
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot()
    }
}
