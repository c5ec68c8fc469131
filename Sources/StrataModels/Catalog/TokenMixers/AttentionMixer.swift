import StrataCore
import StrataNN

/// The shared body of every softmax-family mixer: fused q/k/v projection (grouped-query heads), optional QK-norm,
/// rotation by the positional scheme, KV cache, a normalizer, optional output gate and σReparam, output projection.
/// Each catalog id is a `final` subclass that only fixes the normalizer and its own options.
///
/// Softmax uses the fused kernel (no T×S buffer); the other normalizers materialize the weights with composed
/// ops (`composedAttention`). With a cache, x continues the cached sequence: the T queries sit at positions
/// offset..<offset+T and see keys s ≤ t + S − T (and the window), exactly as in the full forward.
public class AttentionMixer: Module {
    /// Fused projection C → (H + 2K)·D producing q, k and v.
    public let qkv: Linear
    /// Output projection H·D → C.
    public let out: Linear
    /// QK-norm of queries and of keys (nil when `qk_norm` is none).
    public let qNorm: QKNorm?, kNorm: QKNorm?
    /// Output gate (nil when `gate` is none).
    public let gate: AttentionGate?
    /// σReparam state of the q/k/v projection (three segments) and of the output projection.
    public let qkvReparam: SigmaReparam?, outReparam: SigmaReparam?
    /// Query heads H, key/value heads K, head width D.
    public let heads: Int, kvHeads: Int, headDim: Int
    /// Causal (decoder) or bidirectional.
    public let causal: Bool
    /// Sliding window w, or nil.
    public let window: Int?
    /// How scores become weights.
    public let normalizer: AttentionNormalizer
    let id: String

    init(id: String, attention o: AttentionOptions, normalizer: AttentionNormalizer, context: BuildContext,
         rng: inout RNG) {
        self.id = id
        heads = context.heads
        kvHeads = o.kvHeads ?? context.heads
        headDim = context.headDim
        causal = context.causal
        window = o.window
        self.normalizer = normalizer
        // Internal invariant: `attentionIssues` rejects these head layouts in `ModelSpec.validate()`, which every
        // path from a spec goes through; only a direct call with unchecked options can get here.
        guard kvHeads >= 1, kvHeads <= heads, heads % kvHeads == 0 else {
            shapeError(id, "heads (\(heads)) must be a multiple of kv_heads (\(kvHeads))")
        }
        let (c, d) = (context.dim, context.headDim)
        qkv = Linear(c, (heads + 2 * kvHeads) * d, bias: o.bias, rng: &rng,
                     weightInit: .normal(std: context.initStd), biasInit: .zeros)
        out = Linear(heads * d, c, bias: o.bias, rng: &rng,
                     weightInit: .normal(std: context.residualInitStd), biasInit: .zeros)
        qNorm = o.qkNorm == .none ? nil : QKNorm(o.qkNorm, headDim: d)
        kNorm = o.qkNorm == .none ? nil : QKNorm(o.qkNorm, headDim: d)
        gate = o.gate == .none ? nil : AttentionGate(o.gate, initialValue: o.gateInit, context: context, rng: &rng)
        qkvReparam = o.sigmaReparam ? SigmaReparam(segments: [heads * d, kvHeads * d, kvHeads * d], inputs: c, rng: &rng) : nil
        outReparam = o.sigmaReparam ? SigmaReparam(segments: [c], inputs: heads * d, rng: &rng) : nil
        super.init()
    }

    /// Constraints of the shared options against the model, checked by `ModelSpec.validate()` so that the
    /// constructor's head-layout guards are never reached from a spec: K ≤ H, H a multiple of K, and the `head`
    /// gate's split of the C-wide input into H slices.
    static func attentionIssues(_ o: AttentionOptions, context: BuildContext) -> [SpecIssue] {
        var issues: [SpecIssue] = []
        let h = context.heads
        if let k = o.kvHeads {
            if k > h {
                issues.append(SpecIssue(path: "kv_heads", message: "\(k) key/value heads exceed the model's \(h) query heads; use at most heads (\(h))"))
            } else if h % k != 0 {
                let divisors = (1...h).filter { h % $0 == 0 }.map(String.init).joined(separator: ", ")
                issues.append(SpecIssue(path: "kv_heads", message: "heads (\(h)) must be a multiple of kv_heads (\(k)); valid kv_heads: \(divisors)"))
            }
        }
        if o.gate == .head, context.dim % h != 0 {
            issues.append(SpecIssue(path: "gate", message: "gate \"head\" splits the input into heads: dim \(context.dim) must be a multiple of heads \(h); use gate \"all_heads\""))
        }
        return issues
    }

    /// Cost of the shared body per token: the projections' weights, plus QKᵀ and A·V over the keys a query sees
    /// at the context length (2·H·D FLOPs each per key; (T+1)/2 keys on average under a causal mask, at most the
    /// window). Normalizers other than softmax materialize the weights A [B, H, T, T] (with the scores, masks and
    /// their gradients, about 4 floats per entry); the fused softmax kernel keeps only per-row statistics. The
    /// decoding state is the KV cache, 2·K·D floats per cached token.
    static func attentionCost(_ o: AttentionOptions, normalizer: AttentionNormalizer, context: BuildContext) -> ComponentCost {
        let (h, d, t) = (Double(context.heads), Double(context.headDim), Double(context.contextLength))
        let k = Double(o.kvHeads ?? context.heads)
        var keys = context.causal ? (t + 1) / 2 : t
        if let w = o.window { keys = min(keys, Double(w)) }
        let weights = Double(attentionParameterCount(o, context: context))
        let cached = min(t, Double(o.window ?? context.contextLength))
        return ComponentCost(matmulWeights: weights, mixingFlops: 4 * h * d * keys,
                             activationsPerToken: (3 * h + 2 * k) * d + h,
                             quadraticPerSequence: normalizer == .softmax ? 0 : 4 * h * t * t,
                             statePerSequence: 2 * k * d * cached)
    }

