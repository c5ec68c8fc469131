import StrataCore
import StrataKernels
import StrataNN

/// Plain stochastic gradient descent with optional heavy-ball momentum and decoupled weight decay:
///     m ← μ·m + g;  p ← p − lr·(m + λ·p)      (μ = 0: p ← p − lr·(g + λ·p)).
/// The catalog's equivalence checks need it (`crms_norm` check b trains Pre-LN, Pre-RMSNorm and Pre-CRMSNorm
/// side by side: an update linear in the gradient commutes with the linear weight rewrite, which Adam's
/// per-coordinate scaling does not; `sigma_reparam` check c trains without an adaptive optimizer). So the
/// defaults are the plain rule: no momentum, no decay. The momentum buffer starts at zero and has no dampening
/// (PyTorch's convention), so the first momentum step equals a plain one.
public final class SGD: Optimizer {
    /// Hyper-parameters.
    public struct Options: Sendable {
        public var learningRate: Float
        /// Heavy-ball momentum μ (0: none).
        public var momentum: Float
        /// Decoupled decay λ, applied only to roles in `decayRoles` (0: none).
        public var weightDecay: Float
        /// Roles that receive weight decay when `weightDecay` > 0.
        public var decayRoles: Set<ParameterRole>

        public init(learningRate: Float = 0.1, momentum: Float = 0, weightDecay: Float = 0,
                    decayRoles: Set<ParameterRole> = [.weight]) {
            self.learningRate = learningRate; self.momentum = momentum
            self.weightDecay = weightDecay; self.decayRoles = decayRoles
        }
    }

    /// Current hyper-parameters.
    public var options: Options
    /// Parameters in update order (state keys use the index).
    public let parameters: [Parameter]
    /// Updates taken so far.
    public private(set) var step = 0
    /// Momentum buffers (empty tensors until momentum is used, so plain SGD keeps no state).
    private var momenta: [Tensor]

    /// SGD over `parameters`; those without a gradient (σReparam's u, v never get one) are left alone.
    public init(parameters: [Parameter], options: Options = Options()) {
        self.parameters = parameters
        self.options = options
        momenta = options.momentum != 0 ? parameters.map { Tensor.zeros($0.shape) } : []
    }

    /// Learning rate of the next update.
    public var learningRate: Float {
        get { options.learningRate }
        set { options.learningRate = newValue }
    }

    /// One SGD step for every parameter with a gradient; clears the gradients.
    public func update() {
        step += 1
        let o = options
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let decay = o.decayRoles.contains(p.role) ? o.weightDecay : 0
            p.value.withUnsafeMutablePointer { w in
                g.withUnsafePointer { grad in
                    if o.momentum == 0 {
                        parallelFor(p.value.count, grain: optimizerGrain) { r in
                            for j in r { w[j] -= o.learningRate * (grad[j] + decay * w[j]) }
                        }
                    } else {
                        momenta[i].withUnsafeMutablePointer { m in
                            parallelFor(p.value.count, grain: optimizerGrain) { r in
                                for j in r {
                                    m[j] = o.momentum * m[j] + grad[j]
                                    w[j] -= o.learningRate * (m[j] + decay * w[j])
                                }
                            }
                        }
                    }
                }
            }
            p.zeroGrad()
        }
    }

    /// `step`, and `momentum.i` per parameter index when momentum is on (copies).
    public func state() -> [(String, Tensor)] {
        [("step", Tensor(scalar: Float(step)))] + momenta.enumerated().map { ("momentum.\($0.offset)", $0.element.copy()) }
    }

    /// Restores `state()` output (of an SGD with the same momentum setting).
    public func loadState(_ state: [String: Tensor]) throws {
        var expected: [String: [Int]] = ["step": []]
        if options.momentum != 0 { for (i, p) in parameters.enumerated() { expected["momentum.\(i)"] = p.shape } }
        try checkOptimizerState(state, expected: expected, optimizer: "SGD")
        step = Int(state["step"]!.scalars[0])
        if options.momentum != 0 { momenta = parameters.indices.map { state["momentum.\($0)"]!.copy() } }
    }
}
