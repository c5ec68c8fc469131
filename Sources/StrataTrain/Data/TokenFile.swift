import Foundation
import StrataCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Strata's token file (`.tok`): a 16-byte header then the tokens, all little-endian.
///
///     offset 0   8 bytes  magic "STRATOK1"
///     offset 8   UInt32   width: bytes per token, 2 (UInt16, vocab ≤ 65,536) or 4 (Int32)
///     offset 12  UInt32   vocabulary size (every token is < this)
///     offset 16  count × width bytes of tokens
///
/// Readers memory-map the file, so a corpus larger than memory can be sampled from.
public enum TokenFile {
    /// The 8 magic bytes at offset 0.
    public static let magic: [UInt8] = Array("STRATOK1".utf8)
    /// Size of the header in bytes.
    public static let headerSize = 16

    /// Writes `tokens` (each in 0..<vocabSize) with the narrowest width that holds `vocabSize`.
    public static func write(_ tokens: [Int32], vocabSize: Int, to url: URL) throws {
        guard vocabSize > 0, vocabSize <= Int(Int32.max) else {
            throw TokenFileError(file: url.path, message: "vocabulary size \(vocabSize) must be in 1...\(Int32.max)")
        }
        if let bad = tokens.firstIndex(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw TokenFileError(file: url.path,
                                 message: "token \(tokens[bad]) at index \(bad) is outside the vocabulary 0..<\(vocabSize)")
        }
        let width = vocabSize <= 65_536 ? 2 : 4
        var data = Data(capacity: headerSize + tokens.count * width)
        data.append(contentsOf: magic)
        withUnsafeBytes(of: UInt32(width).littleEndian) { data.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(vocabSize).littleEndian) { data.append(contentsOf: $0) }
        if width == 2 {
            let narrow = tokens.map { UInt16(truncatingIfNeeded: $0).littleEndian }
            narrow.withUnsafeBytes { data.append(contentsOf: $0) }
        } else {
            let wide = tokens.map { $0.littleEndian }
            wide.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        do { try data.write(to: url, options: .atomic) } catch {
            throw TokenFileError(file: url.path, message: "cannot write: \(fileErrorReason(error, path: url.path))")
        }
    }
}

/// A token file that cannot be read or written: names the file and what is wrong.
public struct TokenFileError: Error, CustomStringConvertible, Equatable {
    /// Path of the file.
    public var file: String
    /// What is wrong and what would be valid.
    public var message: String

    public var description: String { "\(file): \(message)" }
}

/// A read-only memory mapping of a token file's contents; unmapped when the last reference goes.
final class MappedTokenFile: @unchecked Sendable {
    /// Start of the token bytes (after the header).
    let tokens: UnsafeRawPointer
    /// Number of tokens.
    let count: Int
    /// Bytes per token (2 or 4).
    let width: Int
    /// Vocabulary size from the header.
    let vocabSize: Int
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    /// Maps `url` and checks its header; errors name the file.
    init(url: URL) throws {
        let path = url.path
        func fail(_ message: String) -> TokenFileError { TokenFileError(file: path, message: message) }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw fail("cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fail("cannot stat: \(String(cString: strerror(errno)))") }
        let size = Int(info.st_size)
        guard size >= TokenFile.headerSize else {
            throw fail("is \(size) bytes, shorter than the \(TokenFile.headerSize)-byte STRATOK1 header")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw fail("cannot memory-map: \(String(cString: strerror(errno)))")
        }
        let raw = UnsafeRawPointer(p)
        let magicOK = (0..<8).allSatisfy { raw.load(fromByteOffset: $0, as: UInt8.self) == TokenFile.magic[$0] }
        let width = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        let vocab = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        let body = size - TokenFile.headerSize
        let problem: String? =
            !magicOK ? "does not start with the magic \"STRATOK1\" (not a Strata token file)"
            : (width != 2 && width != 4) ? "header width is \(width); valid widths are 2 and 4"
            : vocab == 0 ? "header vocabulary size is 0"
            : body % width != 0 ? "has \(body) token bytes, not a multiple of the width \(width) (truncated?)"
            : nil
        if let problem { munmap(p, size); throw fail(problem) }
        base = p; length = size
        tokens = raw + TokenFile.headerSize
        count = body / width
        self.width = width
        vocabSize = vocab
    }

    deinit { if let base { munmap(base, length) } }

    /// Token at `i` (caller checks bounds).
    @inline(__always)
    subscript(i: Int) -> Int32 {
        width == 2
            ? Int32(UInt16(littleEndian: tokens.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            : Int32(littleEndian: tokens.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
    }
}
