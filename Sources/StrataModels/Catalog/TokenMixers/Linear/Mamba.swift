import Foundation
import StrataCore
import StrataNN

/// Mamba (catalog `mamba`, Gu & Dao, 2023): a selective SSM per channel d with state size S,
/// h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t u_t, y_t = C_tᵀ h_t + D u_t, Δ_t = softplus(W_Δ x_t + b_Δ) with low-rank
/// W_Δ (rank ⌈C/16⌉), B_t, C_t ∈ R^S from x_proj, A = −exp(A_log) diagonal with the S4D-real initialization
/// A_n = −(n+1) (the catalog's "(verify)": the paper's default). Block (the paper's): in_proj → (u, z) with
/// expansion 2; u → causal depthwise conv (k = 4) → SiLU → SSM; y ⊙ SiLU(z); out_proj. On the shared engine each
/// channel is a head with Dv = 1 and Dk = S and a key-wise decay (used for decoding steps); training and prefill
/// run `selectiveScan`, the same recurrence organized so that no [B, inner, T, S] input is ever sliced per step.
public final class Mamba: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
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

    /// The selective scan keeps, per token, the chunk-local states and their decays (about 6 × inner·S floats, measured) besides the
    /// projections' outputs; the state is inner × S per sequence.
    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        let w = Double(parameterCount(options: options, context: context))
        let (inner, s) = (Double(options.expand * context.dim), Double(options.state))
        return ComponentCost(matmulWeights: w, mixingFlops: 6 * inner * s,
                             activationsPerToken: w / Double(max(context.dim, 1)) + 6 * inner * s, statePerSequence: inner * s)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let uz = inProjection(x).split(axis: 2, sizes: [inner, inner])
        let u = conv(uz[0], cache: cache).silu()                                           // [B, T, inner]
        let p = xProjection(u).split(axis: 2, sizes: [rank, state, state])
        let dt = (dtProjection(p[0]) + dtBias.value).softplus()                            // Δ [B, T, inner]
        let a = -aLog.value.exp()                                                          // A [inner, S]
        let y: Tensor
        if let cache = cache as? RecurrentCache, t == 1 {
            // One decoding step on the shared engine: each channel a head with Dv = 1, Dk = S.
            let dtHeads = dt.reshaped([b, inner, 1, 1])
            let x = RecurrenceInputs(q: p[2].reshaped([b, 1, 1, state]).expanded(to: [b, inner, 1, state]),
                                     k: p[1].reshaped([b, 1, 1, state]).expanded(to: [b, inner, 1, state]),
                                     v: u.reshaped([b, inner, 1, 1]) * dtHeads, decay: .keyWise(dtHeads * a.reshaped([1, inner, 1, state])))
            y = runRecurrence(x, chunk: chunk, cache: cache).reshaped([b, 1, inner])
        } else {
            let cache = cache as? RecurrentCache
            let (out, final) = selectiveScan(u: u, delta: dt, a: a, b: p[1], c: p[2], chunk: chunk,
                                             initial: cache?.state?.reshaped([b, inner, state]))
            if let cache {
                cache.state = final.reshaped([b, inner, 1, state]).detached()
                cache.length += t
            }
            y = out
        }
        let ssm = y + u * skip.value
        if cache == nil, let probes = context.probes, probes.wantsMixingMatrices {
            // Each channel is a head with Dv = 1 and its own key-wise decay Δ_t ⊗ A over the S state entries.
            func heads(_ m: Tensor) -> Tensor { m.reshaped([b, 1, t, state]).expanded(to: [b, inner, t, state]) }
            let channels = { (m: Tensor) in m.permuted([0, 2, 1]) }                        // [B, T, inner] → [B, inner, T]
            let logDecay = channels(dt).reshaped([b, inner, t, 1]) * a.reshaped([1, inner, 1, state])
            probes.recordMixing(layer: context.layer, MixingCapture(
                q: heads(p[2]), k: heads(p[1]), values: channels(u).reshaped([b, inner, t, 1]), decay: .keyWise(logDecay),
                valueScale: channels(dt), skip: skip.value, output: channels(ssm).reshaped([b, inner, t, 1])))
        }
        return outProjection(ssm * uz[1].silu())
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}

