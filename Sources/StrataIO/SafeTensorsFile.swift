import Foundation
import StrataCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file, unmapped when the last reference goes.
final class MappedFile: @unchecked Sendable {  // immutable after init; the pages are never written
    let base: UnsafeRawPointer
    let size: Int

    /// Maps `path`; the size must be at least `minimumSize` (mmap cannot map an empty file).
    init(path: String, minimumSize: Int) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError(path: path, .io(operation: "open", message: errnoMessage())) }
        defer { close(fd) }  // the mapping outlives the descriptor
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SafeTensorsError(path: path, .io(operation: "fstat", message: errnoMessage())) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError(path: path, .notRegularFile) }
        let size = Int(info.st_size)
        guard size >= minimumSize else { throw SafeTensorsError(path: path, .fileTooShort(size: size)) }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw SafeTensorsError(path: path, .io(operation: "mmap", message: errnoMessage()))
        }
        base = UnsafeRawPointer(address)
        self.size = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }
}

/// The current `errno` as text.
func errnoMessage() -> String { String(cString: strerror(errno)) }

/// A safetensors file opened by memory-mapping it: the header is parsed and checked at open, tensor data
/// is read (and converted) only when asked for.
///
/// Layout (the format of the `safetensors` project): an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON mapping each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets
/// relative to the data buffer that follows the header) plus an optional `"__metadata__"` object of
/// strings. Every structural problem is a thrown `SafeTensorsError`; no access reads outside the mapping.
/// If another process truncates the file while it is open, touching the lost pages raises SIGBUS, as
/// with any memory-mapped reader.
public final class SafeTensorsFile: @unchecked Sendable {  // immutable after init
    /// The file this was opened from.
    public let url: URL
    /// Tensor names in header order (for files written by `SafeTensorsWriter`, the order written).
    public let names: [String]
    /// The `__metadata__` strings (empty when the file has none).
    public let metadata: [String: String]
    /// Every tensor's description in header order.
    public let infos: [SafeTensorInfo]

    private let mapping: MappedFile
    private let dataStart: Int
    private let index: [String: Int]

    /// Opens and validates `url`; throws `SafeTensorsError` naming the file and the entry at fault.
    public init(url: URL) throws {
        let path = url.path
        let mapping = try MappedFile(path: path, minimumSize: 8)
        let length = UInt64(littleEndian: mapping.base.loadUnaligned(as: UInt64.self))
        guard length <= UInt64(SafeTensorsHeader.maxHeaderBytes) else {
            throw SafeTensorsError(path: path, .headerTooLarge(length: length, limit: SafeTensorsHeader.maxHeaderBytes))
        }
        guard length <= UInt64(mapping.size - 8) else {
            throw SafeTensorsError(path: path, .headerBeyondFile(length: length, available: mapping.size - 8))
        }
        let headerBytes = UnsafeRawBufferPointer(start: mapping.base + 8, count: Int(length))
        let dataStart = 8 + Int(length)
        let header = try SafeTensorsHeader.parse(headerBytes, bufferSize: mapping.size - dataStart, path: path)

        self.url = url
        self.mapping = mapping
        self.dataStart = dataStart
        infos = header.entries
        names = header.entries.map(\.name)
        metadata = header.metadata
        index = Dictionary(header.entries.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether the file holds a tensor called `name`.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// Dtype, shape and byte range of tensor `name`.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let i = index[name] else {
            let shown = names.count <= 20 ? names : Array(names.prefix(20)) + ["… \(names.count - 20) more"]
            throw SafeTensorsError(path: url.path, .noSuchTensor(name: name, available: shown))
        }
        return infos[i]
    }

