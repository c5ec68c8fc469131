import Foundation

/// A parsed JSON value. Specs are read into this form first so that every problem (unknown keys, wrong
/// types, unknown ids) can be collected and reported at once, with its key path, before anything is built.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses UTF-8 JSON text.
    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Parses a command-line value: JSON if it parses (`4`, `true`, `"x"`, `{"id": "rope"}`), else a bare string.
    public static func parseLoose(_ text: String) -> JSONValue {
        if let v = try? parse(Data(text.utf8)) { return v }
        return .string(text)
    }

    /// Serialized JSON text with sorted keys (stable, diff-friendly).
    public func jsonText(pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// A short name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// A scalar as display text (integers without a fraction); nil for null, arrays and objects.
    public var scalarText: String? {
        switch self {
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n.isFinite && n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
        case .string(let s): return s
        case .null, .array, .object: return nil
        }
    }

    /// The object's members, if this is an object.
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }
    /// The string, if this is a string.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }

    /// Returns a copy with the value at a dotted path (`block.token_mixer.kv_heads`) replaced, creating objects
    /// on the way. A component written as a bare id string (`"rms_norm"`) becomes `{"id": "rms_norm"}` so that
    /// its options can be set. Array elements are addressed by index (`overrides.0.layers`).
    public func setting(_ path: [String], to value: JSONValue) throws -> JSONValue {
        guard let key = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch self {
        case .object(var o):
            o[key] = try (o[key] ?? .object([:])).setting(rest, to: value)
            return .object(o)
        case .string(let id):
            return try JSONValue.object(["id": .string(id)]).setting(path, to: value)
        case .array(var a):
            guard let i = Int(key), a.indices.contains(i) else {
                throw SpecError([SpecIssue(path: key, message: "is not an index of an array of \(a.count) elements")])
            }
            a[i] = try a[i].setting(rest, to: value)
            return .array(a)
        case .null:
            return try JSONValue.object([:]).setting(path, to: value)
        default:
            throw SpecError([SpecIssue(path: key, message: "cannot set a member of \(typeName)")])
        }
    }
}

extension JSONValue: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d):
            if d == d.rounded(), abs(d) < 1e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
