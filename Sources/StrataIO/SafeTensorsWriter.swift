import Foundation
import StrataCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One tensor to write with the dtype it is stored as: Float data as F32 / F16 / BF16 / F64, or integer
/// data as I32 / I64, or pre-encoded little-endian bytes of any dtype.
public struct SafeTensorsEntry {
    /// Tensor name (the header key); must not be "__metadata__".
    public let name: String
    /// Stored element type.
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first.
    public let shape: [Int]

    enum Payload {
        case floats(Tensor)
        case int32s([Int32])
        case int64s([Int64])
        case raw([UInt8])
    }
    let payload: Payload

    /// A Float tensor stored as `dtype` (F32, F16, BF16 or F64; narrowing rounds to nearest even).
    public init(_ name: String, _ tensor: Tensor, dtype: SafeTensorsDType = .f32) {
        self.name = name
        self.dtype = dtype
        shape = tensor.shape
        payload = .floats(tensor)
    }

    /// Int32 values (row-major) stored as I32.
    public init(_ name: String, int32s: [Int32], shape: [Int]) {
        self.name = name
        dtype = .i32
        self.shape = shape
        payload = .int32s(int32s)
    }

    /// Int64 values (row-major) stored as I64.
    public init(_ name: String, int64s: [Int64], shape: [Int]) {
        self.name = name
        dtype = .i64
        self.shape = shape
        payload = .int64s(int64s)
    }

    /// Already-encoded little-endian bytes of `dtype`; their count must be count(shape) × dtype size.
    public init(_ name: String, dtype: SafeTensorsDType, shape: [Int], rawBytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        payload = .raw(rawBytes)
    }

    /// Number of payload elements (bytes for raw data), checked against the shape before writing.
    fileprivate var payloadCount: Int {
        switch payload {
        case let .floats(t): return t.count
        case let .int32s(v): return v.count
        case let .int64s(v): return v.count
        case let .raw(b): return b.count
        }
    }
}

