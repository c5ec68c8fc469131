import StrataCore
import StrataNN

/// SwiGLU FFN: W₂(SiLU(W₁x) ⊙ W₃x), C → F → C with three matrices (catalog `swiglu`; Shazeer, "GLU Variants
/// Improve Transformer", 2020). `glu` is the same FFN with a choice of gate activation.
public final class SwiGLU: Module, Component, ChannelMixer {
    /// SwiGLU options.
    public struct Options: ComponentOptions {
        public var width: GatedFFNWidth
        public var bias: Bool
        /// σReparam on the three projections (catalog `sigma_reparam`).
        public var sigmaReparam: Bool
        public init(_ r: inout OptionReader) {
            width = GatedFFNWidth(&r)
            bias = r.bool("bias", default: false, "biases on the three projections")
            sigmaReparam = r.bool("sigma_reparam", default: false, "σReparam Ŵ = (γ/σ_max(W))·W on the three projections")
        }
    }
    public static let info = ComponentInfo(id: "swiglu", summary: "SwiGLU FFN W₂(SiLU(W₁x) ⊙ W₃x), hidden ≈ 8C/3",
                                           paper: "GLU Variants Improve Transformer (Shazeer, 2020)")

    public let core: GatedFFN

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        core = GatedFFN(width: options.width.width(context.dim), bias: options.bias, sigmaReparam: options.sigmaReparam,
                        context: context, rng: &rng)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        GatedFFN.parameterCount(width: options.width.width(context.dim), bias: options.bias, dim: context.dim,
                                sigmaReparam: options.sigmaReparam)
    }

    public func forward(_ x: Tensor, context: MixerContext) -> Tensor {
        core.forward(x, context: context) { $0.silu() }
    }
}

/// The hidden width F of a gated FFN: `hidden` if given, else 8C/3 (parameter parity with a 4C two-matrix
/// MLP: 3·C·F = 8·C²) rounded to the nearest integer and then up to a multiple of `multiple_of`, as in LLaMA.
public struct GatedFFNWidth: Sendable {
    /// Explicit hidden width F, if any.
    public var hidden: Int?
    /// Granularity of the default width.
    public var multipleOf: Int

    /// Reads `hidden` and `multiple_of`.
    public init(_ r: inout OptionReader) {
        hidden = r.optionalInt("hidden", "hidden width F (default: 8·C/3 rounded up to multiple_of)", in: 1...1 << 20)
        multipleOf = r.int("multiple_of", default: 8, "the default hidden width is rounded up to this multiple", in: 1...4096)
    }

    /// F for model width `dim`.
    public func width(_ dim: Int) -> Int {
        if let hidden { return hidden }
        let f = Int((Float(8 * dim) / 3).rounded())
        return max(multipleOf, (f + multipleOf - 1) / multipleOf * multipleOf)
    }
}

/// The shared body of `swiglu` and `glu`: gate W₁, up W₃ (both C → F) and down W₂ (F → C).
public final class GatedFFN: Module {
    /// W₁: the gate projection.
    public let gate: Linear
    /// W₃: the value projection.
    public let up: Linear
    /// W₂: the output projection (writes into the residual stream).
    public let down: Linear
    /// σReparam state of gate, up and down (empty when off).
    public let reparams: [SigmaReparam]

    /// Builds the three projections (down with the residual-stream init scale); σReparam state is drawn last,
    /// so turning it on leaves the projections' initial values unchanged.
    public init(width f: Int, bias: Bool, sigmaReparam: Bool = false, context: BuildContext, rng: inout RNG) {
        gate = Linear(context.dim, f, bias: bias, rng: &rng, weightInit: .normal(std: context.initStd), biasInit: .zeros)
        up = Linear(context.dim, f, bias: bias, rng: &rng, weightInit: .normal(std: context.initStd), biasInit: .zeros)
        down = Linear(f, context.dim, bias: bias, rng: &rng, weightInit: .normal(std: context.residualInitStd),
                      biasInit: .zeros)
        var made: [SigmaReparam] = []
        if sigmaReparam { for l in [gate, up, down] { made.append(SigmaReparam(for: l, rng: &rng)) } }
        reparams = made
        super.init()
    }

    /// 3·C·F weights plus 2F + C biases when enabled, plus the σReparam state.
    public static func parameterCount(width f: Int, bias: Bool, dim c: Int, sigmaReparam: Bool = false) -> Int {
        3 * c * f + (bias ? 2 * f + c : 0)
            + (sigmaReparam ? 2 * SigmaReparam.parameterCount(outputs: f, inputs: c) + SigmaReparam.parameterCount(outputs: c, inputs: f) : 0)
    }

    /// `linear` applied to x, through its σReparam state when on (index 0 gate, 1 up, 2 down).
    private func apply(_ linear: Linear, _ index: Int, _ x: Tensor) -> Tensor {
        reparams.isEmpty ? linear(x) : reparams[index].apply(linear, x)
    }

    /// W₂(act(W₁x) ⊙ W₃x), recording the `ffn_sparsity` probe on the gated hidden activation.
    public func forward(_ x: Tensor, context: MixerContext, activation: (Tensor) -> Tensor) -> Tensor {
        let h = activation(apply(gate, 0, x)) * apply(up, 1, x)
        context.probes?.recordActivationSparsity(layer: context.layer, hidden: h)
        return apply(down, 2, h)
    }
}
