import StrataCore
import StrataNN

/// PolyNorm FFN: φ(u) = a₀ + Σᵢ₌₁³ aᵢ·uⁱ/RMS(uⁱ), each power RMS-normalized over the hidden axis (catalog
/// `poly_norm`). The powers are taken of u/RMS(u) rather than of u: every term is invariant to a positive
/// per-token rescaling of its argument, so this is the same function (up to ε), but u³ of a large-norm
/// input cannot overflow Float32 (the catalog's finite-output check).
public final class PolyNormFFN: Module, Component, ChannelMixer {
    /// PolyNorm options: the shared MLP shape plus the ε of the power normalizations.
    public struct Options: ComponentOptions {
        public var mlp: PolyFFNOptions
        public var eps: Float
        public init(_ r: inout OptionReader) {
            mlp = PolyFFNOptions(&r)
            eps = r.float("eps", default: 1e-6, "added to the mean square of each normalized power", in: 0...1)
        }
    }
    public static let info = ComponentInfo(id: "poly_norm", summary: "MLP with PolyNorm Σ aᵢ·xⁱ/RMS(xⁱ) (order 3, learnable aᵢ)",
                                           paper: "Polynomial Composition Activations (Zhuo et al., 2024)")

    public let mlp: PolyMLP
    public let eps: Float

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        mlp = PolyMLP(options: options.mlp, context: context, rng: &rng)
        eps = options.eps
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        PolyMLP.parameterCount(options: options.mlp, dim: context.dim)
    }

    /// φ(u) = a₀ + Σ aᵢ·norm(ũⁱ), ũ = u/RMS(u), norm(z) = z/√(mean(z²) + ε) over the hidden axis.
    public func activation(_ u: Tensor) -> Tensor {
        let p1 = u.rmsNorm(weight: nil, eps: eps), p2 = p1 * p1, p3 = p2 * p1
        return mlp.coefficient(0) + p1 * mlp.coefficient(1) + p2.rmsNorm(weight: nil, eps: eps) * mlp.coefficient(2)
            + p3.rmsNorm(weight: nil, eps: eps) * mlp.coefficient(3)
    }

    public func forward(_ x: Tensor, context: MixerContext) -> Tensor {
        mlp.forward(x, context: context, activation: activation)
    }
}
