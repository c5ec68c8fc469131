import StrataCore
import StrataNN

/// Multi-head softmax attention with grouped-query heads (catalog `softmax_attention`, options `gqa`, `qk_norm`,
/// `gated_attention`'s gate, `sigma_reparam`, `sliding_window_attention`'s window): per head
/// A = softmax(Q Kᵀ/√D + M), O = A V, output concat(O) W_O. Causal in decoders, bidirectional in encoders;
/// decoding appends to a KV cache of K heads. Runs on the fused attention kernel.
public final class SoftmaxAttention: AttentionMixer, Component, TokenMixer {
    /// The shared attention options.
    public struct Options: ComponentOptions {
        /// kv_heads, qk_norm, gate, sigma_reparam, window, bias.
        public var attention: AttentionOptions
        /// Key/value heads K (nil: K = H).
        public var kvHeads: Int? { attention.kvHeads }
        /// Biases on the projections.
        public var bias: Bool { attention.bias }
        public init(_ r: inout OptionReader) { attention = AttentionOptions(&r) }
    }
    public static let info = ComponentInfo(
        id: "softmax_attention", summary: "multi-head softmax attention with grouped-query heads and a KV cache",
        paper: "Attention Is All You Need (Vaswani et al., 2017); GQA (Ainslie et al., 2023)")

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        super.init(id: Self.info.id, attention: options.attention, normalizer: .softmax, context: context, rng: &rng)
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        attentionParameterCount(options.attention, context: context)
    }

    public static func issues(options: Options, context: BuildContext) -> [SpecIssue] {
        attentionIssues(options.attention, context: context)
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        attentionCost(options.attention, normalizer: .softmax, context: context)
    }
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
