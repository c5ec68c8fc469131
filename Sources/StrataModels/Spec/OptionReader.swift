/// Documentation of one option a component reads: printed by `strata catalog`.
public struct OptionDoc: Sendable, Equatable {
    /// JSON key.
    public var key: String
    /// Default value, as JSON text.
    public var defaultValue: String
    /// One-line description, including valid values.
    public var help: String
}

/// Reads typed, documented options out of one JSON object, collecting every problem instead of stopping
/// at the first. Each read names its key, default and meaning, so the same code parses a spec, validates
/// it, and documents the component (`strata catalog`). Keys nobody read are reported by `finish()`.
public struct OptionReader {
    /// Dotted path of the object being read, for messages.
    public let path: String
    private let values: [String: JSONValue]
    private var used: Set<String> = ["id"]
    /// Problems found so far.
    public private(set) var issues: [SpecIssue] = []
    /// Every option read, in order.
    public private(set) var docs: [OptionDoc] = []

    /// A reader over `values` found at `path`.
    public init(_ values: [String: JSONValue], path: String) {
        self.values = values
        self.path = path
    }

    /// Records a problem with `key`.
    public mutating func fail(_ key: String, _ message: String) {
        issues.append(SpecIssue(path: joinPath(path, key), message: message))
    }

    private mutating func raw(_ key: String, _ defaultText: String, _ help: String) -> JSONValue? {
        used.insert(key)
        docs.append(OptionDoc(key: key, defaultValue: defaultText, help: help))
        guard let v = values[key], v != .null else { return nil }
        return v
    }

    /// An integer option in `range`.
    public mutating func int(_ key: String, default def: Int, _ help: String,
                             in range: ClosedRange<Int> = Int.min...Int.max) -> Int {
        guard let v = raw(key, "\(def)", help) else { return def }
        guard case .number(let d) = v, d == d.rounded(), abs(d) < 1e15 else {
            fail(key, "expected an integer, got \(v.typeName)"); return def
        }
        guard range.contains(Int(d)) else {
            let bound = Int(d) < range.lowerBound ? " (at least \(range.lowerBound))" : " (at most \(range.upperBound))"
            fail(key, "\(Int(d)) is out of range \(describe(range))\(bound)"); return def
        }
        return Int(d)
    }

    /// An optional integer option (no default).
    public mutating func optionalInt(_ key: String, _ help: String, in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard values[key] != nil, values[key] != .null else { _ = raw(key, "null", help); return nil }
        return int(key, default: 0, help, in: range).self
    }

    /// A floating-point option in `range`.
    public mutating func float(_ key: String, default def: Float, _ help: String,
                               in range: ClosedRange<Float> = -Float.greatestFiniteMagnitude...Float.greatestFiniteMagnitude) -> Float {
        guard let v = raw(key, "\(def)", help) else { return def }
        guard case .number(let d) = v, d.isFinite else { fail(key, "expected a number, got \(v.typeName)"); return def }
        guard range.contains(Float(d)) else { fail(key, "\(d) is out of range \(range.lowerBound)...\(range.upperBound)"); return def }
        return Float(d)
    }

    /// A boolean option.
    public mutating func bool(_ key: String, default def: Bool, _ help: String) -> Bool {
        guard let v = raw(key, "\(def)", help) else { return def }
        guard case .bool(let b) = v else { fail(key, "expected true or false, got \(v.typeName)"); return def }
        return b
    }

    /// A string option that must be one of `choices`.
    public mutating func choice(_ key: String, default def: String, among choices: [String], _ help: String) -> String {
        guard let v = raw(key, "\"\(def)\"", "\(help) (one of: \(choices.joined(separator: ", ")))") else { return def }
        guard case .string(let s) = v else { fail(key, "expected a string, got \(v.typeName)"); return def }
        guard choices.contains(s) else {
            fail(key, "unknown value \"\(s)\"; valid: \(choices.joined(separator: ", "))"); return def
        }
        return s
    }

    /// A list of integers.
    public mutating func intList(_ key: String, default def: [Int], _ help: String) -> [Int] {
        guard let v = raw(key, "\(def)", help) else { return def }
        guard case .array(let a) = v else { fail(key, "expected an array of integers, got \(v.typeName)"); return def }
        var out: [Int] = []
        for e in a {
            // The magnitude bound keeps Int(d) from trapping on 1e300; such an index is out of any range anyway.
            guard case .number(let d) = e, d == d.rounded(), abs(d) < 1e15 else {
                fail(key, "expected integers, found \(e.scalarText ?? e.typeName)"); return def
            }
            out.append(Int(d))
        }
        return out
    }

    /// The raw JSON value of a nested option (a sub-component), marked as read.
    public mutating func nested(_ key: String, _ help: String) -> JSONValue? {
        raw(key, "null", help)
    }

    /// Reports every key that no read asked for, listing the valid keys. Call once, after all reads.
    public mutating func finish() {
        let valid = docs.map(\.key)
        for key in values.keys.sorted() where !used.contains(key) {
            let list = valid.isEmpty ? "this component takes no options" : "valid keys: \(valid.joined(separator: ", "))"
            fail(key, "unknown key; \(list)")
        }
    }

    private func describe(_ r: ClosedRange<Int>) -> String {
        if r.upperBound == Int.max { return "≥ \(r.lowerBound)" }
        return "\(r.lowerBound)...\(r.upperBound)"
    }
}
