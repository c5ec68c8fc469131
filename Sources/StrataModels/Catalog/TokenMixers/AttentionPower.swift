import StrataCore
import StrataNN

/// Power-softmax (catalog `power_softmax`; Zimerman et al., 2024, "Power-Softmax: Towards Secure LLM Inference
/// over Encrypted Data"): the exponential is replaced by an even power, A_ij = s_ij^p / Σ_j s_ij^p with
/// s = q·k/√D, so weights are non-negative, rows sum to 1, and A is invariant to s → c·s; the only
/// non-polynomial step is the division.
///
/// Chosen here (the catalog marks the formula "verify: uncertain"): p is an even integer (default 2);
/// `epsilon` > 0 gives the stabilized, length-normalized form A_ij = (s_ij^p / n) / (ε + (1/n)·Σ_j s_ij^p) with n
/// the row's visible keys, i.e. s^p / (Σ s^p + n·ε), which bounds the weights when every score is small (rows then
/// sum to slightly less than 1); `epsilon` = 0 (default) is the plain form. An additive positional bias b (ALiBi)
/// or padding enters as the factor e^b, its meaning under softmax.
public final class PowerSoftmaxAttention: AttentionMixer, Component, TokenMixer {
    /// Shared attention options plus p and ε.
    public struct Options: ComponentOptions {
        /// kv_heads, qk_norm, gate, sigma_reparam, window, bias.
        public var attention: AttentionOptions
        /// Even power p.
        public var p: Int
        /// Stabilizer ε (0: plain power-softmax).
        public var epsilon: Float
        public init(_ r: inout OptionReader) {
            attention = AttentionOptions(&r)
            p = r.int("p", default: 2, "even power p (weights s^p / Σ s^p)", in: 2...32)
            if p % 2 != 0 { r.fail("p", "\(p) is odd; power-softmax needs an even p (2, 4, …) so weights are non-negative") }
            epsilon = r.float("epsilon", default: 0, "ε of the length-normalized variant s^p / (Σ s^p + n·ε); 0 = plain", in: 0...1e6)
        }
    }
    public static let info = ComponentInfo(
        id: "power_softmax", summary: "attention weights s^p / Σ s^p with an even power p (polynomial softmax)",
        paper: "Power-Softmax: Towards Secure LLM Inference over Encrypted Data (Zimerman et al., 2024)")

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        super.init(id: Self.info.id, attention: options.attention, normalizer: .power(p: options.p, epsilon: options.epsilon),
                   context: context, rng: &rng)
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        attentionParameterCount(options.attention, context: context)
    }

    public static func issues(options: Options, context: BuildContext) -> [SpecIssue] {
        attentionIssues(options.attention, context: context)
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        attentionCost(options.attention, normalizer: .power(p: options.p, epsilon: options.epsilon), context: context)
    }
}
