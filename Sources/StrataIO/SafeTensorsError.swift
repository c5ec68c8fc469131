/// One parameter whose shape in a file differs from the module's: the key and both shapes.
public struct SafeTensorsShapeMismatch: Equatable, Sendable {
    /// Dotted parameter path (the tensor name in the file).
    public let key: String
    /// Shape the module expects.
    public let expected: [Int]
    /// Shape stored in the file.
    public let found: [Int]

    /// A mismatch record.
    public init(key: String, expected: [Int], found: [Int]) {
        self.key = key
        self.expected = expected
        self.found = found
    }
}

/// Why a safetensors file could not be read or written; the message names the file and the tensor or
/// header field at fault.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, with the tensor or field it concerns.
    public enum Reason: Equatable, Sendable {
        /// An operating-system call failed (`operation` is e.g. "open", "mmap", "rename").
        case io(operation: String, message: String)
        /// The path is not a regular file (a directory, a device, …).
        case notRegularFile
        /// The file cannot hold the 8-byte header length.
        case fileTooShort(size: Int)
        /// The header length prefix is beyond any sensible header (more than `limit` bytes).
        case headerTooLarge(length: UInt64, limit: Int)
        /// The header length prefix points past the end of the file.
        case headerBeyondFile(length: UInt64, available: Int)
        /// The header is not valid UTF-8.
        case headerNotUTF8
        /// The header is not well-formed JSON; `offset` is the byte within the header.
        case invalidJSON(offset: Int, problem: String)
        /// The header's top-level JSON value is not an object.
        case headerNotObject(found: String)
        /// A tensor entry is not a JSON object.
        case entryNotObject(tensor: String, found: String)
        /// A tensor entry lacks a required field.
        case missingField(tensor: String, field: String)
        /// A field of a tensor entry has the wrong JSON type or form.
        case wrongFieldType(tensor: String, field: String, expected: String, found: String)
        /// A dtype string this reader does not know.
        case unknownDType(tensor: String, dtype: String)
        /// A shape dimension is negative, fractional, or too large.
        case invalidShape(tensor: String, problem: String)
        /// The element count or byte size of a tensor does not fit in an Int.
        case sizeOverflow(tensor: String, shape: [Int], dtype: SafeTensorsDType)
        /// `data_offsets` is not `[begin, end]` with 0 ≤ begin ≤ end.
        case invalidOffsets(tensor: String, problem: String)
        /// A tensor's data ends past the end of the byte buffer.
        case dataOutOfBounds(tensor: String, end: Int, bufferSize: Int)
        /// A tensor's byte range does not hold exactly count × dtype size bytes.
        case byteSizeMismatch(tensor: String, expected: Int, found: Int)
        /// Two tensors' byte ranges overlap.
        case overlappingData(tensor: String, other: String)
        /// `__metadata__` is not an object of strings.
        case invalidMetadata(key: String, problem: String)
        /// No tensor of that name; `available` lists (some of) the names that exist.
        case noSuchTensor(name: String, available: [String])
        /// Integer access to floating-point data.
        case notIntegerData(tensor: String, dtype: SafeTensorsDType)
        /// An integer element does not fit the requested width.
        case integerOutOfRange(tensor: String, index: Int, value: Int64)
        /// Two entries to write share a name.
        case duplicateName(String)
        /// An entry to write is inconsistent (reserved name, wrong element count, unsupported dtype, …).
        case invalidEntry(tensor: String, problem: String)
        /// A module's parameters and a file's tensors disagree.
        case stateDictMismatch(missing: [String], unexpected: [String], shapes: [SafeTensorsShapeMismatch])
    }

    /// The file being read or written.
    public let path: String
    /// What went wrong.
    public let reason: Reason

    /// An error about the file at `path`.
    public init(path: String, _ reason: Reason) {
        self.path = path
        self.reason = reason
    }

    /// "safetensors file '<path>': <what went wrong>".
    public var description: String { "safetensors file '\(path)': \(message)" }

    private var message: String {
        switch reason {
        case let .io(operation, message): return "\(operation) failed: \(message)"
        case .notRegularFile: return "not a regular file"
        case let .fileTooShort(size):
            return "file is \(size) bytes; a safetensors file starts with an 8-byte header length"
        case let .headerTooLarge(length, limit):
            return "header length prefix is \(length) bytes, over the \(limit)-byte limit (corrupt or not safetensors)"
        case let .headerBeyondFile(length, available):
            return "header length prefix is \(length) bytes but only \(available) bytes follow it"
        case .headerNotUTF8: return "header is not valid UTF-8"
        case let .invalidJSON(offset, problem): return "header is not valid JSON at byte \(offset): \(problem)"
        case let .headerNotObject(found): return "header must be a JSON object, found \(found)"
        case let .entryNotObject(tensor, found):
            return "tensor '\(tensor)': entry must be an object with dtype, shape, data_offsets; found \(found)"
        case let .missingField(tensor, field): return "tensor '\(tensor)': missing field '\(field)'"
        case let .wrongFieldType(tensor, field, expected, found):
            return "tensor '\(tensor)': field '\(field)' must be \(expected), found \(found)"
        case let .unknownDType(tensor, dtype):
            let valid = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "tensor '\(tensor)': unknown dtype '\(dtype)' (valid: \(valid))"
        case let .invalidShape(tensor, problem): return "tensor '\(tensor)': invalid shape: \(problem)"
        case let .sizeOverflow(tensor, shape, dtype):
            return "tensor '\(tensor)': shape \(shape) of \(dtype.rawValue) overflows a 64-bit byte count"
        case let .invalidOffsets(tensor, problem): return "tensor '\(tensor)': invalid data_offsets: \(problem)"
        case let .dataOutOfBounds(tensor, end, bufferSize):
            return "tensor '\(tensor)': data_offsets end \(end) is past the \(bufferSize)-byte data buffer"
        case let .byteSizeMismatch(tensor, expected, found):
            return "tensor '\(tensor)': data_offsets span \(found) bytes but dtype × shape needs \(expected)"
        case let .overlappingData(tensor, other):
            return "tensor '\(tensor)': data overlaps tensor '\(other)'"
        case let .invalidMetadata(key, problem): return "__metadata__ '\(key)': \(problem)"
        case let .noSuchTensor(name, available):
            let list = available.isEmpty ? "the file holds no tensors" : "available: \(available.joined(separator: ", "))"
            return "no tensor named '\(name)' (\(list))"
        case let .notIntegerData(tensor, dtype):
            return "tensor '\(tensor)': dtype \(dtype.rawValue) is floating point; integer access needs I8, I16, I32, I64, U8 or BOOL"
        case let .integerOutOfRange(tensor, index, value):
            return "tensor '\(tensor)': element \(index) = \(value) does not fit in Int32"
        case let .duplicateName(name): return "tensor '\(name)' appears more than once"
        case let .invalidEntry(tensor, problem): return "tensor '\(tensor)': \(problem)"
        case let .stateDictMismatch(missing, unexpected, shapes):
            var lines = ["does not match the module's parameters:"]
            if !missing.isEmpty { lines.append("  missing keys: \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { lines.append("  unexpected keys: \(unexpected.joined(separator: ", "))") }
            for m in shapes { lines.append("  \(m.key): module expects shape \(m.expected), file has \(m.found)") }
            return lines.joined(separator: "\n")
        }
    }
}