    /// Parameter count of the shared body for `o` in `context`.
    static func attentionParameterCount(_ o: AttentionOptions, context: BuildContext) -> Int {
        let (c, h, d) = (context.dim, context.heads, context.headDim)
        let k = o.kvHeads ?? h
        let qkvOut = (h + 2 * k) * d
        var n = c * qkvOut + h * d * c + (o.bias ? qkvOut + c : 0)
        n += 2 * QKNorm.parameterCount(o.qkNorm, headDim: d)
        n += AttentionGate.parameterCount(o.gate, context: context)
        if o.sigmaReparam {
            n += SigmaReparam.parameterCount(segments: [h * d, k * d, k * d], inputs: c)
            n += SigmaReparam.parameterCount(segments: [c], inputs: h * d)
        }
        return n
    }

    /// q [B, H, T, D] and k, v [B, K, S, D] for x [B, T, C] at `offset`: projected, QK-normed, rotated, and (with
    /// a cache) appended to the cached keys and values.
    func attentionInputs(_ x: Tensor, offset: Int, positional: any PositionalScheme, cache: KVCache?) -> (Tensor, Tensor, Tensor) {
        let (b, t) = (x.shape[0], x.shape[1])
        let projected = qkvReparam.map { $0.apply(qkv, x) } ?? qkv(x)
        let parts = projected.reshaped([b, t, heads + 2 * kvHeads, headDim]).split(axis: 2, sizes: [heads, kvHeads, kvHeads])
        var q = parts[0].permuted([0, 2, 1, 3])                   // [B, H, T, D]
        var k = parts[1].permuted([0, 2, 1, 3])                   // [B, K, T, D]
        var v = parts[2].permuted([0, 2, 1, 3])                   // [B, K, T, D]
        if let qNorm, let kNorm { q = qNorm(q); k = kNorm(k) }
        q = positional.rotate(q, offset: offset)
        k = positional.rotate(k, offset: offset)
        if let cache { (k, v) = cache.append(k, v) }
        return (q, k, v)
    }

    /// The mixing matrix: attention weights A [B, H, T, T] this mixer applies to x [B, T, C] over the full sequence
    /// (materialized through `composedAttention`, also for softmax); the output is out(gate(A·V)).
    public func mixingMatrix(_ x: Tensor, context: MixerContext) -> Tensor {
        let (q, k, v) = attentionInputs(x, offset: context.offset, positional: context.positional, cache: nil)
        let t = x.shape[1]
        let mask = attentionMask(context: context, heads: heads, queries: t, keys: t)
        let visible = attentionVisibility(queries: t, keys: t, causal: causal, window: window)
        return composedAttention(q: q, k: k, v: v, mask: mask, visible: visible, normalizer: normalizer,
                                 scale: 1 / Float(headDim).squareRoot()).weights
    }

    /// x [B, T, C] → [B, T, C]; with a `KVCache`, x continues the cached sequence and the cache grows.
    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        if let cache, !(cache is KVCache) {   // API misuse only: caches come from this mixer's own makeCache
            shapeError(id, "expects a KVCache from its own makeCache, got \(type(of: cache))")
        }
        let offset = cache?.length ?? context.offset
        let (q, k, v) = attentionInputs(x, offset: offset, positional: context.positional, cache: cache as? KVCache)
        let s = k.shape[2]
        let mask = attentionMask(context: context, heads: heads, queries: t, keys: s)
        let scale = 1 / Float(headDim).squareRoot()
        let o: Tensor                                             // [B, H, T, D]
        if normalizer == .softmax {
            var full = mask
            if let w = window {
                let band = windowBandMask(queries: t, keys: s, window: w)
                full = full.map { $0 + band } ?? band
            }
            if let probes = context.probes, probes.wantsAttention {
                probes.recordAttentionEntropy(layer: context.layer, q: q, k: k, mask: full, causal: causal, scale: scale)
            }
            o = scaledDotProductAttention(q: q, k: k, v: v, mask: full, causal: causal, scale: scale)
        } else {
            let visible = attentionVisibility(queries: t, keys: s, causal: causal, window: window)
            let r = composedAttention(q: q, k: k, v: v, mask: mask, visible: visible, normalizer: normalizer, scale: scale)
            if let probes = context.probes, probes.wantsAttention {
                probes.recordAttentionWeights(layer: context.layer, r.weights)
            }
            o = r.output
        }
        var y = o.permuted([0, 2, 1, 3])                          // [B, T, H, D]
        if let gate { y = gate(y, input: x) }
        y = y.reshaped([b, t, heads * headDim])
        return outReparam.map { $0.apply(out, y) } ?? out(y)
    }

    /// An empty KV cache (keeping at most `window` entries when the mixer has a window).
    public func makeCache(batch: Int, capacity: Int) -> MixerCache { KVCache(window: window) }
}
