import StrataCore
import StrataNN

/// Simplified linear attention (catalog `sla`, SLAB, Guo et al., 2024): Q' = ReLU(x W_q), K' = ReLU(x W_k),
/// O = Q'(K'ᵀV) ⊘ Q'(K'ᵀ1) + DWConv(V), then W_o. The paper's depthwise convolution runs over the 2-D token
/// grid of an image; for sequences (the catalog's "(verify)") Strata uses a 1-D depthwise convolution over
/// time on V, causal (kernel 4 by default) so that decoders stay causal and decode with a constant-size tail.
/// Decoders use the causal (recurrent) form of the linear attention, encoders the global one.
public final class SimplifiedLinearAttention: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        public var convKernel: Int
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            convKernel = r.int("conv_kernel", default: 4, "kernel of the causal depthwise convolution on V", in: 1...64)
            chunk = r.int("chunk", default: 64, "chunk length N of the chunk-parallel training form", in: 1...4096)
        }
    }
    public static let info = ComponentInfo(
        id: "sla", summary: "SLAB simplified linear attention: ReLU kernel, normalized, plus a depthwise conv on V",
        paper: "SLAB: Efficient Transformers with Simplified Linear Attention and Progressive Re-parameterized Batch Normalization (Guo et al., 2024)")

    /// Fused projection C → 3·H·D producing q, k and v.
    public let qkv: Linear
    /// Depthwise convolution over V's H·D channels.
    public let conv: ShortConvolution
    public let out: Linear
    public let heads: Int, headDim: Int
    let chunk: Int
    let causal: Bool

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        heads = context.heads
        headDim = context.headDim
        chunk = options.chunk
        causal = context.causal
        let hd = heads * headDim
        qkv = Linear(context.dim, 3 * hd, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        conv = ShortConvolution(channels: hd, kernel: options.convKernel, bias: true, name: "v", rng: &rng)
        out = Linear(hd, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let hd = context.heads * context.headDim
        return 4 * context.dim * hd + ShortConvolution.parameterCount(channels: hd, kernel: options.convKernel, bias: true)
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        recurrentCost(weights: parameterCount(options: options, context: context), heads: context.heads,
                      keyDim: context.headDim, valueDim: context.headDim, chunk: options.chunk, keyWise: false, context: context)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let hd = heads * headDim
        let p = qkv(x).split(axis: 2, sizes: [hd, hd, hd])
        let attention = linearAttentionCore(q: splitHeads(p[0], heads: heads).relu(), k: splitHeads(p[1], heads: heads).relu(),
                                            v: splitHeads(p[2], heads: heads), normalize: true, causal: causal,
                                            chunk: chunk, cache: cache, keyPadding: context.keyPadding, context: context)
        let local = conv(p[2], cache: cache)
        return out(headsLast(attention).reshaped([b, t, hd]) + local)
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}
