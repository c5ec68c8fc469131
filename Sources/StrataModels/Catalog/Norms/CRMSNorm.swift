import StrataCore
import StrataNN

/// Compressed RMSNorm (catalog `crms_norm`): the stream stores the first C = d − 1 coordinates x' of a zero-mean
/// vector x ∈ R^d (the dropped one is −Σx'), and CRMSNorm(x') = x' / √((Σx'ᵢ² + (Σx'ᵢ)²)/d + ε), optionally ⊙ γ.
///
/// Paper: Jiang et al., "Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN Transformers"
/// (NeurIPS 2023), eq. for CRMSNorm. The denominator is the mean square of the full d-vector, so on the stored
/// coordinates it equals RMSNorm (and LayerNorm) of the reconstructed x; ε sits inside the root as in LayerNorm,
/// which keeps the equivalence exact (var(x) + ε = mean(x²) + ε on a zero-mean x).
/// In the converted models of `PreLNEquivalence` the gain is folded into the following linear layer (`affine` false),
/// since the implicit coordinate's γ_d has no place among the C stored gains; trained from scratch the default keeps a
/// learnable γ over the stored coordinates, like RMSNorm.
public final class CRMSNormLayer: Module, Component, NormLayer {
    public struct Options: ComponentOptions {
        /// ε inside the root (the source LayerNorm's ε in a converted model).
        public var eps: Float
        /// Learnable gain γ; converted models fold γ into the next linear layer instead.
        public var affine: Bool
        /// Reads the options.
        public init(_ r: inout OptionReader) {
            eps = r.float("eps", default: 1e-5, "added to the mean square of the reconstructed vector", in: 0...1)
            affine = r.bool("affine", default: true, "learnable gain γ over the stored coordinates")
        }
    }
    public static let info = ComponentInfo(
        id: "crms_norm", summary: "compressed RMSNorm over a zero-mean stream stored in d − 1 coordinates",
        paper: "Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN Transformers (Jiang et al., 2023)")

    /// Gain γ [C], if `affine`.
    public let weight: Parameter?
    /// ε added to the mean square.
    public let eps: Float

    /// Builds the norm over a stored width C = `context.dim` (the implicit full width is C + 1).
    public init(options: Options, context: BuildContext, rng: inout RNG) {
        weight = options.affine ? Parameter(.ones([context.dim]), role: .norm) : nil
        eps = options.eps
        super.init()
    }

    /// C gains when `affine`, else none.
    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        options.affine ? context.dim : 0
    }

    /// Normalizes the stored coordinates of each token.
    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        Self.crmsNorm(x, weight: weight?.value, eps: eps)
    }

    /// x' [..., C] → x' / √((Σx'² + (Σx')²)/(C + 1) + ε) ⊙ γ, composed from differentiable ops.
    public static func crmsNorm(_ x: Tensor, weight: Tensor?, eps: Float) -> Tensor {
        guard let c = x.shape.last, c > 0 else { shapeError("crms_norm", "needs a non-empty channel axis, got \(x.shape)") }
        if let weight, weight.shape != [c] {
            shapeError("crms_norm", "weight has shape \(weight.shape), expected [\(c)] for input \(x.shape)")
        }
        let squares = (x * x).sum(axis: -1, keepDims: true)
        let total = x.sum(axis: -1, keepDims: true)       // = −x_d, the implicit coordinate's negative
        let meanSquare = (squares + total * total) / Float(c + 1)
        let y = x * (meanSquare + eps).rsqrt()
        return weight.map { y * $0 } ?? y
    }
}
