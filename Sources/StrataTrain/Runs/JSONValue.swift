import Foundation

/// Any JSON value, for reading free-form JSON columns (summaries, specs) without a fixed schema.
///
/// Decoded with `JSONDecoder` rather than `JSONSerialization` because the latter hands back booleans
/// and numbers as the same `NSNumber` type on Linux, so `true` and `1` could not be told apart.
package enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Tries each JSON type in turn; booleans first so `true` never reads as the number 1.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Parses `text`; nil when it is not valid JSON.
    package static func parse(_ text: String) -> JSONValue? {
        let decoder = JSONDecoder()
        // Summaries are written with these spellings for non-finite numbers (see RunStore.finish).
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try? decoder.decode(JSONValue.self, from: Data(text.utf8))
    }

    /// Compact text for a scalar: integral numbers without ".0"; nil for arrays, objects and null.
    package var scalarText: String? {
        switch self {
        case .bool(let b): return b ? "true" : "false"
        case .number(let n):
            return n.isFinite && n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
        case .string(let s): return s
        case .null, .array, .object: return nil
        }
    }
}