/// Selective scan h_t = exp(Δ_t ⊗ A) ⊙ h_{t−1} + (Δ_t u_t) ⊗ B_t, y_t = h_t C_t, for u, Δ [B, T, inner], A [inner, S],
/// B, C [B, T, S]; returns y [B, T, inner] and the final state [B, inner, S]. Two levels, all composed ops: inside
/// every chunk of N steps the local states run forward from zero (all chunks at once, N steps), then the chunk
/// start states are chained (T/N steps), and h = local + exp(A·cumΔ) ⊙ start. Decay factors are all ≤ 1, so no
/// range problem whatever Δ·A reaches; per-step slices are taken of the small [B, T, inner] and [B, T, S]
/// inputs only, since a slice's backward writes a tensor the size of its source.
public func selectiveScan(u: Tensor, delta: Tensor, a: Tensor, b bm: Tensor, c cm: Tensor, chunk: Int,
                          initial: Tensor? = nil) -> (output: Tensor, state: Tensor) {
    let (batch, t, d, s) = (u.shape[0], u.shape[1], u.shape[2], a.shape[1])
    // `chunk` ≥ 1 by the option range; T ≥ 1 is the caller's (n = 0 would divide by zero below).
    guard chunk >= 1 else { shapeError("selectiveScan", "chunk length must be ≥ 1, got \(chunk)") }
    let n = min(chunk, t), nc = (t + n - 1) / n, padded = nc * n
    func blocks(_ x: Tensor) -> Tensor {                                                      // [B, C, N, w]
        let w = x.shape[2]
        let full = padded > t ? Tensor.concat([x, Tensor.zeros([batch, padded - t, w])], axis: 1) : x
        return full.reshaped([batch, nc, n, w])
    }
    func steps(_ x: Tensor) -> [Tensor] {                                                     // N × [B, C, w]
        let w = x.shape[3]
        return x.split(axis: 2, sizes: Array(repeating: 1, count: n)).map { $0.reshaped([batch, nc, w]) }
    }
    let cumDelta = blocks(delta).cumsum(axis: 2)                                              // Σ Δ since chunk start
    let dt = steps(blocks(delta)), du = steps(blocks(delta * u)), bs = steps(blocks(bm)), cs = steps(blocks(cm))
    let cum = steps(cumDelta)
    let a4 = a.reshaped([1, 1, d, s])
    var local = Tensor.zeros([batch, nc, d, s])
    var locals: [Tensor] = []
    for i in 0..<n {
        local = local * (dt[i].reshaped([batch, nc, d, 1]) * a4).exp()
            + du[i].reshaped([batch, nc, d, 1]) * bs[i].reshaped([batch, nc, 1, s])
        locals.append(local)
    }
    let chunkDecay = (cum[n - 1].reshaped([batch, nc, d, 1]) * a4).exp()                      // [B, C, inner, S]
    var state = initial ?? Tensor.zeros([batch, d, s])
    var starts: [Tensor] = []
    for c in 0..<nc {
        starts.append(state)
        state = state * chunkDecay.slice(axis: 1, c..<(c + 1)).reshaped([batch, d, s])
            + local.slice(axis: 1, c..<(c + 1)).reshaped([batch, d, s])
    }
    let start = Tensor.stack(starts, axis: 1)                                                 // [B, C, inner, S]
    var ys: [Tensor] = []
    for i in 0..<n {
        let h = locals[i] + (cum[i].reshaped([batch, nc, d, 1]) * a4).exp() * start
        ys.append((h * cs[i].reshaped([batch, nc, 1, s])).sum(axis: 3))                       // [B, C, inner]
    }
    let y = Tensor.stack(ys, axis: 2).reshaped([batch, padded, d]).slice(axis: 1, 0..<t)
    return (y, state)
}
