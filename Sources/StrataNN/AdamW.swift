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
