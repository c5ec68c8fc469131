import StrataCore
import StrataNN

/// Hourglass FFN (catalog `hourglass_ffn`): K stacked residual sub-MLPs with a bottleneck d_h < C instead of
/// one wide C → 4C → C MLP: z₀ = x, z_k = z_{k−1} + W_up^k·σ(W_down^k·N_k(z_{k−1})), with N_k an optional
/// per-stage RMSNorm (the paper does not say whether stages have their own norm, so it is a flag).
///
/// The mixer returns z_K − z₀, the sum of the K stage updates: the block's own residual connection adds the
/// stream, and returning z_K would count the input twice (x + z_K = 2x + …).
public final class HourglassFFN: Module, Component, ChannelMixer {
    /// Hourglass options.
    public struct Options: ComponentOptions {
        public var stages: Int
        public var bottleneckRatio: Float
        public var norm: Bool
        public var activation: Activation
        public var eps: Float
        public init(_ r: inout OptionReader) {
            stages = r.int("stages", default: 4, "number K of residual sub-MLPs", in: 1...64)
            bottleneckRatio = r.float("bottleneck_ratio", default: 0.5, "bottleneck width d_h as a fraction of C",
                                      in: 0.001...64)
            norm = r.bool("norm", default: false, "an RMSNorm (with gain) before each sub-MLP")
            activation = Activation(rawValue: r.choice("activation", default: "gelu", among: Activation.names,
                                                       "sub-MLP activation")) ?? .gelu
            eps = r.float("eps", default: 1e-5, "RMSNorm epsilon of the per-stage norms", in: 0...1)
        }
        /// d_h for model width `dim`.
        public func bottleneck(_ dim: Int) -> Int { max(1, Int((Float(dim) * bottleneckRatio).rounded())) }
    }
    public static let info = ComponentInfo(id: "hourglass_ffn", summary: "K residual wide–narrow–wide sub-MLPs",
                                           paper: "Hourglass FFN: revisiting the FFN shape convention")

    /// W_down^k: C → d_h, one per stage.
    public let downs: [Linear]
    /// W_up^k: d_h → C, one per stage.
    public let ups: [Linear]
    /// Per-stage RMSNorm gains [C], when enabled.
    public let norms: [Parameter]
    public let activation: Activation
    public let eps: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let (c, h) = (context.dim, options.bottleneck(context.dim))
        var downs: [Linear] = [], ups: [Linear] = []
        for _ in 0..<options.stages {
            downs.append(Linear(c, h, bias: false, rng: &rng, weightInit: .normal(std: context.initStd)))
            ups.append(Linear(h, c, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd)))
        }
        self.downs = downs
        self.ups = ups
        norms = options.norm ? (0..<options.stages).map { _ in Parameter(.ones([c]), role: .norm) } : []
        activation = options.activation
        eps = options.eps
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let (c, h) = (context.dim, options.bottleneck(context.dim))
        return options.stages * (2 * c * h + (options.norm ? c : 0))
    }

    public func forward(_ x: Tensor, context: MixerContext) -> Tensor {
        var z = x
        var total: Tensor?
        for k in 0..<downs.count {
            let input = norms.isEmpty ? z : z.rmsNorm(weight: norms[k].value, eps: eps)
            let hidden = activation.apply(downs[k](input))
            context.probes?.recordActivationSparsity(layer: context.layer, hidden: hidden)
            let update = ups[k](hidden)
            z = z + update
            total = total.map { $0 + update } ?? update
        }
        return total!
    }
}
