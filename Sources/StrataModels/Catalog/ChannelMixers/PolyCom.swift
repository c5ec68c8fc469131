import StrataCore
import StrataNN

/// Options shared by the two PolyCom FFNs: the hidden width of their two-matrix MLP and the bias flag.
public struct PolyFFNOptions: ComponentOptions {
    /// Hidden width F; nil means `hiddenMultiple` · C.
    public var hidden: Int?
    public var hiddenMultiple: Float
    public var bias: Bool
    public init(_ r: inout OptionReader) {
        hidden = r.optionalInt("hidden", "hidden width F (overrides hidden_mult)", in: 1...1 << 20)
        hiddenMultiple = r.float("hidden_mult", default: 4, "hidden width as a multiple of the model width", in: 0.01...64)
        bias = r.bool("bias", default: false, "biases on both layers")
    }
    /// The hidden width for model width `dim`.
    public func width(_ dim: Int) -> Int { hidden ?? max(1, Int((Float(dim) * hiddenMultiple).rounded())) }
}

/// The two-matrix MLP W₂·φ(W₁x + b₁) + b₂ around a PolyCom activation φ of order 3 with learnable
/// coefficients a₀…a₃ (shared by all hidden units of the layer). Initialization a₀ = 0, a₁ = a₂ = a₃ = 1/3
/// (catalog: verify) is the authors' released PolyNorm/PolyReLU modules as recalled (three weights of 1/3 and
/// a zero bias); no copy could be found to confirm it, so it is stated here rather than taken as checked.
public final class PolyMLP: Module {
    /// W₁: C → F.
    public let up: Linear
    /// W₂: F → C.
    public let down: Linear
    /// Coefficients [a₀, a₁, a₂, a₃].
    public let coefficients: Parameter

    /// Builds the layers and the coefficients.
    public init(options: PolyFFNOptions, context: BuildContext, rng: inout RNG) {
        let f = options.width(context.dim)
        up = Linear(context.dim, f, bias: options.bias, rng: &rng, weightInit: .normal(std: context.initStd), biasInit: .zeros)
        down = Linear(f, context.dim, bias: options.bias, rng: &rng, weightInit: .normal(std: context.residualInitStd),
                      biasInit: .zeros)
        coefficients = Parameter(Tensor([0, 1.0 / 3, 1.0 / 3, 1.0 / 3], shape: [4]), role: .norm)
        super.init()
    }

    /// 2·C·F weights, F + C biases when enabled, and the 4 coefficients.
    public static func parameterCount(options: PolyFFNOptions, dim c: Int) -> Int {
        let f = options.width(c)
        return 2 * c * f + (options.bias ? f + c : 0) + 4
    }

    /// aᵢ as a [1] tensor.
    public func coefficient(_ i: Int) -> Tensor { coefficients.value.slice(axis: 0, i..<(i + 1)) }

    /// W₂·φ(W₁x), recording the `ffn_sparsity` probe on φ's output.
    public func forward(_ x: Tensor, context: MixerContext, activation: (Tensor) -> Tensor) -> Tensor {
        let h = activation(up(x))
        context.probes?.recordActivationSparsity(layer: context.layer, hidden: h)
        return down(h)
    }
}
