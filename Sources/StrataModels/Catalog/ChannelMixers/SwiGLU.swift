import StrataCore
import StrataNN

/// SwiGLU FFN: W₂(SiLU(W₁x) ⊙ W₃x), C → F → C with three matrices (catalog `swiglu`; Shazeer, "GLU Variants
/// Improve Transformer", 2020). `glu` is the same FFN with a choice of gate activation.
public final class SwiGLU: Module, Component, ChannelMixer {
    /// SwiGLU options.
    public struct Options: ComponentOptions {
        public var width: GatedFFNWidth
        public var bias: Bool
        public init(_ r: inout OptionReader) {
            width = GatedFFNWidth(&r)
            bias = r.bool("bias", default: false, "biases on the three projections")
        }
    }
    public static let info = ComponentInfo(id: "swiglu", summary: "SwiGLU FFN W₂(SiLU(W₁x) ⊙ W₃x), hidden ≈ 8C/3",
                                           paper: "GLU Variants Improve Transformer (Shazeer, 2020)")

    public let core: GatedFFN

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        core = GatedFFN(width: options.width.width(context.dim), bias: options.bias, context: context, rng: &rng)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        GatedFFN.parameterCount(width: options.width.width(context.dim), bias: options.bias, dim: context.dim)
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

    /// Builds the three projections (down with the residual-stream init scale).
    public init(width f: Int, bias: Bool, context: BuildContext, rng: inout RNG) {
        gate = Linear(context.dim, f, bias: bias, rng: &rng, weightInit: .normal(std: context.initStd), biasInit: .zeros)
        up = Linear(context.dim, f, bias: bias, rng: &rng, weightInit: .normal(std: context.initStd), biasInit: .zeros)
        down = Linear(f, context.dim, bias: bias, rng: &rng, weightInit: .normal(std: context.residualInitStd),
                      biasInit: .zeros)
        super.init()
    }

    /// 3·C·F weights plus 2F + C biases when enabled.
    public static func parameterCount(width f: Int, bias: Bool, dim c: Int) -> Int {
        3 * c * f + (bias ? 2 * f + c : 0)
    }

    /// W₂(act(W₁x) ⊙ W₃x), recording the `ffn_sparsity` probe on the gated hidden activation.
    public func forward(_ x: Tensor, context: MixerContext, activation: (Tensor) -> Tensor) -> Tensor {
        let h = activation(gate(x)) * up(x)
        context.probes?.recordActivationSparsity(layer: context.layer, hidden: h)
        return down(h)
    }
}
