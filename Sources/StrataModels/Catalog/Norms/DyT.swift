import StrataCore
import StrataNN

/// Dynamic Tanh: γ ⊙ tanh(a·x) + β with one learnable scalar a and no statistics (catalog `dyt`;
/// Zhu, Chen, He, LeCun & Liu, "Transformers without Normalization", CVPR 2025).
public final class DynamicTanh: Module, Component, NormLayer {
    /// DyT options.
    public struct Options: ComponentOptions {
        /// Initial value of the scalar a (the paper's default α₀ = 0.5; its LLM runs tune it per width).
        public var alphaInit: Float
        public init(_ r: inout OptionReader) {
            alphaInit = r.float("alpha_init", default: 0.5, "initial value of the scalar a in tanh(a·x)", in: 1e-4...100)
        }
    }
    public static let info = ComponentInfo(id: "dyt", summary: "Dynamic Tanh γ⊙tanh(a·x)+β (no statistics)",
                                           paper: "Transformers without Normalization (Zhu et al., 2025)")

    /// Scalar a [1].
    public let alpha: Parameter
    /// Gain γ [C].
    public let weight: Parameter
    /// Shift β [C].
    public let bias: Parameter

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        alpha = Parameter(Tensor([options.alphaInit], shape: [1]), role: .norm)
        weight = Parameter(.ones([context.dim]), role: .norm)
        bias = Parameter(.zeros([context.dim]), role: .norm)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 2 * context.dim + 1 }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        let z = x * alpha.value
        scratch.probes?.recordTanhSaturation(layer: scratch.layer, preActivation: z)
        return z.tanh() * weight.value + bias.value
    }
}
