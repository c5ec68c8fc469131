import Foundation
import StrataCore
import StrataNN

/// Multi-scale retention (catalog `retention`, RetNet, Sun et al., 2023): per head
/// S_t = γ_h S_{t−1} + v_t k_tᵀ, o_t = S_t q_t with a fixed decay γ_h = 1 − 2^{−5−h}; q and k are rotated by
/// position (the paper's Θ) and k is scaled by D^{−1/2}; MSR(X) = (swish(X W_G) ⊙ GroupNorm_h(O)) W_O.
/// The paper's D-matrix row normalizations are left out: GroupNorm is scale invariant per head, so they only
/// matter for fp16 range (the paper says so), not in fp32.
public final class Retention: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        /// Value (and gate) head width as a multiple of the query/key head width (2 in the paper).
        public var valueFactor: Int
        /// Chunk length N of the training form.
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            valueFactor = r.int("value_factor", default: 2, "value head width as a multiple of the head width D", in: 1...8)
            chunk = r.int("chunk", default: 64, "chunk length N of the chunk-parallel training form", in: 1...4096)
        }
    }
    public static let info = ComponentInfo(
        id: "retention", summary: "RetNet multi-scale retention: fixed per-head decay, rotation, GroupNorm and swish gate",
        paper: "Retentive Network: A Successor to Transformer for Large Language Models (Sun et al., 2023)")

    /// Fused projection C → H·(2D + 2Dv): q, k, v and the gate.
    public let proj: Linear
    /// Output projection H·Dv → C.
    public let out: Linear
    /// Per-head GroupNorm.
    public let norm: HeadNorm
    public let heads: Int, headDim: Int, valueDim: Int
    let chunk: Int

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        heads = context.heads
        headDim = context.headDim
        valueDim = options.valueFactor * context.headDim
        chunk = options.chunk
        proj = Linear(context.dim, heads * (2 * headDim + 2 * valueDim), bias: false, rng: &rng,
                      weightInit: .normal(std: context.initStd))
        out = Linear(heads * valueDim, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        norm = HeadNorm(heads: heads, width: valueDim, rms: false)
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        let (h, d) = (context.heads, context.headDim)
        let dv = options.valueFactor * d
        return context.dim * h * (2 * d + 2 * dv) + h * dv * context.dim + HeadNorm.parameterCount(heads: h, width: dv, rms: false)
    }

    /// log γ_h for head h: γ_h = 1 − 2^{−5−h} (RetNet's multi-scale decays).
    public static func logDecays(heads: Int) -> [Float] {
        (0..<heads).map { Float(Foundation.log(1 - Foundation.pow(2.0, -5.0 - Double($0)))) }
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        recurrentCost(weights: parameterCount(options: options, context: context), heads: context.heads,
                      keyDim: context.headDim, valueDim: options.valueFactor * context.headDim, chunk: options.chunk,
                      keyWise: false, context: context)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let offset = cache?.length ?? context.offset
        let p = proj(x).split(axis: 2, sizes: [heads * headDim, heads * headDim, heads * valueDim, heads * valueDim])
        let q = rotary(splitHeads(p[0], heads: heads), offset: offset)
        let k = rotary(splitHeads(p[1], heads: heads), offset: offset) * (1 / Float(headDim).squareRoot())
        let decay = Tensor(Retention.logDecays(heads: heads), shape: [1, heads, 1]).expanded(to: [b, heads, t])
        let inputs = RecurrenceInputs(q: q, k: k, v: splitHeads(p[2], heads: heads), decay: .scalar(decay))
        let o = runRecurrence(inputs, chunk: chunk, cache: cache)
        if cache == nil { context.probes?.recordMixing(layer: context.layer, MixingCapture(inputs, output: o)) }
        let y = norm(headsLast(o)).reshaped([b, t, heads * valueDim])
        return out(p[3].silu() * y)
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}

/// Rotary position rotation (RetNet's Θ, xPos without its length-extrapolation scale) of x [B, H, T, D] at
/// positions offset..<offset+T: pairs (x_i, x_{i+D/2}) turn by angle n·θ_i, θ_i = 10000^{−2i/D}. An odd D
/// is left unrotated.
private func rotary(_ x: Tensor, offset: Int) -> Tensor {
    let (t, d) = (x.shape[2], x.shape[3])
    let half = d / 2
    guard half > 0, d % 2 == 0 else { return x }
    var cosines = [Float](repeating: 1, count: t * d), sines = [Float](repeating: 0, count: t * d)
    for p in 0..<t {
        for i in 0..<half {
            let angle = Double(offset + p) * pow(10000, -2 * Double(i) / Double(d))
            let (c, s) = (Float(cos(angle)), Float(sin(angle)))
            cosines[p * d + i] = c; cosines[p * d + half + i] = c
            sines[p * d + i] = -s; sines[p * d + half + i] = s                       // rotate-half signs
        }
    }
    let parts = x.split(axis: 3, sizes: [half, half])
    let swapped = Tensor.concat([parts[1], parts[0]], axis: 3)
    return x * Tensor(cosines, shape: [t, d]) + swapped * Tensor(sines, shape: [t, d])
}
