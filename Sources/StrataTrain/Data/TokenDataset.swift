import Foundation
import StrataCore

/// A token stream to train and evaluate on: held in memory or memory-mapped from a token file.
public struct TokenDataset: Sendable {
    private enum Storage: Sendable {
        case array([Int32])
        case mapped(MappedTokenFile)
    }

    private let storage: Storage
    /// Vocabulary size the tokens were made with (every token is < this).
    public let vocabSize: Int

    /// Tokens held in memory; `vocabSize` is the tokenizer's.
    public init(tokens: [Int32], vocabSize: Int) {
        storage = .array(tokens)
        self.vocabSize = vocabSize
    }

    /// Tokenizes a UTF-8 text file. Errors name the file.
    public init(textFile url: URL, tokenizer: some Tokenizer) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenFileError(file: url.path, message: "cannot read text: \(fileErrorReason(error, path: url.path))")
        }
        self.init(tokens: tokenizer.encode(String(decoding: data, as: UTF8.self)), vocabSize: tokenizer.vocabSize)
    }

    /// Memory-maps a token file (see `TokenFile` for the format) and checks every token against the
    /// header's vocabulary. Errors name the file.
    public init(tokenFile url: URL) throws {
        let mapped = try MappedTokenFile(url: url)
        for i in 0..<mapped.count where Int(mapped[i]) >= mapped.vocabSize {
            throw TokenFileError(file: url.path,
                                 message: "token \(mapped[i]) at index \(i) is outside the header's vocabulary 0..<\(mapped.vocabSize)")
        }
        storage = .mapped(mapped)
        vocabSize = mapped.vocabSize
    }

    /// Whether the tokens are memory-mapped from a file.
    public var isMemoryMapped: Bool { if case .mapped = storage { true } else { false } }

    /// Number of tokens.
    public var count: Int {
        switch storage {
        case .array(let a): a.count
        case .mapped(let m): m.count
        }
    }

    /// Token at position `i`.
    public subscript(i: Int) -> Int32 {
        switch storage {
        case .array(let a): return a[i]
        case .mapped(let m):
            guard i >= 0 && i < m.count else { shapeIndexError(i, m.count) }
            return m[i]
        }
    }

    /// Appends the tokens at `range` to `out`.
    public func append(_ range: Range<Int>, to out: inout [Int32]) {
        guard range.lowerBound >= 0 && range.upperBound <= count else { shapeIndexError(range.upperBound - 1, count) }
        switch storage {
        case .array(let a): out.append(contentsOf: a[range])
        case .mapped(let m): for i in range { out.append(m[i]) }
        }
    }

    /// The tokens at `range` as an array.
    public func tokens(_ range: Range<Int>) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(range.count)
        append(range, to: &out)
        return out
    }

    /// Writes all tokens as a token file.
    public func write(to url: URL) throws {
        try TokenFile.write(tokens(0..<count), vocabSize: vocabSize, to: url)
    }

    /// Cuts the stream into blocks of `blockSize` tokens and sends every k-th block (k = round(1/fraction),
    /// the last block of each group of k) to validation, the rest to training, so both sides sample the
    /// whole corpus. Deterministic. Throws if either side would be empty.
    public func split(validationFraction: Double = 0.05, blockSize: Int = 4096) throws -> (train: TokenSplit, validation: TokenSplit) {
        guard validationFraction > 0 && validationFraction < 1 else {
            throw DatasetError(message: "validation fraction \(validationFraction) must be in (0, 1)")
        }
        guard blockSize > 0 else { throw DatasetError(message: "block size \(blockSize) must be positive") }
        let k = max(2, Int((1 / validationFraction).rounded()))
        let blocks = (count + blockSize - 1) / blockSize
        var train: [Range<Int>] = [], validation: [Range<Int>] = []
        for b in 0..<blocks {
            let range = (b * blockSize)..<min(count, (b + 1) * blockSize)
            if b % k == k - 1 {
                validation.append(range)
            } else if let last = train.last, last.upperBound == range.lowerBound {
                train[train.count - 1] = last.lowerBound..<range.upperBound  // adjacent training blocks: one segment
            } else {
                train.append(range)
            }
        }
        guard !validation.isEmpty, !train.isEmpty else {
            throw DatasetError(message: "\(count) tokens make \(blocks) block(s) of \(blockSize); validation takes every "
                                 + "\(k)th block, so one side is empty: use a block size below \(max(1, count / k))")
        }
        return (TokenSplit(dataset: self, segments: train), TokenSplit(dataset: self, segments: validation))
    }
}

