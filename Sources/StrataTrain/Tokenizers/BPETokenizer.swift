/// Byte-level BPE (Sennrich et al. 2016; byte-level as in GPT-2): text is split into words by GPT-2's
/// pre-tokenizer, each word starts as its UTF-8 bytes, and learned merges are applied in rank order.
/// Any text encodes (no unknown token) and `decode(encode(x)) == x`.
public struct BPETokenizer: Tokenizer {
    /// One learned merge: `left` and `right` adjacent become `result`; earlier merges apply first.
    public struct Merge: Equatable, Sendable {
        public var left: Int32, right: Int32, result: Int32

        /// The merge of `left` then `right` into `result`.
        public init(left: Int32, right: Int32, result: Int32) { self.left = left; self.right = right; self.result = result }
    }

    /// id → the raw bytes it stands for (empty for unused ids).
    public let tokenBytes: [[UInt8]]
    /// Merges in rank order.
    public let merges: [Merge]
    /// byte value → id of its single-byte token.
    let byteIds: [Int32]
    /// (left, right) key → (rank, result id).
    let mergeTable: [UInt64: (rank: Int32, result: Int32)]
    /// Prepend a space to text that does not start with one (Hugging Face `add_prefix_space`).
    public let addPrefixSpace: Bool
    /// Ids whose spelling is not byte-level (Hugging Face `added_tokens`); never produced by `encode`.
    let addedTokens: [String: Int32]

    /// Number of ids (the largest id + 1).
    public var vocabSize: Int { tokenBytes.count }

    /// A tokenizer from its parts; `byteIds[b]` is the id of byte `b`, merges are in rank order.
    init(tokenBytes: [[UInt8]], byteIds: [Int32], merges: [Merge], addPrefixSpace: Bool = false,
         addedTokens: [String: Int32] = [:]) {
        self.tokenBytes = tokenBytes
        self.byteIds = byteIds
        self.merges = merges
        self.addPrefixSpace = addPrefixSpace
        self.addedTokens = addedTokens
        var table: [UInt64: (rank: Int32, result: Int32)] = [:]
        for (rank, m) in merges.enumerated() where table[pairKey(m.left, m.right)] == nil {
            table[pairKey(m.left, m.right)] = (Int32(rank), m.result)
        }
        mergeTable = table
    }

    /// The ids of `text`: pre-tokenize, then BPE each word (words repeat, so each distinct word is merged once).
    public func encode(_ text: String) -> [Int32] {
        var bytes = Array(text.utf8)
        if addPrefixSpace, let first = bytes.first, first != 0x20 { bytes.insert(0x20, at: 0) }
        var out: [Int32] = []
        out.reserveCapacity(bytes.count / 3)
        var cache: [[UInt8]: [Int32]] = [:]
        bytes.withUnsafeBufferPointer { buf in
            ByteLevel.preTokenize(buf) { range in
                let word = Array(buf[range])
                if let ids = cache[word] { out.append(contentsOf: ids); return }
                let ids = mergeWord(word)
                cache[word] = ids
                out.append(contentsOf: ids)
            }
        }
        return out
    }

    /// Applies merges to one word: repeatedly merge every occurrence of the lowest-ranked adjacent pair.
    func mergeWord(_ word: [UInt8]) -> [Int32] {
        var symbols = word.map { byteIds[Int($0)] }
        while symbols.count > 1 {
            var best: (rank: Int32, result: Int32)? = nil
            var bestKey: UInt64 = 0
            for i in 0..<(symbols.count - 1) {
                let key = pairKey(symbols[i], symbols[i + 1])
                if let m = mergeTable[key], best == nil || m.rank < best!.rank { best = m; bestKey = key }
            }
            guard let merge = best else { break }
            symbols = replacingPair(symbols, Int32(truncatingIfNeeded: bestKey >> 32),
                                    Int32(truncatingIfNeeded: bestKey & 0xFFFF_FFFF), with: merge.result)
        }
        return symbols
    }

    /// The bytes of `ids`; ids outside the vocabulary are skipped.
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var out: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < tokenBytes.count { out.append(contentsOf: tokenBytes[Int(id)]) }
        return out
    }
}

/// One 64-bit key for an ordered id pair; ordering keys orders pairs by (left, right).
@inline(__always)
func pairKey(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }
