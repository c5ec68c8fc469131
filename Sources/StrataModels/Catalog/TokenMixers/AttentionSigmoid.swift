import Foundation
import StrataCore
import StrataNN

/// Sigmoid self-attention (catalog `sigmoid_attention`; Ramapuram et al., 2024, "Theory, Analysis, and Best
/// Practices for Sigmoid Self-Attention"): A = σ(Q Kᵀ/√D + b) elementwise with no row normalization, b = −log n.
///
/// n is one fixed number per model, the sequence length the model trains at (`n`, default context_length), as in
/// the authors' implementation where one scalar b is added to every row even under a causal mask; so at zero
/// logits an unmasked row of n keys sums to n/(n+1), and causal row i to (i+1)/(n+1). A fixed n (rather than the
/// keys of the current call) also makes cached decoding equal the full forward. `bias_mode: log_visible` uses
/// b = −log(visible keys of the row) instead; `zero` uses b = 0 (the unstable ablation).
/// The paper's stable recipe adds `qk_norm` and LayerScale; those are separate options.
public final class SigmoidAttention: AttentionMixer, Component, TokenMixer {
    /// Shared attention options plus the bias.
    public struct Options: ComponentOptions {
        /// kv_heads, qk_norm, gate, sigma_reparam, window, bias.
        public var attention: AttentionOptions
        /// log_n, zero or log_visible.
        public var biasMode: String
        /// n in b = −log n (nil: context_length).
        public var n: Int?
        public init(_ r: inout OptionReader) {
            attention = AttentionOptions(&r)
            biasMode = r.choice("bias_mode", default: "log_n", among: ["log_n", "zero", "log_visible"],
                                "logit bias b: −log n (paper), 0, or −log(visible keys) per row")
            n = r.optionalInt("n", "n in b = −log n (default: context_length)", in: 1...1 << 30)
        }
    }
    public static let info = ComponentInfo(
        id: "sigmoid_attention", summary: "elementwise σ(QKᵀ/√D − log n) attention weights, no row normalization",
        paper: "Theory, Analysis, and Best Practices for Sigmoid Self-Attention (Ramapuram et al., 2024)")

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let bias: SigmoidBias
        switch options.biasMode {
        case "zero": bias = .constant(0)
        case "log_visible": bias = .logVisible
        default: bias = .constant(-Float(Foundation.log(Double(options.n ?? context.contextLength))))
        }
        super.init(id: Self.info.id, attention: options.attention, normalizer: .sigmoid(bias: bias), context: context, rng: &rng)
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        attentionParameterCount(options.attention, context: context)
    }

    public static func issues(options: Options, context: BuildContext) -> [SpecIssue] {
        attentionIssues(options.attention, context: context)
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        attentionCost(options.attention, normalizer: .sigmoid(bias: .logVisible), context: context)
    }
}
