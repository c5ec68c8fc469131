import StrataCore
import StrataNN

/// One registered variant of a slot: parses its options and builds it, type-erased to the slot protocol.
public struct RegistryEntry<Product>: @unchecked Sendable {
    /// Id, summary, paper.
    public let info: ComponentInfo
    private let parseOptions: (inout OptionReader) -> Any
    private let buildComponent: (Any, BuildContext, inout RNG) -> Product
    private let countParameters: (Any, BuildContext) -> Int
    private let checkOptions: (Any, BuildContext) -> [SpecIssue]
    private let estimateCost: (Any, BuildContext) -> ComponentCost

    /// Registers `type` under its own `info.id`.
    public init<C: Component>(_ type: C.Type) {
        info = C.info
        parseOptions = { C.Options(&$0) }
        // Internal invariants: options reach these closures only from this entry's own `parse`, so each cast holds;
        // a wrong slot or a duplicate id is a registration mistake caught by the first test run.
        buildComponent = { options, context, rng in
            guard let product = C(options: options as! C.Options, context: context, rng: &rng) as? Product else {
                fatalError("catalog: \(C.self) is registered in the wrong slot (not a \(Product.self))")
            }
            return product
        }
        countParameters = { C.parameterCount(options: $0 as! C.Options, context: $1) }
        checkOptions = { C.issues(options: $0 as! C.Options, context: $1) }
        estimateCost = { C.cost(options: $0 as! C.Options, context: $1) }
    }

    /// Parses (and so validates and documents) the options held by `reader`.
    public func parse(_ reader: inout OptionReader) -> Any { parseOptions(&reader) }
    /// Builds the component from parsed options.
    public func build(_ options: Any, context: BuildContext, rng: inout RNG) -> Product {
        buildComponent(options, context, &rng)
    }
    /// Parameter-count formula for parsed options.
    public func parameterCount(_ options: Any, context: BuildContext) -> Int { countParameters(options, context) }
    /// The component's own constraints against the model (paths relative to the component).
    public func issues(_ options: Any, context: BuildContext) -> [SpecIssue] { checkOptions(options, context) }
    /// The component's analytical cost per token (see `ComponentCost`).
    public func cost(_ options: Any, context: BuildContext) -> ComponentCost { estimateCost(options, context) }

    /// The documented options with their defaults.
    public var optionDocs: [OptionDoc] {
        var reader = OptionReader([:], path: info.id)
        _ = parseOptions(&reader)
        return reader.docs
    }
}

/// All variants of one slot, by id.
public struct Registry<Product>: Sendable {
    /// The slot this registry fills.
    public let slot: Slot
    /// Entries in registration order.
    public let entries: [RegistryEntry<Product>]

    public init(_ slot: Slot, _ entries: [RegistryEntry<Product>]) {
        self.slot = slot
        self.entries = entries
        var seen = Set<String>()
        for e in entries where !seen.insert(e.info.id).inserted {
            fatalError("catalog: id \(e.info.id) registered twice in slot \(slot.rawValue)")
        }
    }

    /// Every id, in registration order.
    public var ids: [String] { entries.map(\.info.id) }

    /// The entry for `id`, or nil.
    public func entry(_ id: String) -> RegistryEntry<Product>? { entries.first { $0.info.id == id } }

    /// Parses a component spec: the entry and its options, or the problems found (unknown id, bad options).
    public func resolve(_ spec: ComponentSpec, path: String) -> (RegistryEntry<Product>, Any)? {
        var issues: [SpecIssue] = []
        let result = resolve(spec, path: path, issues: &issues)
        return issues.isEmpty ? result : nil
    }

    /// Parses a component spec, appending problems to `issues`.
    public func resolve(_ spec: ComponentSpec, path: String, issues: inout [SpecIssue]) -> (RegistryEntry<Product>, Any)? {
        guard let entry = entry(spec.id) else {
            issues.append(SpecIssue(path: joinPath(path, "id"),
                                    message: "unknown \(slot.rawValue) \"\(spec.id)\"; valid: \(ids.joined(separator: ", "))"))
            return nil
        }
        var reader = OptionReader(spec.options, path: path)
        let options = entry.parse(&reader)
        reader.finish()
        issues += reader.issues
        return (entry, options)
    }

    /// Parses a component spec and checks its constraints against `context`, appending every problem to `issues`
    /// with `path` in front. Constraints are checked only when the options parsed cleanly (a bad option falls back
    /// to its default, and a constraint on the default would name a value the spec never wrote).
    public func check(_ spec: ComponentSpec, path: String, context: BuildContext, issues: inout [SpecIssue]) {
        var local: [SpecIssue] = []
        guard let (entry, options) = resolve(spec, path: path, issues: &local) else { issues += local; return }
        guard local.isEmpty else { issues += local; return }
        issues += entry.issues(options, context: context).map { SpecIssue(path: joinPath(path, $0.path), message: $0.message) }
    }
}

/// A component as written in a spec: an id plus its options. In JSON either a bare id string
/// (`"rms_norm"`) or an object with an `id` key and the options beside it (`{"id": "rms_norm", "eps": 1e-6}`).
public struct ComponentSpec: Equatable, Sendable, Codable, ExpressibleByStringLiteral {
    /// Catalog id.
    public var id: String
    /// Options (every key but `id`).
    public var options: [String: JSONValue]

    public init(_ id: String, _ options: [String: JSONValue] = [:]) {
        self.id = id
        self.options = options
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// Reads a component from JSON, appending problems to `issues`.
    public static func read(_ value: JSONValue, path: String, issues: inout [SpecIssue]) -> ComponentSpec? {
        switch value {
        case .string(let id): return ComponentSpec(id)
        case .object(var o):
            guard case .string(let id)? = o.removeValue(forKey: "id") else {
                issues.append(SpecIssue(path: joinPath(path, "id"), message: "missing: a component object needs an \"id\" string"))
                return nil
            }
            return ComponentSpec(id, o)
        default:
            issues.append(SpecIssue(path: path, message: "expected a catalog id string or an object with \"id\", got \(value.typeName)"))
            return nil
        }
    }

    /// The JSON form: a bare string when there are no options.
    public var json: JSONValue {
        if options.isEmpty { return .string(id) }
        var o = options
        o["id"] = .string(id)
        return .object(o)
    }

    public init(from decoder: Decoder) throws {
        var issues: [SpecIssue] = []
        guard let c = ComponentSpec.read(try JSONValue(from: decoder), path: "", issues: &issues) else { throw SpecError(issues) }
        self = c
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }
}
