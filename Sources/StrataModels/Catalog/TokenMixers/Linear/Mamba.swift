import Foundation
import StrataCore
import StrataNN

/// Mamba (catalog `mamba`, Gu & Dao, 2023): a selective SSM per channel d with state size S,
/// h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t u_t, y_t = C_tᵀ h_t + D u_t, Δ_t = softplus(W_Δ x_t + b_Δ) with low-rank
/// W_Δ (rank ⌈C/16⌉), B_t, C_t ∈ R^S from x_proj, A = −exp(A_log) diagonal with the S4D-real initialization
/// A_n = −(n+1) (the catalog's "(verify)": the paper's default). Block (the paper's): in_proj → (u, z) with
/// expansion 2; u → causal depthwise conv (k = 4) → SiLU → SSM; y ⊙ SiLU(z); out_proj. On the shared engine each
/// channel is a head with Dv = 1 and Dk = S and a key-wise decay, run by the two-level scan (`chunkedScan`).
public final class Mamba: Module, Component, TokenMixer {
    public struct Options: ComponentOptions {
        public var expand: Int
        public var state: Int
        /// Rank of W_Δ; nil means ⌈C/16⌉.
        public var dtRank: Int?
        public var convKernel: Int
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            expand = r.int("expand", default: 2, "inner width as a multiple of the model width", in: 1...16)
            state = r.int("state", default: 16, "state size S per channel", in: 1...1024)
            dtRank = r.optionalInt("dt_rank", "rank of the Δ projection (default ⌈C/16⌉)", in: 1...4096)
            convKernel = r.int("conv_kernel", default: 4, "kernel of the causal depthwise convolution on u", in: 1...64)
            chunk = r.int("chunk", default: 16, "chunk length N of the two-level scan", in: 1...4096)
        }
        func rank(_ dim: Int) -> Int { dtRank ?? (dim + 15) / 16 }
    }
    public static let info = ComponentInfo(
        id: "mamba", summary: "Mamba selective SSM block: diagonal A per channel, state 16, short conv, SiLU gate",
        paper: "Mamba: Linear-Time Sequence Modeling with Selective State Spaces (Gu & Dao, 2023)")

    /// C → u | z (2·inner).
    public let inProjection: Linear
    public let conv: ShortConvolution
    /// inner → Δ (rank) | B (S) | C (S).
    public let xProjection: Linear
    /// rank → inner, with the Δ bias.
    public let dtProjection: Linear
    /// Δ bias b_Δ [inner], initialized to softplus⁻¹(dt), dt ~ logU(0.001, 0.1) (the paper's initialization).
    public let dtBias: Parameter
    /// log(−A) [inner, S].
    public let aLog: Parameter
    /// Skip D [inner].
    public let skip: Parameter
    public let outProjection: Linear
    public let inner: Int, state: Int, rank: Int
    let chunk: Int

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        inner = options.expand * context.dim
        state = options.state
        rank = options.rank(context.dim)
        chunk = options.chunk
        inProjection = Linear(context.dim, 2 * inner, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        conv = ShortConvolution(channels: inner, kernel: options.convKernel, bias: true, name: "u", rng: &rng)
        xProjection = Linear(inner, rank + 2 * state, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        dtProjection = Linear(rank, inner, bias: false, rng: &rng, weightInit: .uniform(bound: 1 / Float(rank).squareRoot()))
        dtBias = Parameter(inverseSoftplusTimeSteps(inner, rng: &rng), role: .bias)
        let n = options.state
        let s4d = (0..<(inner * n)).map { Float(Foundation.log(Double($0 % n + 1))) }   // A_n = −(n+1)
        aLog = Parameter(Tensor(s4d, shape: [inner, n]), role: .other)
        skip = Parameter(.ones([inner]), role: .other)
        outProjection = Linear(inner, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let inner = options.expand * context.dim, n = options.state, r = options.rank(context.dim)
        return context.dim * 2 * inner + ShortConvolution.parameterCount(channels: inner, kernel: options.convKernel, bias: true)
            + inner * (r + 2 * n) + r * inner + inner + inner * n + inner + inner * context.dim
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let uz = inProjection(x).split(axis: 2, sizes: [inner, inner])
        let u = conv(uz[0], cache: cache).silu()                                           // [B, T, inner]
        let p = xProjection(u).split(axis: 2, sizes: [rank, state, state])
        let dt = (dtProjection(p[0]) + dtBias.value).softplus()                            // Δ [B, T, inner]
        let dtHeads = dt.permuted([0, 2, 1]).reshaped([b, inner, t, 1])
        let logDecay = dtHeads * (-aLog.value.exp()).reshaped([1, inner, 1, state])        // Δ_t[d]·A[d, n] ≤ 0
        let keys = p[1].reshaped([b, 1, t, state]).expanded(to: [b, inner, t, state])
        let queries = p[2].reshaped([b, 1, t, state]).expanded(to: [b, inner, t, state])
        let values = u.permuted([0, 2, 1]).reshaped([b, inner, t, 1]) * dtHeads            // Δ_t u_t
        let y = runRecurrence(RecurrenceInputs(q: queries, k: keys, v: values, decay: .keyWise(logDecay)),
                              chunk: chunk, cache: cache, scan: true)                      // [B, inner, T, 1]
        let ssm = y.reshaped([b, inner, t]).permuted([0, 2, 1]) + u * skip.value
        return outProjection(ssm * uz[1].silu())
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}