    /// Calls `body` with the stored bytes of tensor `name` (little-endian, unaligned in general), without
    /// copying; the buffer is valid only during the call.
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let info = try info(name)
        return try body(UnsafeRawBufferPointer(start: mapping.base + dataStart + info.byteRange.lowerBound,
                                               count: info.byteCount))
    }

    /// A copy of the stored bytes of tensor `name`.
    public func rawBytes(_ name: String) throws -> [UInt8] { try withRawBytes(name) { Array($0) } }

    /// Tensor `name` as Float32, converted from any dtype (integers rounded to the nearest Float, BOOL as
    /// 0 / 1, F64 rounded, F16 / BF16 exact).
    public func tensor(_ name: String) throws -> Tensor {
        let info = try info(name)
        let out = Tensor(uninitialized: info.shape)  // every element is written below
        try withRawBytes(name) { bytes in
            out.withUnsafeMutablePointer { decodeFloats(info.dtype, count: info.count, from: bytes, into: $0) }
        }
        return out
    }

    /// Every tensor as Float32, in header order.
    public func tensors() throws -> [(String, Tensor)] { try names.map { ($0, try tensor($0)) } }

    /// Integer tensor `name` as Int32 (I8, I16, I32, U8, BOOL widen; I64 must fit). Floating-point data
    /// is an error rather than a silent truncation.
    public func int32s(_ name: String) throws -> [Int32] {
        let wide = try int64s(name)
        var out = [Int32]()
        out.reserveCapacity(wide.count)
        for (i, v) in wide.enumerated() {
            guard let narrow = Int32(exactly: v) else {
                throw SafeTensorsError(path: url.path, .integerOutOfRange(tensor: name, index: i, value: v))
            }
            out.append(narrow)
        }
        return out
    }

    /// Integer tensor `name` as Int64 (every integer dtype and BOOL); floating-point data is an error.
    public func int64s(_ name: String) throws -> [Int64] {
        let info = try info(name)
        guard !info.dtype.isFloatingPoint else {
            throw SafeTensorsError(path: url.path, .notIntegerData(tensor: name, dtype: info.dtype))
        }
        return try withRawBytes(name) { bytes in
            (0..<info.count).map { i -> Int64 in
                switch info.dtype {
                case .i8: return Int64(Int8(bitPattern: bytes[i]))
                case .u8: return Int64(bytes[i])
                case .bool: return bytes[i] == 0 ? 0 : 1
                case .i16: return Int64(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                case .i32: return Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                case .i64: return Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                case .f32, .f16, .bf16, .f64: return 0  // excluded above
                }
            }
        }
    }
}

/// Converts `count` little-endian elements of `dtype` in `bytes` to Float.
private func decodeFloats(_ dtype: SafeTensorsDType, count: Int, from bytes: UnsafeRawBufferPointer,
                          into out: UnsafeMutablePointer<Float>) {
    guard count > 0, let src = bytes.baseAddress else { return }
    @inline(__always) func load<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T {
        T(littleEndian: src.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
    }
    switch dtype {
    case .f32:
        #if _endian(little)
        UnsafeMutableRawPointer(out).copyMemory(from: src, byteCount: count * 4)
        #else
        for i in 0..<count { out[i] = Float(bitPattern: load(i, UInt32.self)) }
        #endif
    case .f16: for i in 0..<count { out[i] = floatFromF16(load(i, UInt16.self)) }
    case .bf16: for i in 0..<count { out[i] = floatFromBF16(load(i, UInt16.self)) }
    case .f64: for i in 0..<count { out[i] = Float(Double(bitPattern: load(i, UInt64.self))) }
    case .i8: for i in 0..<count { out[i] = Float(Int8(bitPattern: load(i, UInt8.self))) }
    case .u8: for i in 0..<count { out[i] = Float(load(i, UInt8.self)) }
    case .bool: for i in 0..<count { out[i] = load(i, UInt8.self) == 0 ? 0 : 1 }
    case .i16: for i in 0..<count { out[i] = Float(load(i, Int16.self)) }
    case .i32: for i in 0..<count { out[i] = Float(load(i, Int32.self)) }
    case .i64: for i in 0..<count { out[i] = Float(load(i, Int64.self)) }
    }
}
