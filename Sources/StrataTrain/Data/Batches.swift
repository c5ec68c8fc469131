import Foundation
import StrataCore

/// B windows of T+1 tokens as next-token pairs: `inputs[b·T + t]` predicts `targets[b·T + t]`.
public struct Batch: Sendable, Equatable {
    /// Inputs, [B·T] row-major.
    public var inputs: [Int32]
    /// Targets (inputs shifted by one), [B·T].
    public var targets: [Int32]
    /// Windows in this batch (B).
    public var batchSize: Int
    /// Tokens per window (T).
    public var context: Int
}

/// Cuts one window of T+1 tokens starting at `start` of `split` into the batch being built.
private func appendWindow(_ split: TokenSplit, start: Int, context: Int,
                          inputs: inout [Int32], targets: inout [Int32], scratch: inout [Int32]) {
    scratch.removeAll(keepingCapacity: true)
    split.append(start..<(start + context + 1), to: &scratch)
    inputs.append(contentsOf: scratch[0..<context])
    targets.append(contentsOf: scratch[1...context])
}

/// Seeded random training batches: each window lies inside one segment of the training side (never
/// across the gap a validation block leaves), start drawn uniformly over all valid starts.
///
/// Batch n draws from its own generator derived from (seed, n), so `state` is just the seed and the
/// number of batches drawn: restoring it reproduces the continuation exactly.
public struct BatchSampler: Sendable {
    /// Everything needed to resume the stream.
    public struct State: Codable, Equatable, Sendable {
        /// Seed of the whole stream.
        public var seed: UInt64
        /// Batches drawn so far (the next batch's index).
        public var batchesDrawn: Int

        /// A state at batch `batchesDrawn` of the stream `seed`.
        public init(seed: UInt64, batchesDrawn: Int = 0) { self.seed = seed; self.batchesDrawn = batchesDrawn }
    }

    /// Where windows come from.
    public let split: TokenSplit
    /// Windows per batch (B).
    public let batchSize: Int
    /// Tokens per window (T).
    public let context: Int
    /// Resume point; save it with a checkpoint and assign it back to continue.
    public var state: State
    /// Segments long enough for a window, and prefix sums of their start counts.
    private let usable: [(start: Int, starts: Int)]
    private let totalStarts: Int

    /// A sampler of `batchSize` windows of `context` + 1 tokens; throws if no segment holds one window.
    public init(split: TokenSplit, batchSize: Int, context: Int, seed: UInt64) throws {
        guard batchSize > 0, context > 0 else {
            throw DatasetError(message: "batch size \(batchSize) and context \(context) must be positive")
        }
        self.split = split
        self.batchSize = batchSize
        self.context = context
        state = State(seed: seed)
        var usable: [(Int, Int)] = [], total = 0, position = 0
        for segment in split.segments {
            if segment.count > context { usable.append((position, total)); total += segment.count - context }
            position += segment.count
        }
        guard total > 0 else {
            throw DatasetError(message: "no training segment holds a window of \(context + 1) tokens (longest "
                                 + "\(split.segments.map(\.count).max() ?? 0)); use a shorter context or a larger block size")
        }
        self.usable = usable
        totalStarts = total
    }

    /// The next batch; advances `state`.
    public mutating func next() -> Batch {
        var rng = RNG(seed: mix64(state.seed ^ mix64(UInt64(state.batchesDrawn) &+ 0x5851_F42D_4C95_7F2D)))
        state.batchesDrawn += 1
        var inputs: [Int32] = [], targets: [Int32] = [], scratch: [Int32] = []
        inputs.reserveCapacity(batchSize * context); targets.reserveCapacity(batchSize * context)
        for _ in 0..<batchSize {
            let r = Int(rng.next().multipliedFullWidth(by: UInt64(totalStarts)).high)  // uniform in 0..<totalStarts
            var lo = 0, hi = usable.count - 1
            while lo < hi { let mid = (lo + hi + 1) / 2; if usable[mid].starts <= r { lo = mid } else { hi = mid - 1 } }
            let start = usable[lo].start + (r - usable[lo].starts)
            appendWindow(split, start: start, context: context, inputs: &inputs, targets: &targets, scratch: &scratch)
        }
        return Batch(inputs: inputs, targets: targets, batchSize: batchSize, context: context)
    }
}

/// SplitMix64's finalizer: a bijective scramble so nearby seeds give unrelated generators.
private func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Deterministic evaluation batches: non-overlapping windows (window w predicts tokens w·T+1 … w·T+T)
/// over the concatenated validation side, in order, grouped B at a time; the last batch may be smaller.
public struct EvaluationBatches: Sequence, Sendable {
    /// Where windows come from.
    public let split: TokenSplit
    /// Windows per full batch (B).
    public let batchSize: Int
    /// Tokens per window (T).
    public let context: Int
    /// Windows evaluated (after the `maxBatches` cap).
    public let windowCount: Int

    /// The first `maxBatches` batches (all when nil) of windows over `split`; throws if the sizes are not
    /// positive or the split holds no window.
    public init(split: TokenSplit, batchSize: Int, context: Int, maxBatches: Int? = nil) throws {
        guard batchSize > 0, context > 0 else {
            throw DatasetError(message: "evaluation batch size \(batchSize) and context \(context) must be positive")
        }
        guard split.count > context else {
            throw DatasetError(message: "the validation side has \(split.count) tokens, fewer than one window of "
                               + "\(context + 1); use a shorter context or a larger validation fraction")
        }
        self.split = split
        self.batchSize = batchSize
        self.context = context
        let all = Swift.max(0, (split.count - 1) / context)
        windowCount = maxBatches.map { Swift.min(all, Swift.max(0, $0) * batchSize) } ?? all
    }

    /// Number of batches.
    public var count: Int { (windowCount + batchSize - 1) / batchSize }
    /// Number of predicted tokens over all batches.
    public var targetTokenCount: Int { windowCount * context }

    /// Batch `i` (0..<count).
    public func batch(_ i: Int) -> Batch {
        guard i >= 0 && i < count else { shapeError("EvaluationBatches.batch", "index \(i) is outside 0..<\(count)") }
        let first = i * batchSize, windows = Swift.min(batchSize, windowCount - first)
        var inputs: [Int32] = [], targets: [Int32] = [], scratch: [Int32] = []
        for w in first..<(first + windows) {
            appendWindow(split, start: w * context, context: context, inputs: &inputs, targets: &targets, scratch: &scratch)
        }
        return Batch(inputs: inputs, targets: targets, batchSize: windows, context: context)
    }

    /// Bytes the predicted tokens stand for under `tokenizer` (the denominator of bits per byte).
    public func targetByteCount(using tokenizer: some Tokenizer) -> Int {
        var targets: [Int32] = []
        targets.reserveCapacity(targetTokenCount)
        split.append(1..<(1 + targetTokenCount), to: &targets)
        return tokenizer.byteCount(of: targets)
    }

    /// Batches in order.
    public func makeIterator() -> AnyIterator<Batch> {
        var i = 0
        return AnyIterator { [self] in
            guard i < count else { return nil }
            defer { i += 1 }
            return batch(i)
        }
    }
}

/// Bits per byte from a mean cross-entropy in nats per token: meanLoss · tokens / (bytes · ln 2).
/// With the byte tokenizer tokens == bytes, so it is meanLoss / ln 2; it compares models across tokenizers.
public func bitsPerByte(meanLoss: Double, tokenCount: Int, byteCount: Int) -> Double {
    guard byteCount > 0 else { return .nan }
    return meanLoss * Double(tokenCount) / (Double(byteCount) * M_LN2)
}