/// A split, sampler or evaluation set that cannot be made from the data: says why and what would be valid.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    /// What is wrong.
    public var message: String
    public var description: String { "data: \(message)" }
}

/// One side of a split: disjoint, ordered segments (token ranges) of a dataset.
public struct TokenSplit: Sendable {
    /// The dataset the segments index.
    public let dataset: TokenDataset
    /// Disjoint ranges in increasing order.
    public let segments: [Range<Int>]
    /// Start of each segment in the concatenated view (prefix sums of segment lengths).
    private let starts: [Int]

    /// A view of `segments` of `dataset`.
    public init(dataset: TokenDataset, segments: [Range<Int>]) {
        self.dataset = dataset
        self.segments = segments
        var s: [Int] = [], total = 0
        for r in segments { s.append(total); total += r.count }
        starts = s
        count = total
    }

    /// Total tokens over all segments.
    public let count: Int

    /// Appends tokens `range` of the concatenated segments (crossing segment joins as needed) to `out`.
    public func append(_ range: Range<Int>, to out: inout [Int32]) {
        guard range.lowerBound >= 0 && range.upperBound <= count else { shapeIndexError(range.upperBound - 1, count) }
        var position = range.lowerBound
        // Last segment whose start is ≤ position.
        var lo = 0, hi = starts.count - 1
        while lo < hi { let mid = (lo + hi + 1) / 2; if starts[mid] <= position { lo = mid } else { hi = mid - 1 } }
        var seg = lo
        while position < range.upperBound {
            let offset = position - starts[seg]
            let take = min(segments[seg].count - offset, range.upperBound - position)
            let first = segments[seg].lowerBound + offset
            dataset.append(first..<(first + take), to: &out)
            position += take
            seg += 1
        }
    }

    /// The tokens of the concatenated segments (copies; fine for the small validation side).
    public func tokens() -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(count)
        append(0..<count, to: &out)
        return out
    }
}

/// Out-of-range token index: a programming error in the caller.
func shapeIndexError(_ i: Int, _ count: Int) -> Never {
    shapeError("TokenDataset", "token index \(i) is outside 0..<\(count)")
}

extension TokenDataset {
    /// The train/validation split every command uses: blocks of 4096 tokens, or smaller ones for a small corpus,
    /// so that validation still gets two blocks and every block holds a few windows of `context + 1` tokens.
    public func trainingSplit(validationFraction: Double, context: Int) throws -> (train: TokenSplit, validation: TokenSplit) {
        guard validationFraction > 0 && validationFraction < 0.5 else {
            throw DatasetError(message: "validation fraction \(validationFraction) must be in (0, 0.5)")
        }
        guard context >= 1 else { throw DatasetError(message: "context length \(context) must be at least 1") }
        let every = max(2, Int((1 / validationFraction).rounded()))
        let blockSize = min(4096, max(2 * (context + 1), count / (2 * every)))
        do {
            return try split(validationFraction: validationFraction, blockSize: blockSize)
        } catch {
            // Validation takes one block in `every`, and each block holds at least two windows of context + 1 tokens.
            let needed = every * 2 * (context + 1), fits = count / (2 * every) - 1
            throw DatasetError(message: "\(count) tokens are too few for context_length \(context): a split with "
                                 + "validation fraction \(validationFraction) needs about \(needed) tokens; give more text"
                                 + (fits >= 1 ? " or a context_length of at most \(fits) (--set context_length=\(fits))" : ""))
        }
    }
}
