import Foundation

/// Turns text into token ids and back; every Strata tokenizer round-trips valid UTF-8 text exactly.
public protocol Tokenizer: Sendable {
    /// Number of distinct ids (ids are in 0..<vocabSize).
    var vocabSize: Int { get }
    /// The ids of `text`.
    func encode(_ text: String) -> [Int32]
    /// The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD, never a crash.
    func decode(_ ids: [Int32]) -> String
    /// The raw bytes `ids` stand for (what `decode` turns into a string).
    func decodeBytes(_ ids: [Int32]) -> [UInt8]
}

extension Tokenizer {
    /// Number of UTF-8 bytes the ids stand for (the denominator of bits per byte).
    public func byteCount(of ids: [Int32]) -> Int { decodeBytes(ids).count }

    /// Default `decode`: bytes → String with invalid sequences repaired to U+FFFD.
    public func decode(_ ids: [Int32]) -> String { String(decoding: decodeBytes(ids), as: UTF8.self) }
}

/// The byte tokenizer: one id per UTF-8 byte (vocabulary 256), Strata's default; bits per byte equal
/// the loss in nats divided by ln 2.
public struct ByteTokenizer: Tokenizer {
    /// Always 256.
    public var vocabSize: Int { 256 }

    /// A byte tokenizer (stateless).
    public init() {}

    /// The UTF-8 bytes of `text` as ids.
    public func encode(_ text: String) -> [Int32] { text.utf8.map { Int32($0) } }

    /// The bytes of `ids`; ids outside 0..<256 are skipped (they cannot come from `encode`).
    public func decodeBytes(_ ids: [Int32]) -> [UInt8] {
        ids.compactMap { (0..<256).contains($0) ? UInt8($0) : nil }
    }
}
