import StrataCore
import StrataNN

/// Linear attention (catalog `linear_attention`, Katharopoulos et al., 2020): S_t = S_{t−1} + v_t φ(k_t)ᵀ,
/// o_t = S_t φ(q_t), optionally divided by the normalizer z_tᵀφ(q_t) with z_t = Σ_{s≤t} φ(k_s). Encoders use the
/// bidirectional form O = φ(Q)(φ(K)ᵀV) ⊘ φ(Q)(φ(K)ᵀ1).
public final class LinearAttention: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        /// Feature map φ.
        public var featureMap: FeatureMap
        /// Divide by the normalizer z_tᵀφ(q_t).
        public var normalize: Bool
        /// Chunk length N of the training form.
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            featureMap = FeatureMap(rawValue: r.choice("feature_map", default: "elu+1", among: FeatureMap.names,
                                                       "feature map φ applied to queries and keys")) ?? .elu1
            normalize = r.bool("normalize", default: true, "divide by the normalizer z_tᵀφ(q_t), z_t = Σ φ(k_s)")
            chunk = r.int("chunk", default: 64, "chunk length N of the chunk-parallel training form", in: 1...4096)
        }
    }
    public static let info = ComponentInfo(
        id: "linear_attention", summary: "linear attention S_t = S_{t−1} + v φ(k)ᵀ with elu+1 | relu | identity features",
        paper: "Transformers are RNNs (Katharopoulos et al., 2020)")

    /// Fused projection C → 3·H·D producing q, k and v.
    public let qkv: Linear
    /// Output projection H·D → C.
    public let out: Linear
    public let heads: Int, headDim: Int
    public let options: Options
    let causal: Bool

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        heads = context.heads
        headDim = context.headDim
        causal = context.causal
        self.options = options
        qkv = Linear(context.dim, 3 * heads * headDim, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        out = Linear(heads * headDim, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        4 * context.dim * context.heads * context.headDim
    }

    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        recurrentCost(weights: parameterCount(options: options, context: context), heads: context.heads,
                      keyDim: context.headDim, valueDim: context.headDim, chunk: options.chunk, keyWise: false, context: context)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        let parts = splitHeads(qkv(x), heads: heads).split(axis: 3, sizes: [headDim, headDim, headDim])
        let q = options.featureMap.apply(parts[0]) * (1 / Float(headDim).squareRoot())
        let k = options.featureMap.apply(parts[1])
        let o = linearAttentionCore(q: q, k: k, v: parts[2], normalize: options.normalize, causal: causal,
                                    chunk: options.chunk, cache: cache, keyPadding: context.keyPadding, context: context)
        return out(headsLast(o).reshaped([b, t, heads * headDim]))
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}

/// Linear attention over feature-mapped q, k [B, H, T, Dk] and v [B, H, T, Dv] → o [B, H, T, Dv]. The normalizer
/// rides along as an extra value channel of ones (its state row is z_t), so every form computes it for free.
/// Non-causal (encoder) calls without a cache use the bidirectional form.
func linearAttentionCore(q: Tensor, k: Tensor, v: Tensor, normalize: Bool, causal: Bool, chunk: Int,
                         cache: MixerCache?, keyPadding: Tensor?, context: MixerContext? = nil) -> Tensor {
    guard causal || cache != nil else {
        let o = bidirectionalLinearAttention(q: q, k: k, v: v, normalize: normalize, keyPadding: keyPadding)
        if keyPadding == nil, let context {
            context.probes?.recordMixing(layer: context.layer,
                                         MixingCapture(q: q, k: k, values: v, normalizeRows: normalize, causal: false, output: o))
        }
        return o
    }
    let (b, h, t, dv) = (v.shape[0], v.shape[1], v.shape[2], v.shape[3])
    let values = normalize ? Tensor.concat([v, Tensor.ones([b, h, t, 1])], axis: 3) : v
    let raw = runRecurrence(RecurrenceInputs(q: q, k: k, v: values), chunk: chunk, cache: cache)
    let o = normalize ? normalized(raw, dv) : raw
    if cache == nil, let context {
        context.probes?.recordMixing(layer: context.layer, MixingCapture(q: q, k: k, values: v, normalizeRows: normalize, output: o))
    }
    return o
}

/// Bidirectional linear attention O = φ(Q)(φ(K)ᵀV) ⊘ φ(Q)(φ(K)ᵀ1) for feature-mapped q, k [B, H, T, Dk] and
/// v [B, H, T, Dv]; keys marked by the additive padding mask [B, 1, 1, T] (0 keep, −∞ or −1e9 drop) are zeroed.
public func bidirectionalLinearAttention(q: Tensor, k: Tensor, v: Tensor, normalize: Bool, keyPadding: Tensor?) -> Tensor {
    let (b, h, t, dv) = (v.shape[0], v.shape[1], v.shape[2], v.shape[3])
    let values = normalize ? Tensor.concat([v, Tensor.ones([b, h, t, 1])], axis: 3) : v
    let keep = keyPadding.map { $0.clamp(min: -80).exp().reshaped([b, 1, t, 1]) }       // 1 keep, ~0 padding
    let keys = keep.map { k * $0 } ?? k
    let o = q.matmul(values.matmul(keys, transposeA: true), transposeB: true)          // φ(Q)(Vᵀφ(K))ᵀ
    return normalize ? normalized(o, dv) : o
}

/// Splits o [.., Dv + 1] into numerator and normalizer and divides. The normalizer is a sum of products of
/// non-negative features for elu+1 and relu; eps keeps an all-zero ReLU row finite (its numerator is zero too).
private func normalized(_ o: Tensor, _ dv: Int) -> Tensor {
    let parts = o.split(axis: 3, sizes: [dv, 1])
    return parts[0] / (parts[1] + 1e-6)
}
