import StrataCore
import StrataNN

/// The GRU-type gated residual of GTrXL (catalog `gtrxl_gate`; Parisotto et al., "Stabilizing Transformers
/// for Reinforcement Learning", 2020), replacing x + y with, for stream x and sublayer output y:
/// r = σ(W_r y + U_r x), z = σ(W_z y + U_z x − b_g), ĥ = tanh(W_g y + U_g(r ⊙ x)), out = (1 − z) ⊙ x + z ⊙ ĥ.
/// b_g > 0 biases the update gate z toward 0, so each block starts near the identity map. With `relu`
/// (the paper's identity-map reordering) y passes through a ReLU before the gate.
public final class GTrXLGate: Module, Component, ResidualConnection {
    /// Gate options.
    public struct Options: ComponentOptions {
        public var gateBias: Float
        public var relu: Bool
        public init(_ r: inout OptionReader) {
            gateBias = r.float("gate_bias", default: 2, "b_g subtracted inside the update gate (> 0 starts near identity)",
                               in: -100...100)
            relu = r.bool("relu", default: true, "ReLU on the sublayer output before the gate (GTrXL's reordering)")
        }
    }
    public static let info = ComponentInfo(id: "gtrxl_gate", summary: "GRU-type gated residual with identity-biased update gate",
                                           paper: "Stabilizing Transformers for Reinforcement Learning (Parisotto et al., 2020)")

    /// [W_r; W_z; W_g] applied to y: C → 3C.
    public let fromOutput: Linear
    /// [U_r; U_z] applied to x: C → 2C.
    public let fromStream: Linear
    /// U_g applied to r ⊙ x: C → C.
    public let reset: Linear
    public let gateBias: Float
    public let relu: Bool

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        let c = context.dim
        fromOutput = Linear(c, 3 * c, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        fromStream = Linear(c, 2 * c, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        reset = Linear(c, c, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        gateBias = options.gateBias
        relu = options.relu
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int { 6 * context.dim * context.dim }

    public func combine(_ x: Tensor, _ y: Tensor) -> Tensor {
        let c = x.shape[x.rank - 1]
        let wy = fromOutput(relu ? y.relu() : y).split(axis: x.rank - 1, sizes: [c, c, c])
        let ux = fromStream(x).split(axis: x.rank - 1, sizes: [c, c])
        let r = (wy[0] + ux[0]).sigmoid()
        let z = (wy[1] + ux[1] - gateBias).sigmoid()
        let candidate = (wy[2] + reset(r * x)).tanh()
        return x + z * (candidate - x)                                  // (1 − z) ⊙ x + z ⊙ ĥ
    }
}
