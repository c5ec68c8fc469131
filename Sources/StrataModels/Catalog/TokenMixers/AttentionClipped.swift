import StrataCore
import StrataNN

/// Clipped softmax (catalog `clipped_softmax`; Bondarenko et al., 2023, "Quantizable Transformers"):
/// A = clip((ζ − γ)·softmax(z) + γ, 0, 1) with ζ = 1 and γ = −α/T, T the fixed training sequence length
/// (context_length, not the visible keys of a row; confirmed in the catalog), α = 12 by default (the paper's value
/// with T = 512 for OPT). Probabilities below −γ/(ζ − γ) become exact zeros with finite logits, so a head can do
/// nothing without driving its logits (and the residual stream) to outliers. Rows no longer sum exactly to 1.
public final class ClippedSoftmaxAttention: AttentionMixer, Component, TokenMixer {
    /// Shared attention options plus α and ζ.
    public struct Options: ComponentOptions {
        /// kv_heads, qk_norm, gate, sigma_reparam, window, bias.
        public var attention: AttentionOptions
        /// α in γ = −α/T.
        public var alpha: Float
        /// Stretch ζ ≥ 1.
        public var zeta: Float
        public init(_ r: inout OptionReader) {
            attention = AttentionOptions(&r)
            alpha = r.float("alpha", default: 12, "α in γ = −α/T, T = context_length (γ ≤ 0)", in: 0...1e6)
            zeta = r.float("zeta", default: 1, "stretch ζ ≥ 1 (ζ > 1 makes exact ones reachable)", in: 1...1e6)
        }
    }
    public static let info = ComponentInfo(
        id: "clipped_softmax", summary: "clip((ζ−γ)·softmax + γ, 0, 1): exact zeros with finite logits",
        paper: "Quantizable Transformers: Removing Outliers by Helping Attention Heads Do Nothing (Bondarenko et al., 2023)")

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let gamma = -options.alpha / Float(context.contextLength)
        super.init(id: Self.info.id, attention: options.attention, normalizer: .clipped(zeta: options.zeta, gamma: gamma),
                   context: context, rng: &rng)
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        attentionParameterCount(options.attention, context: context)
    }

    public static func issues(options: Options, context: BuildContext) -> [SpecIssue] {
        attentionIssues(options.attention, context: context)
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        attentionCost(options.attention, normalizer: .clipped(zeta: options.zeta, gamma: 0), context: context)
    }
}
