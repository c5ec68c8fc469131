import StrataCore
import StrataNN

/// LayerNorm: γ ⊙ (x − μ)/√(var(x) + ε) + β over the channel axis (catalog `layer_norm`).
public final class LayerNormLayer: Module, Component, NormLayer {
    public struct Options: ComponentOptions {
        public var eps: Float
        public var bias: Bool
        public init(_ r: inout OptionReader) {
            eps = r.float("eps", default: 1e-5, "added to the variance", in: 0...1)
            bias = r.bool("bias", default: true, "learnable shift β")
        }
    }
    public static let info = ComponentInfo(id: "layer_norm", summary: "LayerNorm (mean and variance over channels)")

    /// Gain γ [C].
    public let weight: Parameter
    /// Shift β [C], if enabled.
    public let bias: Parameter?
    public let eps: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        weight = Parameter(.ones([context.dim]), role: .norm)
        bias = options.bias ? Parameter(.zeros([context.dim]), role: .norm) : nil
        eps = options.eps
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        context.dim * (options.bias ? 2 : 1)
    }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        x.layerNorm(weight: weight.value, bias: bias?.value, eps: eps)
    }
}
