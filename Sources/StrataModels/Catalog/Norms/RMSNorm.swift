import StrataCore
import StrataNN

/// RMSNorm: γ ⊙ x / √(mean(x²) + ε) (catalog `rms_norm`).
public final class RMSNormLayer: Module, Component, NormLayer {
    public struct Options: ComponentOptions {
        public var eps: Float
        public init(_ r: inout OptionReader) {
            eps = r.float("eps", default: 1e-5, "added to the mean square", in: 0...1)
        }
    }
    public static let info = ComponentInfo(id: "rms_norm", summary: "RMSNorm (root mean square, no centering)",
                                           paper: "Root Mean Square Layer Normalization (Zhang & Sennrich, 2019)")

    /// Gain γ [C].
    public let weight: Parameter
    public let eps: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        weight = Parameter(.ones([context.dim]), role: .norm)
        eps = options.eps
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { context.dim }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        x.rmsNorm(weight: weight.value, eps: eps)
    }
}
