import StrataCore

/// Base class of every layer and model: owns parameters and child modules, found by reflection in
/// declaration order (so parameter order, and hence initialization and checkpoints, are stable).
///
/// Stored properties of type `Parameter`, `Module`, their optionals and arrays are discovered
/// automatically; a module whose structure is dynamic can override `children()`.
open class Module {
    /// True while training (dropout active); set for a whole tree with `train(_:)`.
    public private(set) var isTraining = true

    public init() {}

    /// Direct named children: parameters and sub-modules. The default reflects over stored properties;
    /// arrays become `name.0`, `name.1`, …; a leading underscore (property wrappers) is dropped.
    open func children() -> [(String, ModuleChild)] {
        var out: [(String, ModuleChild)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [[(String, ModuleChild)]] = []
        while let m = mirror {
            var level: [(String, ModuleChild)] = []
            for child in m.children {
                guard var name = child.label else { continue }
                if name.hasPrefix("_") { name.removeFirst() }
                Self.collect(name, child.value, into: &level)
            }
            levels.append(level)
            mirror = m.superclassMirror
        }
        // Superclass properties first, then the subclass's own, each in declaration order.
        for level in levels.reversed() { out += level }
        return out
    }

    private static func collect(_ name: String, _ value: Any, into out: inout [(String, ModuleChild)]) {
        switch value {
        case let p as Parameter: out.append((name, .parameter(p)))
        case let m as Module: out.append((name, .module(m)))
        case let ps as [Parameter]: for (i, p) in ps.enumerated() { out.append(("\(name).\(i)", .parameter(p))) }
        case let ms as [Module]: for (i, m) in ms.enumerated() { out.append(("\(name).\(i)", .module(m))) }
        case let opt as Parameter?: if let p = opt { out.append((name, .parameter(p))) }
        case let opt as Module?: if let m = opt { out.append((name, .module(m))) }
        default: break
        }
    }

    /// Every parameter below this module with its dotted path (`blocks.0.attn.q.weight`), in a stable order.
    public func namedParameters() -> [(String, Parameter)] {
        var out: [(String, Parameter)] = []
        var seen = Set<ObjectIdentifier>()
        func walk(_ module: Module, _ prefix: String) {
            for (name, child) in module.children() {
                let path = prefix.isEmpty ? name : "\(prefix).\(name)"
                switch child {
                case .parameter(let p):
                    // A parameter shared by two modules (tied embeddings) is listed once, at its first path.
                    if seen.insert(ObjectIdentifier(p)).inserted { out.append((path, p)) }
                case .module(let m): walk(m, path)
                }
            }
        }
        walk(self, "")
        return out
    }

    /// Every parameter below this module, in `namedParameters()` order.
    public func parameters() -> [Parameter] { namedParameters().map(\.1) }

    /// Total number of trainable scalars.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.value.count } }

    /// Every module in this tree, this one first (pre-order).
    public func modules() -> [Module] {
        var out: [Module] = [self]
        for (_, child) in children() { if case .module(let m) = child { out += m.modules() } }
        return out
    }

    /// Switches the whole tree between training and evaluation behaviour.
    public func train(_ on: Bool = true) {
        for m in modules() { m.isTraining = on }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() { for p in parameters() { p.zeroGrad() } }
}

/// A child found by `Module.children()`.
public enum ModuleChild {
    case parameter(Parameter)
    case module(Module)
}
