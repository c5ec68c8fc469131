import Foundation

/// A tokenized, model-ready sequence: ids with the special tokens, and 1 for real tokens in the mask.
public struct TokenEncoding: Equatable, Sendable {
    /// Token ids, [CLS] … [SEP] when the tokenizer adds special tokens.
    public var ids: [Int32]
    /// 1 for tokens the model should attend to, 0 for padding.
    public var attentionMask: [Int32]
}

/// A padded batch of encodings laid out [B, T] row-major.
public struct TokenBatch: Equatable, Sendable {
    /// Ids [B·T], padded with the pad id.
    public var ids: [Int32]
    /// Mask [B·T]: 1 real token, 0 padding.
    public var attentionMask: [Int32]
    /// Sequences B.
    public var batch: Int
    /// Padded length T.
    public var length: Int
}

/// WordPiece (Schuster & Nakajima 2012; BERT, Devlin et al. 2019): BERT normalization and pre-tokenization, then
/// greedy longest-match-first subwords with a continuation prefix; a word with no segmentation, or longer
/// than `maxInputCharsPerWord`, becomes [UNK]. Decoding is lossy (case, accents and spacing are not kept).
public struct WordPieceTokenizer: Tokenizer {
    /// Token → id.
    public let vocab: [String: Int32]
    /// id → token.
    public let tokens: [String]
    /// Id of the unknown token.
    public let unkId: Int32
    /// Prefix of word-internal pieces (`##`).
    public let continuingSubwordPrefix: String
    /// Words with more characters (Unicode scalars) than this become [UNK].
    public let maxInputCharsPerWord: Int
    /// The text normalizer.
    public let normalizer: BertNormalizer
    /// Tokens matched verbatim in the raw text before normalization (e.g. "[CLS]"), content → id.
    public let addedTokens: [String: Int32]
    /// [CLS] and [SEP] ids put around each sequence; nil adds nothing.
    public let clsId: Int32?, sepId: Int32?
    /// Padding id.
    public let padId: Int32
    /// Longest encoded sequence, special tokens included (longer inputs are cut at the end); nil keeps all.
    public var maxLength: Int?

    /// A tokenizer over `vocab` (token → id, ids dense in 0..<count); `unkToken` must be in the vocabulary.
    public init(vocab: [String: Int32], unkToken: String = "[UNK]", continuingSubwordPrefix: String = "##",
                maxInputCharsPerWord: Int = 100, normalizer: BertNormalizer = BertNormalizer(),
                addedTokens: [String: Int32] = [:], clsToken: String? = "[CLS]", sepToken: String? = "[SEP]",
                padToken: String = "[PAD]", maxLength: Int? = nil) throws {
        let count = (vocab.values.max().map { Int($0) + 1 }) ?? 0
        var tokens = [String](repeating: "", count: count)
        for (t, id) in vocab {
            guard id >= 0 else { throw WordPieceError("vocabulary token \"\(t)\" has negative id \(id)") }
            tokens[Int(id)] = t
        }
        func id(_ t: String, _ role: String) throws -> Int32 {
            guard let i = vocab[t] ?? addedTokens[t] else {
                throw WordPieceError("\(role) token \"\(t)\" is not in the vocabulary of \(vocab.count) tokens")
            }
            return i
        }
        self.vocab = vocab
        self.tokens = tokens
        unkId = try id(unkToken, "unknown")
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.normalizer = normalizer
        self.addedTokens = addedTokens
        clsId = try clsToken.map { try id($0, "classification") }
        sepId = try sepToken.map { try id($0, "separator") }
        padId = (try? id(padToken, "padding")) ?? 0
        self.maxLength = maxLength
    }

    /// Size of the id space (the vocabulary, or one past the largest added token id).
    public var vocabSize: Int { max(tokens.count, (addedTokens.values.max().map { Int($0) + 1 }) ?? 0) }

