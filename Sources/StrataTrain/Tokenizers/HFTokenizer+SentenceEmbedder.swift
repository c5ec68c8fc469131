import Foundation
import StrataCore
import StrataIO

/// Text → sentence embedding for a sentence-transformers directory: WordPiece tokenizer (truncated at
/// `max_seq_length`) plus the imported encoder, pooling and normalization of `HFSentenceEncoder`.
public struct SentenceEmbedder {
    /// The tokenizer from tokenizer.json.
    public let tokenizer: WordPieceTokenizer
    /// The encoder with its pooling.
    public let encoder: HFSentenceEncoder

    /// Loads the tokenizer and the model from `directory`.
    public static func load(directory: URL) throws -> SentenceEmbedder {
        var tokenizer = try HFTokenizer.loadWordPiece(directory: directory)
        let encoder = try HFSentenceEncoder.load(directory: directory)
        // Learned positions end at context_length: longer inputs are cut there rather than rejected.
        let context = encoder.model.spec.contextLength
        tokenizer.maxLength = min(tokenizer.maxLength ?? context, context)
        return SentenceEmbedder(tokenizer: tokenizer, encoder: encoder)
    }

    /// Embedding width C.
    public var dimension: Int { encoder.dimension }

    /// One embedding per text, in input order. Texts are batched `batchSize` at a time in order of token count
    /// so that padding stays small; padded positions are masked, so batching does not change the result.
    public func embed(_ texts: [String], batchSize: Int = 16) -> [[Float]] {
        let encodings = texts.map(tokenizer.encoding)
        let order = encodings.indices.sorted { (encodings[$0].ids.count, $0) < (encodings[$1].ids.count, $1) }
        var out = [[Float]](repeating: [], count: texts.count)
        let c = dimension
        for start in stride(from: 0, to: order.count, by: max(1, batchSize)) {
            let group = Array(order[start..<min(start + max(1, batchSize), order.count)])
            let b = WordPieceTokenizer.pad(group.map { encodings[$0] }, padId: tokenizer.padId)
            let e = encoder.embed(ids: b.ids, attentionMask: b.attentionMask, batch: b.batch, length: b.length).scalars
            for (row, i) in group.enumerated() { out[i] = Array(e[row * c..<(row + 1) * c]) }
        }
        return out
    }

    /// Cosine similarity of two vectors (0 when either is zero).
    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot: Double = 0, na: Double = 0, nb: Double = 0
        for (x, y) in zip(a, b) {
            dot += Double(x) * Double(y)
            na += Double(x) * Double(x)
            nb += Double(y) * Double(y)
        }
        return na > 0 && nb > 0 ? Float(dot / (na.squareRoot() * nb.squareRoot())) : 0
    }

    /// NumPy `.npy` (format 1.0, little-endian float32) bytes of `rows` as an [N, C] array.
    public static func npy(_ rows: [[Float]]) -> Data {
        let c = rows.first?.count ?? 0
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows.count), \(c)), }"
        // Magic (6) + version (2) + length (2) + header, padded with spaces and a newline to a multiple of 64.
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        data.append(contentsOf: Array(header.utf8))
        for row in rows {
            for x in row { withUnsafeBytes(of: x.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        }
        return data
    }
}
