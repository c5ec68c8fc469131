import StrataCore
import StrataNN

/// LayerScale residual x + λ ⊙ y with a learnable per-channel λ ∈ R^C initialized to a small constant, so
/// each block starts close to the identity (catalog `layer_scale`; Touvron et al., "Going deeper with Image
/// Transformers" (CaiT), 2021; 1e-5 as in PoolFormer-style models).
public final class LayerScale: Module, Component, ResidualConnection {
    /// LayerScale options.
    public struct Options: ComponentOptions {
        public var initValue: Float
        public init(_ r: inout OptionReader) {
            initValue = r.float("init", default: 1e-5, "initial value of every λ entry", in: -1e3...1e3)
        }
    }
    public static let info = ComponentInfo(id: "layer_scale", summary: "x + λ⊙F(x), per-channel λ initialized small",
                                           paper: "Going deeper with Image Transformers (Touvron et al., 2021)")

    /// Per-channel scale λ [C]; a gain like a norm's, so it gets the `norm` role (no weight decay).
    public let scale: Parameter

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        scale = Parameter(Tensor(repeating: options.initValue, shape: [context.dim]), role: .norm)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { context.dim }

    public func combine(_ x: Tensor, _ y: Tensor) -> Tensor { x + y * scale.value }
}
