import StrataCore
import StrataNN

/// SeeDNorm: [tanh(x·βᵀ)·α + γ] ⊙ x / RMS(x), x, α, β, γ ∈ R^C (catalog `seed_norm`). x·βᵀ is one scalar per
/// token, so the per-channel scale depends on the input's unnormalized magnitude and direction: unlike
/// RMSNorm, the input norm survives (SeeDNorm(2x) ≠ SeeDNorm(x) once α ≠ 0).
///
/// Initialization (catalog: verify, uncertain): α = 0, so the layer starts exactly as RMSNorm; β is drawn
/// from N(0, 1/C) rather than set to 0, because with α = β = 0 both gradients vanish (∂/∂α ∝ tanh(x·β) = 0
/// and ∂/∂β ∝ α = 0) and the layer could never leave RMSNorm. α and β carry the `weight` role so they
/// receive weight decay, the paper's stability fix; γ is a norm gain (no decay). The multi-head split of
/// x·β is not implemented.
public final class SeeDNormLayer: Module, Component, NormLayer {
    /// SeeDNorm options.
    public struct Options: ComponentOptions {
        public var eps: Float
        /// Initial value of every α entry.
        public var alphaInit: Float
        public init(_ r: inout OptionReader) {
            eps = r.float("eps", default: 1e-5, "added to the mean square", in: 0...1)
            alphaInit = r.float("alpha_init", default: 0, "initial α (0 starts the layer as RMSNorm)", in: -10...10)
        }
    }
    public static let info = ComponentInfo(id: "seed_norm", summary: "SeeDNorm: input-conditioned RMSNorm gain",
                                           paper: "SeeDNorm: Self-Rescaled Dynamic Normalization (Cai et al., 2025)")

    /// Dynamic gain α [C].
    public let alpha: Parameter
    /// Self-rescaling direction β [C].
    public let beta: Parameter
    /// Static gain γ [C].
    public let weight: Parameter
    public let eps: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let c = context.dim
        alpha = Parameter(Tensor(repeating: options.alphaInit, shape: [c]), role: .weight)
        beta = Parameter(rng.normal([c], std: 1 / Float(c).squareRoot()), role: .weight)
        weight = Parameter(.ones([c]), role: .norm)
        eps = options.eps
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 3 * context.dim }

    public func normalize(_ x: Tensor, site: NormSite, scratch: BlockScratch) -> Tensor {
        let c = x.shape[x.rank - 1]
        let z = x.matmul(beta.value.reshaped([c, 1]))                 // [..., 1]: one scalar per token
        scratch.probes?.recordTanhSaturation(layer: scratch.layer, preActivation: z)
        let s = z.tanh()
        return x.rmsNorm(weight: nil, eps: eps) * (s * alpha.value + weight.value)
    }
}
