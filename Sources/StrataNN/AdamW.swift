import StrataCore
import StrataKernels

/// AdamW (Loshchilov & Hutter, decoupled weight decay) over a fixed list of parameters, updating them in
/// place with the fused kernel. Parameters whose role is not in `decayRoles` get no weight decay.
public final class AdamW {
    /// Hyper-parameters; `learningRate` may be changed between steps by a schedule.
    public struct Options: Sendable {
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var eps: Float
        public var weightDecay: Float
        /// Roles that receive weight decay (default: only matrix weights).
        public var decayRoles: Set<ParameterRole>

        public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                    weightDecay: Float = 0.01, decayRoles: Set<ParameterRole> = [.weight]) {
            self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
            self.eps = eps; self.weightDecay = weightDecay; self.decayRoles = decayRoles
        }
    }

    /// Current hyper-parameters.
    public var options: Options
    /// Parameters in update order.
    public let parameters: [Parameter]
    /// Steps taken so far (bias correction uses step + 1).
    public private(set) var step = 0
    private var firstMoments: [Tensor]
    private var secondMoments: [Tensor]

    /// Learning rate of the next update (what a schedule sets each step).
    public var learningRate: Float {
        get { options.learningRate }
        set { options.learningRate = newValue }
    }

    /// Optimizer over `parameters` (in this order; state keys use the index) with zeroed moments.
    public init(parameters: [Parameter], options: Options = Options()) {
        self.parameters = parameters
        self.options = options
        firstMoments = parameters.map { Tensor.zeros($0.shape) }
        secondMoments = parameters.map { Tensor.zeros($0.shape) }
    }

    /// Applies one update from the accumulated gradients (parameters without a gradient are skipped),
    /// then clears the gradients.
    public func update() {
        step += 1
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let decay = options.decayRoles.contains(p.role) ? options.weightDecay : 0
            p.value.withUnsafeMutablePointer { param in
                firstMoments[i].withUnsafeMutablePointer { m in
                    secondMoments[i].withUnsafeMutablePointer { v in
                        g.withUnsafePointer { grad in
                            AdamWKernel.update(param: param, grad: grad, m: m, v: v, count: p.value.count,
                                               lr: options.learningRate, beta1: options.beta1, beta2: options.beta2,
                                               eps: options.eps, weightDecay: decay, step: step)
                        }
                    }
                }
            }
            p.zeroGrad()
        }
    }
}

extension AdamW {
    /// The state a checkpoint needs: `step` (a scalar; exact up to 2^24) and, per parameter index i,
    /// `exp_avg.i` and `exp_avg_sq.i` (copies, so later updates do not change them).
    public func state() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = [("step", Tensor(scalar: Float(step)))]
        for i in parameters.indices {
            out.append(("exp_avg.\(i)", firstMoments[i].copy()))
            out.append(("exp_avg_sq.\(i)", secondMoments[i].copy()))
        }
        return out
    }

    /// Restores `state()` output; every key must be present with the right shape, nothing else may be.
    public func loadState(_ state: [String: Tensor]) throws {
        var error = StateDictError()
        var expected: [String: [Int]] = ["step": []]
        for (i, p) in parameters.enumerated() {
            expected["exp_avg.\(i)"] = p.shape
            expected["exp_avg_sq.\(i)"] = p.shape
        }
        for (key, shape) in expected.sorted(by: { $0.key < $1.key }) {
            guard let t = state[key] else { error.missing.append(key); continue }
            if t.shape != shape && !(key == "step" && t.count == 1) { error.shapeMismatches.append((key, shape, t.shape)) }
        }
        error.unexpected = state.keys.filter { expected[$0] == nil }.sorted()
        guard error.missing.isEmpty, error.unexpected.isEmpty, error.shapeMismatches.isEmpty else { throw error }
        step = Int(state["step"]!.item)
        for i in parameters.indices {
            firstMoments[i] = state["exp_avg.\(i)"]!.copy()
            secondMoments[i] = state["exp_avg_sq.\(i)"]!.copy()
        }
    }
}
