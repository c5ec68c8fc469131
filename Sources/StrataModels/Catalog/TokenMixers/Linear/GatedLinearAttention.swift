import StrataCore
import StrataNN

/// Gated linear attention (catalog `gla`, Yang et al., 2024). In Strata's layout S_t = S_{t−1}·diag(α_t) +
/// v_t k_tᵀ, o_t = S_t q_t: the data-dependent gate decays the key dimension. α_t = σ(x_t W_α1 W_α2 + b)^{1/τ}
/// with a rank-16 W_α and τ = 16 (the paper's values; the catalog's "(verify)": the paper's Eq. for the gate
/// uses exactly this low-rank sigmoid with temperature 16, chosen so decays start close to 1). Output
/// y = (GroupNorm_h(o) ⊙ Swish(x W_r)) W_o; paper configuration d_k = d/2, d_v = d, so per head
/// Dk = D·key_ratio and Dv = D·value_ratio. Queries are scaled by Dk^{−1/2}, as in the paper's code.
public final class GatedLinearAttention: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        public var keyRatio: Float
        public var valueRatio: Float
        /// Rank of the gate projection W_α = W_α1 W_α2.
        public var gateRank: Int
        /// Temperature τ: α = σ(·)^{1/τ}.
        public var temperature: Float
        /// Chunk length N of the training form.
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            keyRatio = r.float("key_ratio", default: 0.5, "key head width Dk as a multiple of the head width D", in: 0.01...16)
            valueRatio = r.float("value_ratio", default: 1, "value head width Dv as a multiple of the head width D", in: 0.01...16)
            gateRank = r.int("gate_rank", default: 16, "rank of the low-rank gate projection", in: 1...4096)
            temperature = r.float("tau", default: 16, "gate temperature τ: α = σ(x W_α + b)^{1/τ}", in: 0.01...1000)
            // N = 16, not 64: the key-wise decay makes the intra-chunk term an explicit [N, N, Dk] tensor (see
            // `ChunkedParts.intraScores`), so its cost grows with N; the paper's secondary chunks are 16 for the same
            // reason. Measured on the baseline shape (B 8, T 256, H 4, Dk 16, Dv 32): N = 16 is ~3× faster than 64.
            chunk = r.int("chunk", default: 16, "chunk length N of the chunk-parallel training form", in: 1...4096)
        }
        /// Per-head (Dk, Dv) for head width D.
        public func widths(_ d: Int) -> (Int, Int) {
            (max(1, Int((Float(d) * keyRatio).rounded())), max(1, Int((Float(d) * valueRatio).rounded())))
        }
    }
    public static let info = ComponentInfo(
        id: "gla", summary: "gated linear attention: low-rank sigmoid key-wise decay (τ = 16), output gate, head norm",
        paper: "Gated Linear Attention Transformers with Hardware-Efficient Training (Yang et al., 2024)")

    /// Fused projection C → H·(2Dk + 2Dv) + rank: q, k, v, the output gate r and the gate's first factor.
    public let proj: Linear
    /// Second gate factor rank → H·Dk, with bias b.
    public let gate: Linear
    /// Output projection H·Dv → C.
    public let out: Linear
    public let norm: HeadNorm
    public let heads: Int, keyDim: Int, valueDim: Int
    let options: Options

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        heads = context.heads
        (keyDim, valueDim) = options.widths(context.headDim)
        self.options = options
        proj = Linear(context.dim, heads * (2 * keyDim + 2 * valueDim) + options.gateRank, bias: false, rng: &rng,
                      weightInit: .normal(std: context.initStd))
        gate = Linear(options.gateRank, heads * keyDim, bias: true, rng: &rng, weightInit: .normal(std: context.initStd),
                      biasInit: .zeros)
        out = Linear(heads * valueDim, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        norm = HeadNorm(heads: heads, width: valueDim, rms: false)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let h = context.heads
        let (dk, dv) = options.widths(context.headDim)
        return context.dim * (h * (2 * dk + 2 * dv) + options.gateRank) + (options.gateRank + 1) * h * dk
            + h * dv * context.dim + HeadNorm.parameterCount(heads: h, width: dv, rms: false)
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        let (dk, dv) = options.widths(context.headDim)
        return recurrentCost(weights: parameterCount(options: options, context: context), heads: context.heads, keyDim: dk,
                             valueDim: dv, chunk: options.chunk, keyWise: true, context: context)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let (hk, hv) = (heads * keyDim, heads * valueDim)
        let p = proj(x).split(axis: 2, sizes: [hk, hk, hv, hv, options.gateRank])
        let q = splitHeads(p[0], heads: heads) * (1 / Float(keyDim).squareRoot())
        // log α = log σ(z)/τ = −softplus(−z)/τ: computed in log space, never as a product of small α.
        let logAlpha = splitHeads(-(-gate(p[4])).softplus() * (1 / options.temperature), heads: heads)
        let inputs = RecurrenceInputs(q: q, k: splitHeads(p[1], heads: heads), v: splitHeads(p[2], heads: heads),
                                      decay: .keyWise(logAlpha))
        let o = runRecurrence(inputs, chunk: options.chunk, cache: cache)
        if cache == nil { context.probes?.recordMixing(layer: context.layer, MixingCapture(inputs, output: o)) }
        let y = norm(headsLast(o)).reshaped([b, t, hv])
        return out(y * p[3].silu())
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}