    /// WordPiece ids of `text` without special tokens and without truncation.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for (segment, added) in splitAddedTokens(text) {
            if let added { ids.append(added); continue }
            for word in BertText.preTokenize(normalizer.normalize(segment)) { ids += wordPieces(word) }
        }
        return ids
    }

    /// Model input for `text`: [CLS] ids [SEP], the ids cut so the whole fits `maxLength`.
    public func encoding(_ text: String) -> TokenEncoding {
        var ids = encode(text)
        let specials = (clsId == nil ? 0 : 1) + (sepId == nil ? 0 : 1)
        if let maxLength {
            let keep = max(0, maxLength - specials)
            if ids.count > keep { ids.removeLast(ids.count - keep) }
        }
        if let c = clsId { ids.insert(c, at: 0) }
        if let s = sepId { ids.append(s) }
        return TokenEncoding(ids: ids, attentionMask: [Int32](repeating: 1, count: ids.count))
    }

    /// Encodes `texts` and pads them on the right to the longest (mask 0 on padding).
    public func batch(_ texts: [String]) -> TokenBatch {
        let encodings = texts.map(encoding)
        return WordPieceTokenizer.pad(encodings, padId: padId)
    }

    /// Right-pads `encodings` to the longest with `padId`.
    public static func pad(_ encodings: [TokenEncoding], padId: Int32) -> TokenBatch {
        let t = max(1, encodings.map(\.ids.count).max() ?? 1)
        var ids: [Int32] = [], mask: [Int32] = []
        for e in encodings {
            ids += e.ids + [Int32](repeating: padId, count: t - e.ids.count)
            mask += e.attentionMask + [Int32](repeating: 0, count: t - e.ids.count)
        }
        return TokenBatch(ids: ids, attentionMask: mask, batch: encodings.count, length: t)
    }

    /// Pieces of one pre-tokenized word: greedy longest match from the left, "##"-prefixed after the first.
    func wordPieces(_ word: [Unicode.Scalar]) -> [Int32] {
        guard word.count <= maxInputCharsPerWord else { return [unkId] }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: word[start..<end])
                let piece = start > 0 ? continuingSubwordPrefix + String(view) : String(view)
                if let id = vocab[piece] { found = id; break }
                end -= 1
            }
            guard let found else { return [unkId] }
            pieces.append(found)
            start = end
        }
        return pieces
    }

    /// The raw text cut around added tokens (leftmost, longest match first): (segment, nil) or ("", id).
    func splitAddedTokens(_ text: String) -> [(String, Int32?)] {
        guard !addedTokens.isEmpty else { return [(text, nil)] }
        let candidates = addedTokens.keys.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        let scalars = Array(text.unicodeScalars)
        let patterns = candidates.map { Array($0.unicodeScalars) }
        var out: [(String, Int32?)] = []
        var segmentStart = 0, i = 0
        func flush(_ end: Int) {
            if end > segmentStart {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[segmentStart..<end])
                out.append((String(view), nil))
            }
        }
        while i < scalars.count {
            if let k = patterns.firstIndex(where: { p in i + p.count <= scalars.count && scalars[i..<i + p.count].elementsEqual(p) }) {
                flush(i)
                out.append(("", addedTokens[candidates[k]]))
                i += patterns[k].count
                segmentStart = i
            } else {
                i += 1
            }
        }
        flush(scalars.count)
        return out
    }

    /// Tokens joined with spaces, continuation pieces glued to the previous piece (lossy; see the type doc).
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        var text = ""
        for id in ids {
            let t: String
            if id >= 0, Int(id) < tokens.count { t = tokens[Int(id)] }
            else if let added = addedTokens.first(where: { $0.value == id }) { t = added.key }
            else { continue }
            if t.hasPrefix(continuingSubwordPrefix), !text.isEmpty { text += t.dropFirst(continuingSubwordPrefix.count) }
            else { text += text.isEmpty ? t : " " + t }
        }
        return Array(text.utf8)
    }
}

/// A WordPiece configuration problem (unknown special token, bad id), with what would be valid.
public struct WordPieceError: Error, CustomStringConvertible, Equatable {
    /// What is wrong.
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { "WordPiece: \(message)" }
}
