import StrataCore
import StrataNN

/// PolyReLU FFN: φ(u) = Σᵢ₌₀³ aᵢ·ReLU(u)ⁱ (catalog `poly_relu`; Zhuo et al., "Polynomial Composition
/// Activations", 2024).
public final class PolyReLUFFN: Module, Component, ChannelMixer {
    public typealias Options = PolyFFNOptions
    public static let info = ComponentInfo(id: "poly_relu", summary: "MLP with PolyReLU Σ aᵢ·ReLU(x)ⁱ (order 3, learnable aᵢ)",
                                           paper: "Polynomial Composition Activations (Zhuo et al., 2024)")

    public let mlp: PolyMLP

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        mlp = PolyMLP(options: options, context: context, rng: &rng)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        PolyMLP.parameterCount(options: options, dim: context.dim)
    }

    /// φ(u) = a₀ + a₁r + a₂r² + a₃r³ with r = ReLU(u).
    public func activation(_ u: Tensor) -> Tensor {
        let r = u.relu(), r2 = r * r
        return mlp.coefficient(0) + r * mlp.coefficient(1) + r2 * mlp.coefficient(2) + r2 * r * mlp.coefficient(3)
    }

    public func forward(_ x: Tensor, context: MixerContext) -> Tensor {
        mlp.forward(x, context: context, activation: activation)
    }
}
