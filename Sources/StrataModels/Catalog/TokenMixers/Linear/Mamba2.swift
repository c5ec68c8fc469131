import StrataCore
import StrataNN

/// Mamba-2 / SSD (catalog `mamba2`, Dao & Gu, 2024): per head, h_t = exp(Δ_t A)·h_{t−1} + B_t (Δ_t x_t)ᵀ,
/// y_t = C_tᵀ h_t + D·x_t, i.e. linear attention with a scalar gate (C ↔ q, B ↔ k, Δ·x ↔ v), state N × P
/// stored here as S ∈ R^{P×N}. Block as in the paper: in_proj x → (z, xBC, Δ); causal depthwise conv (kernel 4,
/// with bias) then SiLU on xBC; one B and C shared by all heads (ngroups = 1); Δ = softplus(· + dt_bias);
/// A = −exp(A_log) per head; output RMSNorm(y ⊙ SiLU(z)) (the gated norm) then out_proj.
public final class Mamba2: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        /// Inner width as a multiple of C.
        public var expand: Int
        /// State size N per head.
        public var state: Int
        /// Head width P; nil means the model's head width D.
        public var headDim: Int?
        public var convKernel: Int
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            expand = r.int("expand", default: 2, "inner width as a multiple of the model width", in: 1...16)
            state = r.int("state", default: 16, "state size N per head (B and C width)", in: 1...1024)
            headDim = r.optionalInt("head_dim", "head width P (default: the model's head width)", in: 1...4096)
            convKernel = r.int("conv_kernel", default: 4, "kernel of the causal depthwise convolution on x, B, C", in: 1...64)
            chunk = r.int("chunk", default: 64, "chunk length N of the chunk-parallel training form", in: 1...4096)
        }
        /// (inner width, heads, head width) in `context`; the head width is lowered to a divisor of the inner width.
        func layout(_ context: BuildContext) -> (inner: Int, heads: Int, p: Int) {
            let inner = expand * context.dim
            var p = min(headDim ?? context.headDim, inner)
            while inner % p != 0 { p -= 1 }
            return (inner, inner / p, p)
        }
    }
    public static let info = ComponentInfo(
        id: "mamba2", summary: "Mamba-2 SSD: scalar per-head decay exp(ΔA), short conv on x/B/C, gate z, D skip",
        paper: "Transformers are SSMs: Generalized Models and Efficient Algorithms Through Structured State Space Duality (Dao & Gu, 2024)")

    /// C → z (inner) | xBC (inner + 2N) | Δ (heads).
    public let inProjection: Linear
    public let conv: ShortConvolution
    /// log(−A) per head.
    public let aLog: Parameter
    public let dtBias: Parameter
    /// Skip D per head.
    public let skip: Parameter
    /// Gain of the gated RMSNorm [inner].
    public let normWeight: Parameter
    public let outProjection: Linear
    public let inner: Int, heads: Int, headDim: Int, state: Int
    let chunk: Int

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        (inner, heads, headDim) = options.layout(context)
        state = options.state
        chunk = options.chunk
        inProjection = Linear(context.dim, 2 * inner + 2 * state + heads, bias: false, rng: &rng,
                              weightInit: .normal(std: context.initStd))
        conv = ShortConvolution(channels: inner + 2 * state, kernel: options.convKernel, bias: true, name: "xbc", rng: &rng)
        aLog = Parameter(rng.uniform([heads], low: 1, high: 16).log(), role: .other)
        dtBias = Parameter(inverseSoftplusTimeSteps(heads, rng: &rng), role: .bias)
        skip = Parameter(.ones([heads]), role: .other)
        normWeight = Parameter(.ones([inner]), role: .norm)
        outProjection = Linear(inner, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let (inner, heads, _) = options.layout(context)
        let n = options.state
        return context.dim * (2 * inner + 2 * n + heads)
            + ShortConvolution.parameterCount(channels: inner + 2 * n, kernel: options.convKernel, bias: true)
            + 3 * heads + inner + inner * context.dim
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        let (_, heads, p) = options.layout(context)
        return recurrentCost(weights: parameterCount(options: options, context: context), heads: heads, keyDim: options.state,
                             valueDim: p, chunk: options.chunk, keyWise: false, context: context)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let p = inProjection(x).split(axis: 2, sizes: [inner, inner + 2 * state, heads])
        let xbc = conv(p[1], cache: cache).silu().split(axis: 2, sizes: [inner, state, state])
        let u = splitHeads(xbc[0], heads: heads)                                          // [B, H, T, P]
        let keys = xbc[1].reshaped([b, 1, t, state]).expanded(to: [b, heads, t, state])   // B_t, shared by heads
        let queries = xbc[2].reshaped([b, 1, t, state]).expanded(to: [b, heads, t, state])
        let dt = (p[2] + dtBias.value).softplus().permuted([0, 2, 1])                     // Δ [B, H, T]
        let logDecay = dt * (-aLog.value.exp()).reshaped([1, heads, 1])                   // Δ·A ≤ 0
        let values = u * dt.reshaped([b, heads, t, 1])                                    // Δ_t x_t
        let y = runRecurrence(RecurrenceInputs(q: queries, k: keys, v: values, decay: .scalar(logDecay)),
                              chunk: chunk, cache: cache) + u * skip.value.reshaped([1, heads, 1, 1])
        if cache == nil {
            // The catalog's M_ts = C_tᵀB_s·exp(A·Σ_{j=s+1..t} Δ_j)·Δ_s + D·[s = t], applied to x_t (here u).
            context.probes?.recordMixing(layer: context.layer, MixingCapture(
                q: queries, k: keys, values: u, decay: .scalar(logDecay), valueScale: dt, skip: skip.value, output: y))
        }
        let gated = headsLast(y).reshaped([b, t, inner]) * p[0].silu()
        return outProjection(gated.rmsNorm(weight: normWeight.value, eps: 1e-5))
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}
