import StrataCore
import StrataNN

/// Gated linear unit FFN W₂(act(W₁x) ⊙ W₃x) with a choice of gate activation (catalog `glu`): sigmoid is
/// the original GLU (Dauphin et al., 2017), gelu GeGLU, relu ReGLU, silu SwiGLU (same as `swiglu`).
public final class GLU: Module, Component, ChannelMixer {
    /// Gate activations of the GLU family.
    public enum Gate: String, CaseIterable, Sendable {
        case sigmoid, gelu, relu, silu

        /// Applies the activation.
        public func apply(_ x: Tensor) -> Tensor {
            switch self {
            case .sigmoid: x.sigmoid()
            case .gelu: x.gelu()
            case .relu: x.relu()
            case .silu: x.silu()
            }
        }
    }

    /// GLU options.
    public struct Options: ComponentOptions {
        public var gate: Gate
        public var width: GatedFFNWidth
        public var bias: Bool
        /// σReparam on the three projections (catalog `sigma_reparam`).
        public var sigmaReparam: Bool
        public init(_ r: inout OptionReader) {
            gate = Gate(rawValue: r.choice("activation", default: "sigmoid", among: Gate.allCases.map(\.rawValue),
                                           "gate activation: sigmoid (GLU), gelu (GeGLU), relu (ReGLU), silu (SwiGLU)"))
                ?? .sigmoid
            width = GatedFFNWidth(&r)
            bias = r.bool("bias", default: false, "biases on the three projections")
            sigmaReparam = r.bool("sigma_reparam", default: false, "σReparam Ŵ = (γ/σ_max(W))·W on the three projections")
        }
    }
    public static let info = ComponentInfo(id: "glu", summary: "GLU-family FFN (GLU, GeGLU, ReGLU, SwiGLU)",
                                           paper: "GLU Variants Improve Transformer (Shazeer, 2020)")

    public let core: GatedFFN
    public let gate: Gate

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        core = GatedFFN(width: options.width.width(context.dim), bias: options.bias, sigmaReparam: options.sigmaReparam,
                        context: context, rng: &rng)
        gate = options.gate
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        GatedFFN.parameterCount(width: options.width.width(context.dim), bias: options.bias, dim: context.dim,
                                sigmaReparam: options.sigmaReparam)
    }

    public func forward(_ x: Tensor, context: MixerContext) -> Tensor {
        core.forward(x, context: context, activation: gate.apply)
    }
}
