import StrataCore
import StrataNN

/// Gated attention (catalog `gated_attention`; Bondarenko et al., 2023, "Quantizable Transformers"):
/// out_h = σ(G_h(x)) ⊙ softmax(Q_h K_hᵀ/√D) V_h. The paper's default gate (used here, `gate: head`) is one scalar
/// per head and token, from a linear map of the head's own C/H-wide slice of the attention input x, with
/// H·(C/H + 1) extra parameters; a head switches itself off (a "no-op") by closing its gate instead of pushing
/// softmax logits to extremes. `all_heads` (Linear C→H) and `elementwise` (Linear C→H·D) are offered too.
/// The gate bias starts at logit(gate_init) (the paper's π_init; default 0.5).
public final class GatedAttention: AttentionMixer, Component, TokenMixer {
    /// The shared attention options, with `gate` defaulting to `head`.
    public struct Options: ComponentOptions {
        /// kv_heads, qk_norm, gate (default head), gate_init, sigma_reparam, window, bias.
        public var attention: AttentionOptions
        public init(_ r: inout OptionReader) {
            attention = AttentionOptions(&r, defaultGate: .head)
            if attention.gate == .none { r.fail("gate", "gated_attention needs a gate (head, all_heads or elementwise); use softmax_attention for none") }
        }
    }
    public static let info = ComponentInfo(
        id: "gated_attention", summary: "softmax attention with a per-head sigmoid output gate σ(G_h(x))",
        paper: "Quantizable Transformers: Removing Outliers by Helping Attention Heads Do Nothing (Bondarenko et al., 2023)")

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
