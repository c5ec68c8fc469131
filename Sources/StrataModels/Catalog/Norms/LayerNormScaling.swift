import StrataCore
import StrataNN

/// LayerNorm Scaling (catalog `layer_norm_scaling`; "The Curse of Depth in Large Language Models"): h ← h +
/// F(LN(h)/√l), l = layer + 1 the 1-based block index. The paper defines it for Pre-LN, where it scales what
/// each sublayer reads and so damps the depth-wise variance growth of the stream.
///
/// Placements: only the *input* norm sites (`.mixerInput`, `.channelInput`) are scaled. Under `pre` that is
/// the paper's rule. Under `peri` the input norms are scaled the same way and the output norms (which bound
/// each branch's write to the stream) stay plain: scaling them too would shrink every update by a further
/// 1/√l, a depth-scaled residual the paper does not propose. `post` and `none` are refused
/// (`placementProblem`): under `post` the norm sits on the stream itself, so 1/√l would compound over the
/// blocks (the stream would shrink like 1/√(l!)), and `none` has no norm to scale. Model-level norms (the
/// embedding and final norms, built with layer −1) are not scaled. No parameters beyond the inner norm's.
public final class LayerNormScaling: Module, Component, NormLayer {
    /// The norm whose output is scaled.
    public enum Base: String, CaseIterable, Sendable {
        case layerNorm = "layer_norm", rmsNorm = "rms_norm"
    }

    /// LNS options.
    public struct Options: ComponentOptions {
        public var base: Base
        public var eps: Float
        /// Learnable shift β (layer_norm base only).
        public var bias: Bool
        public init(_ r: inout OptionReader) {
            base = Base(rawValue: r.choice("base", default: "layer_norm", among: Base.allCases.map(\.rawValue),
                                           "the inner norm")) ?? .layerNorm
            eps = r.float("eps", default: 1e-5, "added to the variance or mean square", in: 0...1)
            bias = r.bool("bias", default: true, "learnable shift β of a layer_norm base")
        }
        var hasBias: Bool { base == .layerNorm && bias }
    }
    public static let info = ComponentInfo(id: "layer_norm_scaling", summary: "LayerNorm/RMSNorm output scaled by 1/√l",
                                           paper: "The Curse of Depth in Large Language Models (Sun et al., 2025)")

    /// Gain γ [C].
    public let weight: Parameter
    /// Shift β [C] (layer_norm base with bias).
    public let bias: Parameter?
    public let base: Base
    public let eps: Float
    /// 1/√(layer + 1) inside a block, 1 for model-level norms.
    public let scale: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        weight = Parameter(.ones([context.dim]), role: .norm)
        bias = options.hasBias ? Parameter(.zeros([context.dim]), role: .norm) : nil
        base = options.base
        eps = options.eps
        scale = context.layer >= 0 ? 1 / Float(context.layer + 1).squareRoot() : 1
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        context.dim * (options.hasBias ? 2 : 1)
    }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        let y = switch base {
        case .layerNorm: x.layerNorm(weight: weight.value, bias: bias?.value, eps: eps)
        case .rmsNorm: x.rmsNorm(weight: weight.value, eps: eps)
        }
        return scale == 1 || !Self.scaledSites.contains(site) ? y : y * scale
    }

    /// The sites whose output is scaled by 1/√l: what a sublayer reads (see the type's comment).
    public static let scaledSites: Set<NormSite> = [.mixerInput, .channelInput]

    /// Why `layer_norm_scaling` cannot be the norm of a block with `placement` (nil when it can): the check
    /// `ModelSpec.validate()` runs for every block whose norm is `layer_norm_scaling`, reported at the block's
    /// `norm` key path.
    public static func placementProblem(_ placement: NormPlacement) -> String? {
        switch placement {
        case .pre, .peri: nil
        case .post:
            "layer_norm_scaling is defined for pre (and peri) placement: under post the norm sits on the stream, so "
                + "1/√l would compound over the blocks; use placement pre or peri, or norm layer_norm"
        case .none:
            "layer_norm_scaling needs a norm to scale, and placement none has none; use placement pre or peri"
        }
    }
}
