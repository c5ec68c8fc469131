import Foundation
import StrataCore
import StrataNN

/// Gated DeltaNet (catalog `gated_deltanet`, Yang et al., 2025): S_t = α_t·S_{t−1}(I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ,
/// o_t = S_t q_t, with q, k, v, β as in `deltanet`. Gate parametrization (the catalog's "(verify)"), as in the
/// paper's code, Mamba-2 style: α_t = exp(−exp(A_log)·softplus(x_t W_a + dt_bias)) per head, A ~ U(1, 16),
/// dt_bias the inverse softplus of dt ~ logU(0.001, 0.1). Output y = (RMSNorm_h(o) ⊙ SiLU(x W_g)) W_o.
public final class GatedDeltaNet: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        public var convKernel: Int
        public var chunk: Int
        /// Multiply the normalized output by SiLU(x W_g).
        public var outputGate: Bool
        public init(_ r: inout OptionReader) {
            convKernel = r.int("conv_kernel", default: 4, "kernel of the causal depthwise convolution on q, k, v", in: 1...64)
            chunk = r.int("chunk", default: 64, "chunk length N of the chunk-parallel (WY) training form", in: 1...4096)
            outputGate = r.bool("output_gate", default: true, "gate the normalized output with SiLU(x W_g)")
        }
    }
    public static let info = ComponentInfo(
        id: "gated_deltanet", summary: "delta rule with a data-dependent scalar decay α_t per head (Mamba-2 style gate)",
        paper: "Gated Delta Networks: Improving Mamba2 with Delta Rule (Yang, Kautz, Hatamizadeh, 2025)")

    public let input: DeltaRuleInput
    /// Decay projection C → H (Δ before softplus).
    public let decayProjection: Linear
    /// log A per head [H] (A = exp(A_log) > 0).
    public let aLog: Parameter
    /// Δ bias per head [H].
    public let dtBias: Parameter
    /// Output gate C → H·D, if enabled.
    public let gateProjection: Linear?
    public let norm: HeadNorm
    public let out: Linear
    let chunk: Int

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let h = context.heads, hd = context.heads * context.headDim
        input = DeltaRuleInput(context: context, convKernel: options.convKernel, rng: &rng)
        decayProjection = Linear(context.dim, h, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        aLog = Parameter(rng.uniform([h], low: 1, high: 16).log(), role: .other)
        dtBias = Parameter(inverseSoftplusTimeSteps(h, rng: &rng), role: .bias)
        gateProjection = options.outputGate
            ? Linear(context.dim, hd, bias: false, rng: &rng, weightInit: .normal(std: context.initStd)) : nil
        norm = HeadNorm(heads: h, width: context.headDim, rms: true)
        out = Linear(hd, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        chunk = options.chunk
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let h = context.heads, hd = context.heads * context.headDim
        return DeltaRuleInput.parameterCount(context: context, convKernel: options.convKernel) + context.dim * h + 2 * h
            + (options.outputGate ? context.dim * hd : 0)
            + HeadNorm.parameterCount(heads: h, width: context.headDim, rms: true) + hd * context.dim
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        recurrentCost(weights: parameterCount(options: options, context: context), heads: context.heads,
                      keyDim: context.headDim, valueDim: context.headDim, chunk: options.chunk, keyWise: false, context: context)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let (q, k, v, beta) = input(x, cache: cache)
        // log α = −A·softplus(x W_a + dt_bias) ≤ 0.
        let logAlpha = ((decayProjection(x) + dtBias.value).softplus() * (-aLog.value.exp())).permuted([0, 2, 1])
        let inputs = RecurrenceInputs(q: q, k: k, v: v, decay: .scalar(logAlpha), beta: beta)
        let o = runRecurrence(inputs, chunk: chunk, cache: cache)
        if cache == nil { context.probes?.recordMixing(layer: context.layer, MixingCapture(inputs, output: o)) }
        var y = norm(headsLast(o)).reshaped([b, t, input.heads * input.headDim])
        if let g = gateProjection { y = y * g(x).silu() }
        return out(y)
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}

/// dt_bias initialization of Mamba-2-style gates: dt ~ logU(0.001, 0.1), stored as softplus⁻¹(dt) =
/// dt + log(1 − e^{−dt}) so that softplus(dt_bias) = dt at a zero input.
func inverseSoftplusTimeSteps(_ count: Int, rng: inout RNG, low: Double = 0.001, high: Double = 0.1) -> Tensor {
    let values = (0..<count).map { _ -> Float in
        let dt = Foundation.exp(Foundation.log(low) + Double(rng.nextUniform()) * (Foundation.log(high) - Foundation.log(low)))
        return Float(dt + Foundation.log(-Foundation.expm1(-dt)))
    }
    return Tensor(values, shape: [count])
}
