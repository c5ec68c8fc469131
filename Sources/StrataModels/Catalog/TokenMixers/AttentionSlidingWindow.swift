import StrataCore
import StrataNN

/// Sliding-window (local) softmax attention (catalog `sliding_window_attention`): query t sees only keys
/// t − w < s ≤ t (bidirectional: |s − t| < w); the decode cache keeps at most w entries, so memory and cost per
/// step are constant in the sequence length. Fused kernel with a band mask.
public final class SlidingWindowAttention: AttentionMixer, Component, TokenMixer {
    /// The shared attention options, with `window` defaulting to 64.
    public struct Options: ComponentOptions {
        /// kv_heads, qk_norm, gate, sigma_reparam, window (default 64), bias.
        public var attention: AttentionOptions
        public init(_ r: inout OptionReader) { attention = AttentionOptions(&r, defaultWindow: 64) }
    }
    public static let info = ComponentInfo(
        id: "sliding_window_attention", summary: "softmax attention over the w most recent keys (causal band), KV cache of w entries",
        paper: "Longformer (Beltagy et al., 2020), Mistral 7B (Jiang et al., 2023)")

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
