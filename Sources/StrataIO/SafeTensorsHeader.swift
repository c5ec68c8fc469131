/// Where one tensor lives in a safetensors file and how to read it.
public struct SafeTensorInfo: Equatable, Sendable {
    /// Tensor name (the header key).
    public let name: String
    /// Element type as stored.
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// Number of elements (product of `shape`; 1 for a scalar).
    public let count: Int
    /// Byte range within the data buffer (which starts right after the header), as in `data_offsets`.
    public let byteRange: Range<Int>

    /// Bytes of data: `count × dtype.byteSize`.
    public var byteCount: Int { byteRange.count }
}

/// The validated contents of a safetensors header.
package struct SafeTensorsHeader {
    /// Largest header accepted: the format's reference implementation uses the same 100 MB bound.
    package static let maxHeaderBytes = 100_000_000

    /// Tensor entries in header order.
    package var entries: [SafeTensorInfo] = []
    /// `__metadata__`, empty when absent.
    package var metadata: [String: String] = [:]

    /// Parses and checks header JSON `bytes` against a data buffer of `bufferSize` bytes. Every problem is
    /// a `SafeTensorsError` naming `path` and the entry at fault.
    package static func parse(_ bytes: UnsafeRawBufferPointer, bufferSize: Int, path: String) throws -> SafeTensorsHeader {
        func fail(_ reason: SafeTensorsError.Reason) -> SafeTensorsError { SafeTensorsError(path: path, reason) }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw fail(.headerNotUTF8) }
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw fail(.invalidJSON(offset: error.offset, problem: error.problem)) }
        guard case let .object(members) = root else { throw fail(.headerNotObject(found: root.kindName)) }

        var header = SafeTensorsHeader()
        header.entries.reserveCapacity(members.count)
        for member in members {
            let (name, value) = (member.key, member.value)
            if name == "__metadata__" {
                header.metadata = try parseMetadata(value, fail: fail)
            } else {
                header.entries.append(try parseEntry(name, value, bufferSize: bufferSize, fail: fail))
            }
        }
        try checkNoOverlap(header.entries, fail: fail)
        return header
    }

    private static func parseMetadata(
        _ value: JSONValue, fail: (SafeTensorsError.Reason) -> SafeTensorsError
    ) throws -> [String: String] {
        if case .null = value { return [:] }
        guard case let .object(pairs) = value else {
            throw fail(.invalidMetadata(key: "__metadata__", problem: "must be an object of strings, found \(value.kindName)"))
        }
        var metadata: [String: String] = [:]
        for member in pairs {
            let (key, item) = (member.key, member.value)
            guard case let .string(text) = item else {
                throw fail(.invalidMetadata(key: key, problem: "value must be a string, found \(item.kindName)"))
            }
            metadata[key] = text
        }
        return metadata
    }

    /// Checks one entry. Fields other than dtype, shape and data_offsets are ignored, as the reference
    /// implementation does.
    private static func parseEntry(
        _ name: String, _ value: JSONValue, bufferSize: Int, fail: (SafeTensorsError.Reason) -> SafeTensorsError
    ) throws -> SafeTensorInfo {
        guard case let .object(fields) = value else { throw fail(.entryNotObject(tensor: name, found: value.kindName)) }
        func field(_ key: String) throws -> JSONValue {
            guard let v = fields.first(where: { $0.key == key })?.value else { throw fail(.missingField(tensor: name, field: key)) }
            return v
        }

        let dtypeValue = try field("dtype")
        guard case let .string(dtypeName) = dtypeValue else {
            throw fail(.wrongFieldType(tensor: name, field: "dtype", expected: "a string", found: dtypeValue.kindName))
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else { throw fail(.unknownDType(tensor: name, dtype: dtypeName)) }

        let shapeValue = try field("shape")
        guard case let .array(dims) = shapeValue else {
            throw fail(.wrongFieldType(tensor: name, field: "shape", expected: "an array of integers", found: shapeValue.kindName))
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (axis, dim) in dims.enumerated() {
            switch exactInteger(dim) {
            case let .success(n): shape.append(n)
            case let .failure(problem): throw fail(.invalidShape(tensor: name, problem: "dimension \(axis) \(problem.text)"))
            }
        }
        guard let (count, byteCount) = sizes(shape, dtype) else {
            throw fail(.sizeOverflow(tensor: name, shape: shape, dtype: dtype))
        }

        let offsetsValue = try field("data_offsets")
        guard case let .array(offsets) = offsetsValue, offsets.count == 2 else {
            throw fail(.invalidOffsets(tensor: name, problem: "must be [begin, end], found \(describeOffsets(offsetsValue))"))
        }
        var bounds: [Int] = []
        for (i, item) in offsets.enumerated() {
            switch exactInteger(item) {
            case let .success(n): bounds.append(n)
            case let .failure(problem):
                throw fail(.invalidOffsets(tensor: name, problem: "\(i == 0 ? "begin" : "end") \(problem.text)"))
            }
        }
        let (begin, end) = (bounds[0], bounds[1])
        guard begin <= end else { throw fail(.invalidOffsets(tensor: name, problem: "begin \(begin) is after end \(end)")) }
        guard end <= bufferSize else { throw fail(.dataOutOfBounds(tensor: name, end: end, bufferSize: bufferSize)) }

        guard byteCount == end - begin else {
            throw fail(.byteSizeMismatch(tensor: name, expected: byteCount, found: end - begin))
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, count: count, byteRange: begin..<end)
    }

    /// Element and byte counts of non-negative `shape`, or nil when either overflows Int. A zero dimension
    /// makes the tensor empty whatever the other dimensions are.
    package static func sizes(_ shape: [Int], _ dtype: SafeTensorsDType) -> (count: Int, bytes: Int)? {
        if shape.contains(0) { return (0, 0) }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        return overflow ? nil : (count, bytes)
    }

    /// A non-negative integer that fits in Int, read from the number's text with overflow checks, or why not.
    private static func exactInteger(_ value: JSONValue) -> Result<Int, IntegerProblem> {
        guard case let .number(text) = value else { return .failure(IntegerProblem("must be an integer, found \(value.kindName)")) }
        if text.hasPrefix("-") { return .failure(IntegerProblem("is negative (\(text))")) }
        var n = 0
        for byte in text.utf8 {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                return .failure(IntegerProblem("must be an integer, found \(value.kindName)"))
            }
            let (times10, o1) = n.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if o1 || o2 { return .failure(IntegerProblem("is too large (\(text) > \(Int.max))")) }
            n = sum
        }
        return .success(n)
    }

    private struct IntegerProblem: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    private static func describeOffsets(_ value: JSONValue) -> String {
        if case let .array(items) = value { return "an array of \(items.count) elements" }
        return value.kindName
    }

    /// Rejects entries whose byte ranges share a byte; empty ranges overlap nothing.
    private static func checkNoOverlap(
        _ entries: [SafeTensorInfo], fail: (SafeTensorsError.Reason) -> SafeTensorsError
    ) throws {
        let order = entries.indices.filter { !entries[$0].byteRange.isEmpty }
            .sorted { (entries[$0].byteRange.lowerBound, $0) < (entries[$1].byteRange.lowerBound, $1) }
        var furthest: Int? = nil  // the entry reaching furthest so far
        for i in order {
            if let f = furthest, entries[f].byteRange.upperBound > entries[i].byteRange.lowerBound {
                throw fail(.overlappingData(tensor: entries[i].name, other: entries[f].name))
            }
            if furthest == nil || entries[i].byteRange.upperBound > entries[furthest!].byteRange.upperBound { furthest = i }
        }
    }
}