/// Writes safetensors files atomically: a temporary file in the destination's directory is written,
/// flushed to disk and renamed over the destination, then the directory is flushed, so readers (and a
/// crash) see either the old file or the complete new one.
public enum SafeTensorsWriter {
    /// Writes Float tensors as F32 in the order given.
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.map { SafeTensorsEntry($0.0, $0.1) }, metadata: metadata, to: url)
    }

    /// Writes `entries` in the order given, each with its own dtype.
    public static func write(_ entries: [SafeTensorsEntry], metadata: [String: String] = [:], to url: URL) throws {
        try write(entries, metadata: metadata, to: url, beforeRename: {})
    }

    /// As `write(_:metadata:to:)`, calling `beforeRename` once the temporary file is complete and synced:
    /// the hook lets tests fail a write at its last moment and check nothing is left behind.
    package static func write(_ entries: [SafeTensorsEntry], metadata: [String: String], to url: URL,
                              beforeRename: () throws -> Void) throws {
        let path = url.path
        let header = try encodedHeader(entries, metadata: metadata, path: path)
        let directory = url.deletingLastPathComponent().path
        // A random suffix keeps concurrent writers to one destination from sharing a temporary file; it
        // affects no data, so it need not come from a seeded RNG. The name is shortened so that a long
        // destination name cannot push the temporary one past NAME_MAX (255 bytes).
        let stem = String(decoding: url.lastPathComponent.utf8.prefix(120), as: UTF8.self)
        let temporary = directory + "/." + stem + ".tmp-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SafeTensorsError(path: path, .io(operation: "create temporary file '\(temporary)'", message: errnoMessage()))
        }
        var sink = FileSink(fd: fd, path: path)
        do {
            try header.withUnsafeBytes { try sink.write($0) }
            for entry in entries { try writeData(entry, to: &sink) }
            guard fsync(fd) == 0 else { throw SafeTensorsError(path: path, .io(operation: "fsync", message: errnoMessage())) }
            let closed = close(fd)
            sink.fd = -1
            guard closed == 0 else { throw SafeTensorsError(path: path, .io(operation: "close", message: errnoMessage())) }
            try beforeRename()
            guard rename(temporary, path) == 0 else {
                throw SafeTensorsError(path: path, .io(operation: "rename '\(temporary)' over it", message: errnoMessage()))
            }
        } catch {
            if sink.fd >= 0 { close(sink.fd) }
            unlink(temporary)
            throw error
        }
        try syncDirectory(directory, path: path)
    }

    /// Length prefix plus header JSON, padded with spaces so the data starts 8-byte aligned.
    package static func encodedHeader(_ entries: [SafeTensorsEntry], metadata: [String: String], path: String) throws -> [UInt8] {
        var seen = Set<String>()
        var json = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            // Sorted so the same inputs give the same bytes (Dictionary order varies between processes).
            let pairs = metadata.sorted { $0.key < $1.key }.map { jsonQuoted($0.key) + ":" + jsonQuoted($0.value) }
            parts.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for entry in entries {
            guard entry.name != "__metadata__" else {
                throw SafeTensorsError(path: path, .invalidEntry(tensor: entry.name, problem: "the name is reserved for metadata"))
            }
            guard seen.insert(entry.name).inserted else { throw SafeTensorsError(path: path, .duplicateName(entry.name)) }
            let bytes = try checkedByteCount(entry, path: path)
            let (end, overflow) = offset.addingReportingOverflow(bytes)
            guard !overflow else { throw SafeTensorsError(path: path, .sizeOverflow(tensor: entry.name, shape: entry.shape, dtype: entry.dtype)) }
            let shape = entry.shape.map(String.init).joined(separator: ",")
            parts.append(jsonQuoted(entry.name) + ":{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        json += parts.joined(separator: ",") + "}"
        var body = Array(json.utf8)
        body.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - body.count % 8) % 8))
        guard body.count <= SafeTensorsHeader.maxHeaderBytes else {  // readers would refuse it
            throw SafeTensorsError(path: path, .headerTooLarge(length: UInt64(body.count), limit: SafeTensorsHeader.maxHeaderBytes))
        }
        var out = [UInt8]()
        out.reserveCapacity(8 + body.count)
        withUnsafeBytes(of: UInt64(body.count).littleEndian) { out.append(contentsOf: $0) }
        return out + body
    }

    /// The entry's data size after checking its shape, dtype and payload agree.
    private static func checkedByteCount(_ entry: SafeTensorsEntry, path: String) throws -> Int {
        func invalid(_ problem: String) -> SafeTensorsError { SafeTensorsError(path: path, .invalidEntry(tensor: entry.name, problem: problem)) }
        if let d = entry.shape.first(where: { $0 < 0 }) { throw invalid("negative dimension \(d) in shape \(entry.shape)") }
        guard let (count, bytes) = SafeTensorsHeader.sizes(entry.shape, entry.dtype) else {
            throw SafeTensorsError(path: path, .sizeOverflow(tensor: entry.name, shape: entry.shape, dtype: entry.dtype))
        }
        switch entry.payload {
        case .floats:
            guard entry.dtype.isFloatingPoint else {
                throw invalid("a Float tensor can be stored as F32, F16, BF16 or F64, not \(entry.dtype.rawValue)")
            }
        case .int32s, .int64s: break  // dtype fixed by the initializer
        case .raw:
            guard entry.payloadCount == bytes else {
                throw invalid("\(entry.payloadCount) raw bytes, but shape \(entry.shape) of \(entry.dtype.rawValue) needs \(bytes)")
            }
            return bytes
        }
        guard entry.payloadCount == count else {
            throw invalid("\(entry.payloadCount) values do not fill shape \(entry.shape)")
        }
        return bytes
    }

    /// Streams one entry's data, converting through a bounded buffer where the stored form differs from
    /// the in-memory one.
    private static func writeData(_ entry: SafeTensorsEntry, to sink: inout FileSink) throws {
        switch entry.payload {
        case let .raw(bytes): try bytes.withUnsafeBytes { try sink.write($0) }
        case let .int32s(values): try writeConverted(values.count, as: Int32.self, to: &sink) { values[$0] }
        case let .int64s(values): try writeConverted(values.count, as: Int64.self, to: &sink) { values[$0] }
        case let .floats(tensor):
            try tensor.withUnsafePointer { src in
                switch entry.dtype {
                case .f32:
                    #if _endian(little)
                    try sink.write(UnsafeRawBufferPointer(start: src, count: tensor.count * 4))
                    #else
                    try writeConverted(tensor.count, as: UInt32.self, to: &sink) { src[$0].bitPattern }
                    #endif
                case .f16: try writeConverted(tensor.count, as: UInt16.self, to: &sink) { f16FromFloat(src[$0]) }
                case .bf16: try writeConverted(tensor.count, as: UInt16.self, to: &sink) { bf16FromFloat(src[$0]) }
                default:  // F64; other dtypes were rejected by checkedByteCount
                    try writeConverted(tensor.count, as: UInt64.self, to: &sink) { Double(src[$0]).bitPattern }
                }
            }
        }
    }

    /// Writes `element(0..<count)` little-endian through a 64 Ki-element buffer, so memory stays bounded
    /// whatever the tensor size.
    private static func writeConverted<T: FixedWidthInteger>(_ count: Int, as _: T.Type, to sink: inout FileSink,
                                                             element: (Int) -> T) throws {
        let buffer = UnsafeMutablePointer<T>.allocate(capacity: min(count, 1 << 16))
        defer { buffer.deallocate() }
        var start = 0
        while start < count {
            let n = min(1 << 16, count - start)
            for j in 0..<n { buffer[j] = element(start + j).littleEndian }
            try sink.write(UnsafeRawBufferPointer(start: buffer, count: n * MemoryLayout<T>.size))
            start += n
        }
    }

    /// Flushes the directory entry of a rename; file systems that cannot sync a directory (EINVAL) are
    /// accepted since the data itself is already on disk.
    private static func syncDirectory(_ directory: String, path: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError(path: path, .io(operation: "open directory '\(directory)'", message: errnoMessage())) }
        defer { close(fd) }
        if fsync(fd) != 0, errno != EINVAL {
            throw SafeTensorsError(path: path, .io(operation: "fsync directory '\(directory)'", message: errnoMessage()))
        }
    }
}

/// A file descriptor that writes whole buffers, retrying short writes and interrupted calls.
private struct FileSink {
    var fd: Int32
    let path: String

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = posixWrite(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw SafeTensorsError(path: path, .io(operation: "write", message: errnoMessage()))
            }
            p += n
            left -= n
        }
    }
}

/// The C library's write(2), named apart from `FileSink.write`.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
