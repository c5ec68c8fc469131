import StrataCore
import StrataNN

/// DeltaNet (catalog `deltanet`, Yang et al., 2024): the delta rule S_t = S_{t−1}(I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ,
/// o_t = S_t q_t, trained chunk-parallel in WY/UT form. Choices where the catalog says "(verify)", following the
/// paper's released configuration: q, k, v each pass a short causal depthwise convolution (kernel 4, no bias)
/// then SiLU; q and k are L2-normalized per head (q also scaled by D^{−1/2}); β_t = σ(W_β x_t) per head; the
/// heads' outputs get an RMSNorm before the output projection.
public final class DeltaNet: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        /// Kernel of the short convolution (1: pointwise, i.e. none in effect).
        public var convKernel: Int
        /// Chunk length N of the training form.
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            convKernel = r.int("conv_kernel", default: 4, "kernel of the causal depthwise convolution on q, k, v", in: 1...64)
            chunk = r.int("chunk", default: 64, "chunk length N of the chunk-parallel (WY) training form", in: 1...4096)
        }
    }
    public static let info = ComponentInfo(
        id: "deltanet", summary: "delta-rule linear attention (L2-normalized SiLU q/k after a short conv, β = σ(W_β x))",
        paper: "Parallelizing Linear Transformers with the Delta Rule over Sequence Length (Yang et al., 2024)")

    /// q, k, v and β.
    public let input: DeltaRuleInput
    /// Per-head RMSNorm of the outputs.
    public let norm: HeadNorm
    /// Output projection H·D → C.
    public let out: Linear
    let chunk: Int

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        input = DeltaRuleInput(context: context, convKernel: options.convKernel, rng: &rng)
        norm = HeadNorm(heads: context.heads, width: context.headDim, rms: true)
        out = Linear(context.heads * context.headDim, context.dim, bias: false, rng: &rng,
                     weightInit: .normal(std: context.residualInitStd))
        chunk = options.chunk
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let hd = context.heads * context.headDim
        return DeltaRuleInput.parameterCount(context: context, convKernel: options.convKernel)
            + HeadNorm.parameterCount(heads: context.heads, width: context.headDim, rms: true) + hd * context.dim
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        recurrentCost(weights: parameterCount(options: options, context: context), heads: context.heads,
                      keyDim: context.headDim, valueDim: context.headDim, chunk: options.chunk, keyWise: false, context: context)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let (q, k, v, beta) = input(x, cache: cache)
        let inputs = RecurrenceInputs(q: q, k: k, v: v, beta: beta)
        let o = runRecurrence(inputs, chunk: chunk, cache: cache)
        if cache == nil { context.probes?.recordMixing(layer: context.layer, MixingCapture(inputs, output: o)) }
        return out(norm(headsLast(o)).reshaped([b, t, input.heads * input.headDim]))
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}

/// The inputs of a delta-rule mixer: q, k, v = SiLU(ShortConv(x W_qkv)) split per head, q and k L2-normalized
/// (q then scaled by D^{−1/2}), and β = σ(x W_β) per head. Shared by `deltanet` and `gated_deltanet`.
public final class DeltaRuleInput: Module {
    /// Fused projection C → 3·H·D.
    public let qkv: Linear
    /// Short causal convolution over the 3·H·D channels (one depthwise filter per channel).
    public let conv: ShortConvolution
    /// β projection C → H.
    public let betaProjection: Linear
    public let heads: Int, headDim: Int

    init(context: BuildContext, convKernel: Int, rng: inout RNG) {
        heads = context.heads
        headDim = context.headDim
        let hd = heads * headDim
        qkv = Linear(context.dim, 3 * hd, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        conv = ShortConvolution(channels: 3 * hd, kernel: convKernel, bias: false, name: "qkv", rng: &rng)
        betaProjection = Linear(context.dim, heads, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        super.init()
    }

    static func parameterCount(context: BuildContext, convKernel: Int) -> Int {
        let hd = context.heads * context.headDim
        return context.dim * 3 * hd + ShortConvolution.parameterCount(channels: 3 * hd, kernel: convKernel, bias: false)
            + context.dim * context.heads
    }

    /// q, k [B, H, T, D], v [B, H, T, D] and β [B, H, T] for x [B, T, C].
    func callAsFunction(_ x: Tensor, cache: MixerCache?) -> (Tensor, Tensor, Tensor, Tensor) {
        let parts = splitHeads(conv(qkv(x), cache: cache).silu(), heads: 3 * heads)
            .split(axis: 1, sizes: [heads, heads, heads])
        let q = l2Normalized(parts[0]) * (1 / Float(headDim).squareRoot())
        let beta = betaProjection(x).sigmoid().permuted([0, 2, 1])
        return (q, l2Normalized(parts[1]), parts[2], beta)
    }
}
