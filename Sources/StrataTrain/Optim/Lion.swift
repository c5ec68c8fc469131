import StrataCore
import StrataKernels
import StrataNN

/// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Alg. 2): the update is the
/// sign of an interpolation of momentum and gradient, so every coordinate moves by exactly ±lr:
///     u = sign(β1·m + (1−β1)·g);  p ← p − lr·(u + λ·p);  m ← β2·m + (1−β2)·g.
/// Weight decay is decoupled and applied only to roles in `decayRoles`.
public final class Lion: Optimizer {
    /// Hyper-parameters; the paper suggests an lr 3–10× smaller and a decay 3–10× larger than AdamW's.
    public struct Options: Sendable {
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var weightDecay: Float
        /// Roles that receive weight decay (default: only matrix weights).
        public var decayRoles: Set<ParameterRole>

        /// Defaults from the paper's language-model runs (β1 0.9, β2 0.99).
        public init(learningRate: Float = 1e-4, beta1: Float = 0.9, beta2: Float = 0.99, weightDecay: Float = 0.1,
                    decayRoles: Set<ParameterRole> = [.weight]) {
            self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
            self.weightDecay = weightDecay; self.decayRoles = decayRoles
        }
    }

    /// Current hyper-parameters.
    public var options: Options
    /// Parameters in update order (state keys use the index).
    public let parameters: [Parameter]
    /// Updates taken so far.
    public private(set) var step = 0
    private var momenta: [Tensor]

    /// Lion over `parameters` with zeroed momenta.
    public init(parameters: [Parameter], options: Options = Options()) {
        self.parameters = parameters
        self.options = options
        momenta = parameters.map { Tensor.zeros($0.shape) }
    }

    /// Learning rate of the next update.
    public var learningRate: Float {
        get { options.learningRate }
        set { options.learningRate = newValue }
    }

    /// One Lion step for every parameter with a gradient; clears the gradients.
    public func update() {
        step += 1
        let o = options
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let keep = 1 - o.learningRate * (o.decayRoles.contains(p.role) ? o.weightDecay : 0)
            p.value.withUnsafeMutablePointer { w in
                momenta[i].withUnsafeMutablePointer { m in
                    g.withUnsafePointer { grad in
                        parallelFor(p.value.count, grain: optimizerGrain) { r in
                            for j in r {
                                let c = o.beta1 * m[j] + (1 - o.beta1) * grad[j]
                                let u: Float = c > 0 ? 1 : (c < 0 ? -1 : 0)
                                w[j] = w[j] * keep - o.learningRate * u
                                m[j] = o.beta2 * m[j] + (1 - o.beta2) * grad[j]
                            }
                        }
                    }
                }
            }
            p.zeroGrad()
        }
    }

    /// `step` and `exp_avg.i` per parameter index (copies).
    public func state() -> [(String, Tensor)] {
        [("step", Tensor(scalar: Float(step)))] + momenta.enumerated().map { ("exp_avg.\($0.offset)", $0.element.copy()) }
    }

    /// Restores `state()` output.
    public func loadState(_ state: [String: Tensor]) throws {
        var expected: [String: [Int]] = ["step": []]
        for (i, p) in parameters.enumerated() { expected["exp_avg.\(i)"] = p.shape }
        try checkOptimizerState(state, expected: expected, optimizer: "Lion")
        step = Int(state["step"]!.scalars[0])
        momenta = parameters.indices.map { state["exp_avg.\($0)"]!.copy() }
    }
}
