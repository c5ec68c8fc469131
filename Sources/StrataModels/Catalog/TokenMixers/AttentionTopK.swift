import StrataCore
import StrataNN

/// Selective hard (top-k) attention (catalog `topk_attention`; AxFormer, "Accuracy-driven Approximation of
/// Transformers"): per query keep the k largest logits (after masks and positional bias), set the rest to −∞, and
/// softmax; equivalently zero the other weights and renormalize. Rows with at most k visible keys are plain
/// softmax. Ties with the k-th logit are all kept. The selection carries no gradient (it is piecewise constant).
public final class TopKAttention: AttentionMixer, Component, TokenMixer {
    /// Shared attention options plus k.
    public struct Options: ComponentOptions {
        /// kv_heads, qk_norm, gate, sigma_reparam, window, bias.
        public var attention: AttentionOptions
        /// Logits kept per query.
        public var k: Int
        public init(_ r: inout OptionReader) {
            attention = AttentionOptions(&r)
            k = r.int("k", default: 8, "logits kept per query (the rest get weight 0)", in: 1...1 << 30)
        }
    }
    public static let info = ComponentInfo(
        id: "topk_attention", summary: "softmax over the k largest logits of each query, the rest masked",
        paper: "AxFormer: Accuracy-driven Approximation of Transformers")

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        super.init(id: Self.info.id, attention: options.attention, normalizer: .topK(options.k), context: context, rng: &rng)
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        attentionParameterCount(options.attention, context: context)
    }

    public static func issues(options: Options, context: BuildContext) -> [SpecIssue] {
        attentionIssues(options.attention, context: context)
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        attentionCost(options.attention, normalizer: .topK(options.k), context: context)
    }
}
