import StrataCore
import StrataNN

/// Multi-head softmax attention with grouped-query heads (catalog `softmax_attention`, option `gqa`):
/// per head A = softmax(Q Kᵀ/√D + M), O = A V, output concat(O) W_O. Causal in decoders, bidirectional in
/// encoders; decoding appends to a KV cache of K heads.
public final class SoftmaxAttention: Module, Component, TokenMixer {
    public struct Options: ComponentOptions {
        /// Key/value heads K (H = K is MHA, K = 1 is MQA); nil means K = H.
        public var kvHeads: Int?
        /// Biases on the projections (GPT-2 style).
        public var bias: Bool
        public init(_ r: inout OptionReader) {
            kvHeads = r.optionalInt("kv_heads", "key/value heads (default: heads; 1 = multi-query)", in: 1...4096)
            bias = r.bool("bias", default: false, "biases on the q/k/v and output projections")
        }
    }
    public static let info = ComponentInfo(
        id: "softmax_attention", summary: "multi-head softmax attention with grouped-query heads and a KV cache",
        paper: "Attention Is All You Need (Vaswani et al., 2017); GQA (Ainslie et al., 2023)")

    /// Fused projection C → (H + 2K)·D producing q, k and v.
    public let qkv: Linear
    /// Output projection H·D → C.
    public let out: Linear
    public let heads: Int, kvHeads: Int, headDim: Int
    public let causal: Bool

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        heads = context.heads
        kvHeads = options.kvHeads ?? context.heads
        headDim = context.headDim
        causal = context.causal
        guard heads % kvHeads == 0 else {
            shapeError("softmax_attention", "heads (\(heads)) must be a multiple of kv_heads (\(kvHeads))")
        }
        qkv = Linear(context.dim, (heads + 2 * kvHeads) * headDim, bias: options.bias, rng: &rng,
                     weightInit: .normal(std: context.initStd), biasInit: .zeros)
        out = Linear(heads * headDim, context.dim, bias: options.bias, rng: &rng,
                     weightInit: .normal(std: context.residualInitStd), biasInit: .zeros)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let k = options.kvHeads ?? context.heads
        let qkvOut = (context.heads + 2 * k) * context.headDim
        let inner = context.heads * context.headDim
        return context.dim * qkvOut + inner * context.dim + (options.bias ? qkvOut + context.dim : 0)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let offset = cache?.length ?? context.offset
        let parts = qkv(x).reshaped([b, t, heads + 2 * kvHeads, headDim])
            .split(axis: 2, sizes: [heads, kvHeads, kvHeads])
        var q = parts[0].permuted([0, 2, 1, 3])                   // [B, H, T, D]
        var k = parts[1].permuted([0, 2, 1, 3])                   // [B, K, T, D]
        var v = parts[2].permuted([0, 2, 1, 3])                   // [B, K, T, D]
        q = context.positional.rotate(q, offset: offset)
        k = context.positional.rotate(k, offset: offset)
        if let cache = cache as? KVCache { (k, v) = cache.append(k, v) }
        let s = k.shape[2]
        let mask = attentionMask(context: context, heads: heads, queries: t, keys: s)
        if let probes = context.probes, probes.wantsAttention {
            probes.recordAttentionEntropy(layer: context.layer, q: q, k: k, mask: mask, causal: causal,
                                          scale: 1 / Float(headDim).squareRoot())
        }
        let o = scaledDotProductAttention(q: q, k: k, v: v, mask: mask, causal: causal)   // [B, H, T, D]
        return out(o.permuted([0, 2, 1, 3]).reshaped([b, t, heads * headDim]))
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { KVCache() }
}

/// The additive mask for T queries against S keys: the positional bias [1, H, T, S] (ALiBi) plus the key
/// padding [B, 1, 1, S], or nil when there is neither.
public func attentionMask(context: MixerContext, heads: Int, queries t: Int, keys s: Int) -> Tensor? {
    let bias = context.positional.attentionBias(heads: heads, queries: t, keys: s)
    switch (bias, context.keyPadding) {
    case (nil, nil): return nil
    case (let b?, nil): return b
    case (nil, let p?): return p.expanded(to: [p.shape[0], 1, t, s])
    case (let b?, let p?): return b + p
    }
}

/// Keys and values of every token seen so far: k, v [B, K, S, D].
public final class KVCache: MixerCache {
    /// Cached keys [B, K, S, D] (nil before the first token).
    public private(set) var keys: Tensor?
    /// Cached values [B, K, S, Dv].
    public private(set) var values: Tensor?
    /// Largest number of tokens kept (a sliding window); nil keeps everything.
    public let window: Int?

    public init(window: Int? = nil) { self.window = window }

    /// Tokens appended so far (including any that fell out of the window).
    public private(set) var length = 0

    /// Appends k, v [B, K, T, D] and returns the keys and values to attend to.
    public func append(_ k: Tensor, _ v: Tensor) -> (Tensor, Tensor) {
        let k = k.detached(), v = v.detached()
        var allK = keys.map { Tensor.concat([$0, k], axis: 2) } ?? k
        var allV = values.map { Tensor.concat([$0, v], axis: 2) } ?? v
        let full = (allK, allV)
        length += k.shape[2]
        if let window, allK.shape[2] > window {
            let s = allK.shape[2]
            allK = allK.slice(axis: 2, (s - window)..<s)
            allV = allV.slice(axis: 2, (s - window)..<s)
        }
        keys = allK
        values = allV
        return full
    }
}
