import StrataCore

/// Why a state dict could not be loaded: every problem found, not just the first.
public struct StateDictError: Error, CustomStringConvertible, Equatable {
    /// Parameters of the module with no entry in the dict.
    public var missing: [String] = []
    /// Entries of the dict that match no parameter.
    public var unexpected: [String] = []
    /// Entries whose shape differs: (key, expected, found).
    public var shapeMismatches: [(String, [Int], [Int])] = []

    public var description: String {
        var lines = ["cannot load state dict:"]
        if !missing.isEmpty { lines.append("  missing keys: \(missing.joined(separator: ", "))") }
        if !unexpected.isEmpty { lines.append("  unexpected keys: \(unexpected.joined(separator: ", "))") }
        for (key, want, got) in shapeMismatches {
            lines.append("  \(key): expected shape \(want), found \(got)")
        }
        return lines.joined(separator: "\n")
    }

    public static func == (a: Self, b: Self) -> Bool { a.description == b.description }
    var isEmpty: Bool { missing.isEmpty && unexpected.isEmpty && shapeMismatches.isEmpty }
}

extension Module {
    /// Every parameter's value by dotted path, in `namedParameters()` order (detached copies' views).
    public func stateDict() -> [(String, Tensor)] {
        namedParameters().map { ($0.0, $0.1.value.detached()) }
    }

    /// Copies values from `dict` into this module's parameters (identities are kept).
    ///
    /// With `strict` (the default) every parameter must be present and every entry used; shapes must
    /// always match. Nothing is changed unless the whole dict is acceptable.
    public func load(stateDict dict: [String: Tensor], strict: Bool = true) throws {
        let params = namedParameters()
        var error = StateDictError()
        for (name, p) in params {
            guard let t = dict[name] else { if strict { error.missing.append(name) }; continue }
            if t.shape != p.shape { error.shapeMismatches.append((name, p.shape, t.shape)) }
        }
        if strict {
            let known = Set(params.map(\.0))
            error.unexpected = dict.keys.filter { !known.contains($0) }.sorted()
        }
        guard error.isEmpty else { throw error }
        for (name, p) in params { if let t = dict[name] { p.assign(t) } }
    }
}
