import StrataCore
import StrataNN

/// BaseConv (Arora et al., 2023, "Zoology"): a gated short convolution, y = (x·W + b₁) ⊙ (h ∗ x + b₂), with h a
/// causal depthwise filter of K taps (K = 3 in Zoology's recall experiments). It is not in the shared catalog;
/// Strata has it because Zoology's multi-query associative recall benchmark puts one BaseConv layer under the
/// mixer being compared (layer 0 BaseConv, layer 1 the mixer, no MLPs): the convolution hands every token its
/// predecessor, the "previous token" half of an induction circuit, so the comparison measures recall rather
/// than how fast each mixer discovers that circuit (configs/tasks/mqar-*.json). Decoding keeps the last K − 1
/// inputs, a constant-size state.
public final class BaseConv: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        public var kernel: Int
        public init(_ r: inout OptionReader) {
            kernel = r.int("kernel", default: 3, "taps K of the causal depthwise filter h", in: 1...64)
        }
    }
    public static let info = ComponentInfo(
        id: "base_conv", summary: "gated short convolution (x·W + b) ⊙ (h ∗ x + b), Zoology's BaseConv",
        paper: "Zoology: Measuring and Improving Recall in Efficient Language Models (Arora et al., 2023)")

    /// The gate branch x·W + b₁ (C → C).
    public let projection: Linear
    /// The causal depthwise filter h with its bias b₂.
    public let conv: ShortConvolution

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        projection = Linear(context.dim, context.dim, bias: true, rng: &rng, weightInit: .normal(std: context.initStd))
        conv = ShortConvolution(channels: context.dim, kernel: options.kernel, bias: true, name: "x", rng: &rng)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        context.dim * context.dim + context.dim + ShortConvolution.parameterCount(channels: context.dim, kernel: options.kernel, bias: true)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        if let cache = cache as? RecurrentCache { cache.length += x.shape[1] }
        return projection(x) * conv(x, cache: cache)
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}
