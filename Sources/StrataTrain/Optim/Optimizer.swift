import StrataCore
import StrataKernels
import StrataNN

/// What the trainer needs from an optimizer: a settable learning rate (for schedules), one update per
/// step, and state for exact resume.
public protocol Optimizer: AnyObject {
    /// Learning rate of the next update.
    var learningRate: Float { get set }
    /// Updates taken so far.
    var step: Int { get }
    /// Applies one update from the accumulated gradients, then clears them.
    func update()
    /// Everything needed to continue bit-identically (copies).
    func state() -> [(String, Tensor)]
    /// Restores `state()` output; errors name missing, unexpected or mis-shaped keys.
    func loadState(_ state: [String: Tensor]) throws
}

extension AdamW: Optimizer {}

/// Optimizer state that does not fit this optimizer: names the keys at fault.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    /// Which optimizer was loading.
    public var optimizer: String
    /// One line per problem (missing key, unexpected key, shape mismatch).
    public var problems: [String]

    public var description: String {
        "cannot load \(optimizer) state:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Checks `state` against the expected keys and shapes (a one-element tensor for scalars), listing
/// every problem at once.
func checkOptimizerState(_ state: [String: Tensor], expected: [String: [Int]], optimizer: String) throws {
    var problems: [String] = []
    for (key, shape) in expected.sorted(by: { $0.key < $1.key }) {
        guard let t = state[key] else { problems.append("missing key \(key)"); continue }
        let ok = shape.isEmpty ? t.count == 1 : t.shape == shape
        if !ok { problems.append("\(key): expected shape \(shape), found \(t.shape)") }
    }
    for key in state.keys.sorted() where expected[key] == nil { problems.append("unexpected key \(key)") }
    if !problems.isEmpty { throw OptimizerStateError(optimizer: optimizer, problems: problems) }
}

/// Elements per task when an optimizer update is split over threads (each element is independent, so
/// the split never changes results).
let optimizerGrain = 32_768

/// Scales all gradients so their global L2 norm is at most `maxNorm`, and returns the norm before
/// clipping. Squares are summed in Double, parameter by parameter in order, so the result does not
/// depend on the thread count. A non-finite norm is returned without touching the gradients (the
/// trainer reports it).
///
/// Gradients are scaled in place; leaves whose gradients share one buffer (autograd may hand the same
/// tensor to several leaves) are scaled once.
@discardableResult
public func clipGradientNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var sumSquares = 0.0
    for p in parameters {
        guard let g = p.grad else { continue }
        g.withUnsafePointer { ptr in
            var s = 0.0
            for i in 0..<g.count { let x = Double(ptr[i]); s += x * x }
            sumSquares += s
        }
    }
    let norm = Float(sumSquares.squareRoot())
    guard norm.isFinite, norm > maxNorm, maxNorm >= 0 else { return norm }
    let scale = maxNorm / norm
    struct Region: Hashable { var storage: ObjectIdentifier, offset: Int, count: Int }
    var scaled = Set<Region>()
    for p in parameters {
        guard let g = p.grad else { continue }
        guard scaled.insert(Region(storage: ObjectIdentifier(g.storage), offset: g.offset, count: g.count)).inserted
        else { continue }
        g.withUnsafeMutablePointer { ptr in
            for i in 0..<g.count { ptr[i] *= scale }
        }
    }
    return norm
}
