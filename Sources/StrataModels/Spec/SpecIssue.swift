/// One problem found in a spec, with the dotted key path at fault (`block.token_mixer.kv_heads`).
public struct SpecIssue: Equatable, Sendable, CustomStringConvertible {
    /// Dotted key path of the offending value.
    public var path: String
    /// What is wrong and what would be valid.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Every problem found in a spec; thrown by decoding and by `ModelSpec.validated()`.
public struct SpecError: Error, CustomStringConvertible {
    /// The problems, in the order found.
    public var issues: [SpecIssue]
    /// The file the spec came from, when known.
    public var file: String?

    public init(_ issues: [SpecIssue], file: String? = nil) {
        self.issues = issues
        self.file = file
    }

    public var description: String {
        let head = file.map { "invalid spec \($0)" } ?? "invalid spec"
        let count = issues.count == 1 ? "1 problem" : "\(issues.count) problems"
        return "\(head) (\(count)):\n" + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Joins key-path components, skipping empty ones.
func joinPath(_ base: String, _ key: String) -> String {
    base.isEmpty ? key : key.isEmpty ? base : "\(base).\(key)"
}
