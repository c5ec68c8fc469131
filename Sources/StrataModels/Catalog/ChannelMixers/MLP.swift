import StrataCore
import StrataNN

/// Elementwise activations shared by the FFN variants.
public enum Activation: String, CaseIterable, Sendable {
    case gelu, geluTanh = "gelu_tanh", relu, relu2, silu

    /// Applies the activation.
    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .gelu: x.gelu()
        case .geluTanh: x.geluTanh()
        case .relu: x.relu()
        case .relu2: { let r = x.relu(); return r * r }()
        case .silu: x.silu()
        }
    }

    /// Every spelling, for option docs.
    public static var names: [String] { allCases.map(\.rawValue) }
}

/// Two-layer MLP: W₂ act(W₁ x + b₁) + b₂, C → F → C (catalog `mlp`).
public final class MLP: Module, Component, ChannelMixer {
    public struct Options: ComponentOptions {
        public var activation: Activation
        /// Hidden width F; nil means `hiddenMultiple` · C.
        public var hidden: Int?
        public var hiddenMultiple: Float
        public var bias: Bool
        /// σReparam on both layers (catalog `sigma_reparam`: every linear layer, not only attention's).
        public var sigmaReparam: Bool
        public init(_ r: inout OptionReader) {
            activation = Activation(rawValue: r.choice("activation", default: "gelu", among: Activation.names,
                                                       "hidden activation (relu2 is squared ReLU)")) ?? .gelu
            hidden = r.optionalInt("hidden", "hidden width F (overrides hidden_mult)", in: 1...1 << 20)
            hiddenMultiple = r.float("hidden_mult", default: 4, "hidden width as a multiple of the model width", in: 0.01...64)
            bias = r.bool("bias", default: false, "biases on both layers")
            sigmaReparam = r.bool("sigma_reparam", default: false, "σReparam Ŵ = (γ/σ_max(W))·W on both layers")
        }
        /// The hidden width for model width `dim`.
        public func width(_ dim: Int) -> Int { hidden ?? max(1, Int((Float(dim) * hiddenMultiple).rounded())) }
    }
    public static let info = ComponentInfo(id: "mlp", summary: "two-layer MLP (gelu, gelu_tanh, relu, relu2, silu)")

    public let up: Linear
    public let down: Linear
    public let activation: Activation
    /// σReparam state of `up` and `down` (nil when `sigma_reparam` is off).
    public let upReparam: SigmaReparam?, downReparam: SigmaReparam?

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let f = options.width(context.dim)
        up = Linear(context.dim, f, bias: options.bias, rng: &rng, weightInit: .normal(std: context.initStd), biasInit: .zeros)
        down = Linear(f, context.dim, bias: options.bias, rng: &rng, weightInit: .normal(std: context.residualInitStd),
                      biasInit: .zeros)
        activation = options.activation
        upReparam = options.sigmaReparam ? SigmaReparam(for: up, rng: &rng) : nil
        downReparam = options.sigmaReparam ? SigmaReparam(for: down, rng: &rng) : nil
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let f = options.width(context.dim)
        return 2 * context.dim * f + (options.bias ? f + context.dim : 0)
            + (options.sigmaReparam ? SigmaReparam.parameterCount(outputs: f, inputs: context.dim)
                + SigmaReparam.parameterCount(outputs: context.dim, inputs: f) : 0)
    }

    public func forward(_ x: Tensor, context: MixerContext) -> Tensor {
        let h = activation.apply(upReparam.map { $0.apply(up, x) } ?? up(x))
        context.probes?.recordActivationSparsity(layer: context.layer, hidden: h)
        return downReparam.map { $0.apply(down, h) } ?? down(h)
    }
}
