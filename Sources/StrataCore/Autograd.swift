/// A vertex of the reverse-mode graph: either a leaf that accumulates a gradient, or the op that made a
/// tensor, with its parents and a closure mapping the output gradient to one gradient per parent.
///
/// Closures capture the op's inputs and saved values, never its output, so the graph holds no cycles and
/// is freed with the last tensor that refers to it.
package final class GradNode {
    /// Op name, for diagnostics ("matmul", "add", "leaf").
    let op: String
    /// Shape of the tensor this node produced.
    let shape: [Int]
    /// Parents in input order; `nil` for an input that needs no gradient.
    let parents: [GradNode?]
    /// Output gradient → one gradient per parent (entries for `nil` parents are ignored).
    let backward: ((Tensor) -> [Tensor?])?
    /// Gradient accumulated into a leaf by `Tensor.backward`.
    var grad: Tensor?
    /// For ops whose output is a region of their single input (slices): adds the output gradient into a
    /// full-size gradient buffer of the input in place. Splitting a tensor into n pieces then costs O(size)
    /// in the backward instead of n full-size zero tensors and n full-size additions.
    let addIntoParent: ((Tensor, UnsafeMutablePointer<Float>) -> Void)?

    init(op: String, shape: [Int], parents: [GradNode?], backward: ((Tensor) -> [Tensor?])?,
         addIntoParent: ((Tensor, UnsafeMutablePointer<Float>) -> Void)? = nil) {
        self.op = op
        self.shape = shape
        self.parents = parents
        self.backward = backward
        self.addIntoParent = addIntoParent
    }

    var isLeaf: Bool { backward == nil }
}

/// Whether ops record the autograd graph; off inside `withNoGrad` (evaluation, generation).
public enum GradMode {
    /// True unless the current task is inside `withNoGrad`.
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording gradients: faster, and no graph is kept alive.
@discardableResult
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// True when this tensor is a leaf that collects gradients or was computed from one.
    public var requiresGrad: Bool { node != nil }

    /// This tensor as a fresh leaf of the graph: `backward()` will accumulate into its `grad`.
    public func requiringGrad() -> Tensor {
        Tensor(shape: shape, storage: storage, offset: offset,
               node: GradNode(op: "leaf", shape: shape, parents: [], backward: nil))
    }

    /// The gradient accumulated into this leaf by `backward()`, if any.
    public var grad: Tensor? { node?.isLeaf == true ? node?.grad : nil }

    /// Clears this leaf's accumulated gradient.
    public func zeroGrad() { if node?.isLeaf == true { node?.grad = nil } }

    /// Wraps an op's result: records a node when gradients are enabled and an input needs one.
    /// `backward` maps the output gradient to one gradient (or `nil`) per input, in order.
    package static func record(_ op: String, _ value: Tensor, _ inputs: [Tensor],
                               addIntoParent: ((Tensor, UnsafeMutablePointer<Float>) -> Void)? = nil,
                               backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0.node != nil }) else { return value }
        let node = GradNode(op: op, shape: value.shape, parents: inputs.map(\.node), backward: backward,
                            addIntoParent: inputs.count == 1 ? addIntoParent : nil)
        return Tensor(shape: value.shape, storage: value.storage, offset: value.offset, node: node)
    }

    /// Back-propagates from this tensor, accumulating gradients into every leaf it depends on.
    ///
    /// `gradient` defaults to ones, so a scalar loss needs no argument. Gradients are summed when a leaf
    /// is reached along several paths, and add to what the leaf already holds (call `zeroGrad` between
    /// steps, or let the optimizer do it).
    public func backward(_ gradient: Tensor? = nil) {
        guard let root = node else {
            shapeError("backward", "this tensor does not require gradients (no input was a leaf)")
        }
        let seed = gradient ?? Tensor.ones(shape)
        guard seed.shape == shape else {
            shapeError("backward", "gradient of shape \(seed.shape) for a tensor of shape \(shape)")
        }
        let order = Self.topologicalOrder(from: root)
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        // Gradients this pass allocated itself (sums, region buffers): only these may be added into in place;
        // any other may share storage with a gradient handed to another node.
        var owned = Set<ObjectIdentifier>()
        withNoGrad {
            for current in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(current)) else { continue }
                owned.remove(ObjectIdentifier(current))
                guard let backward = current.backward else {
                    current.grad = current.grad.map { $0 + g } ?? g
                    continue
                }
                if let addInto = current.addIntoParent, let parent = current.parents[0] {
                    let key = ObjectIdentifier(parent)
                    let buffer: Tensor
                    if let existing = grads[key], owned.contains(key) {
                        buffer = existing
                    } else {
                        buffer = grads[key]?.copy() ?? Tensor.zeros(parent.shape)
                        grads[key] = buffer
                        owned.insert(key)
                    }
                    addInto(g, buffer.pointer)
                    continue
                }
                let parentGrads = backward(g)
                for (parent, pg) in zip(current.parents, parentGrads) {
                    guard let parent, let pg else { continue }
                    guard pg.shape == parent.shape else {
                        fatalError("Strata.backward: op '\(current.op)' produced a gradient of shape \(pg.shape) for an input of shape \(parent.shape)")
                    }
                    let key = ObjectIdentifier(parent)
                    if let existing = grads[key] {
                        grads[key] = existing + pg
                        owned.insert(key)
                    } else {
                        grads[key] = pg
                        owned.remove(key)
                    }
                }
            }
        }
    }

    /// Nodes reachable from `root`, each after all of its parents (iterative: deep graphs are fine).
    private static func topologicalOrder(from root: GradNode) -> [GradNode] {
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(GradNode, Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while let (node, next) = stack.popLast() {
            if next < node.parents.count {
                stack.append((node, next + 1))
                if let parent = node.parents[next], visited.insert(ObjectIdentifier(parent)).inserted {
                    stack.append((parent, 0))
                }
            } else {
                order.append(node)
            }
        }
        return order
    }
}
