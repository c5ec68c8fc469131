import Foundation
import StrataCore

/// Collects per-layer diagnostic statistics during a forward pass (catalog `probes`, `attention_entropy`).
/// Values recorded several times for the same (layer, name) are averaged. Recording never changes the
/// forward result: every statistic is computed on detached values, without gradient.
public final class ProbeRecorder {
    /// One statistic of one layer.
    public struct Row: Equatable, Sendable {
        public var layer: Int
        public var name: String
        public var value: Double
    }

    /// Whether attention mixers should compute attention entropy (costs a T×S score matrix per head).
    public var wantsAttention: Bool
    /// At most this many batch rows are used for attention entropy.
    public var attentionBatchLimit: Int
    /// Whether linear-time mixers should record their mixing captures (see `linearMixingCapture`).
    public var wantsMixingMatrices = false
    /// The recorded mixing captures, in forward order, with their block index.
    public internal(set) var mixingCaptures: [(layer: Int, capture: MixingCapture)] = []
    private var sums: [String: (layer: Int, name: String, sum: Double, count: Int)] = [:]
    private var order: [String] = []

    public init(wantsAttention: Bool = true, attentionBatchLimit: Int = 1) {
        self.wantsAttention = wantsAttention
        self.attentionBatchLimit = attentionBatchLimit
    }

    /// Adds one observation of `name` at `layer`.
    public func record(layer: Int, name: String, value: Double) {
        let key = "\(layer)/\(name)"
        if let e = sums[key] { sums[key] = (layer, name, e.sum + value, e.count + 1) }
        else { sums[key] = (layer, name, value, 1); order.append(key) }
    }

    /// Averaged statistics, sorted by layer then name.
    public var rows: [Row] {
        order.compactMap { sums[$0] }.map { Row(layer: $0.layer, name: $0.name, value: $0.sum / Double($0.count)) }
            .sorted { ($0.layer, $0.name) < ($1.layer, $1.name) }
    }

    /// The averaged value of `name` at `layer`, if recorded.
    public func value(layer: Int, name: String) -> Double? {
        sums["\(layer)/\(name)"].map { $0.sum / Double($0.count) }
    }

    /// Residual-stream statistics after a block: RMS, max |x|, and two excess kurtoses. `residual_kurtosis`
    /// pools every element of the tensor (one distribution over B·T·C values, so a few outlier channels show
    /// up as heavy tails); `residual_kurtosis_max_channel` is the catalog's `probe_kurtosis` / OSP metric: the
    /// excess kurtosis of each channel over the B·T tokens, maximized over channels.
    public func recordStream(layer: Int, _ x: Tensor) {
        let s = ProbeStatistics(x)
        record(layer: layer, name: "residual_rms", value: s.rms)
        record(layer: layer, name: "residual_kurtosis", value: s.excessKurtosis)
        record(layer: layer, name: "residual_kurtosis_max_channel", value: maxChannelExcessKurtosis(x))
        record(layer: layer, name: "residual_max_abs", value: s.maxAbs)
    }

    /// Statistics of one block call: the stream after it (`recordStream`) and the depth diagnostics that need
    /// the block's input too (catalog `probe_angular_distance`): `angular_distance`, the mean over tokens of
    /// arccos(cos(x_t, y_t))/π ∈ [0, 1] (0: the block leaves every token's direction unchanged), and
    /// `cosine_distance`, the mean of 1 − cos (the catalog's wording of the same diagnostic).
    public func recordBlock(layer: Int, input x: Tensor, output y: Tensor) {
        recordStream(layer: layer, y)
        if let d = tokenAngularDistances(x, y) {
            record(layer: layer, name: "angular_distance", value: d.angular)
            record(layer: layer, name: "cosine_distance", value: d.cosine)
        }
    }

    /// Channel-mixer output statistics: excess kurtosis (pooled and max over channels, as `recordStream`)
    /// and max |x|.
    public func recordChannelOutput(layer: Int, _ y: Tensor) {
        let s = ProbeStatistics(y)
        record(layer: layer, name: "ffn_out_kurtosis", value: s.excessKurtosis)
        record(layer: layer, name: "ffn_out_kurtosis_max_channel", value: maxChannelExcessKurtosis(y))
        record(layer: layer, name: "ffn_out_max_abs", value: s.maxAbs)
    }

    /// The threshold of `recordTanhSaturation`: tanh′(2) ≈ 0.07, so past |z| = 2 the bounded norm has
    /// flattened and passes almost no gradient (catalog `probe_tanh_saturation`, `bhyt` check).
    public static let tanhSaturationThreshold = 2.0

    /// Tanh saturation of a tanh-bounded norm (`dyt`, `bhyt`): the fraction of tanh inputs z with
    /// |z| > `tanhSaturationThreshold`, recorded as `tanh_saturation` (averaged over the block's norm sites).
    public func recordTanhSaturation(layer: Int, preActivation z: Tensor) {
        let v = z.detached().scalars
        guard !v.isEmpty else { return }
        let saturated = v.reduce(0) { $0 + (abs(Double($1)) > Self.tanhSaturationThreshold ? 1 : 0) }
        record(layer: layer, name: "tanh_saturation", value: Double(saturated) / Double(v.count))
    }

    /// FFN activation sparsity: the fraction of hidden activations that are not positive (for ReLU FFNs,
    /// exactly the fraction of zeros; catalog `probe_activation_sparsity`).
    public func recordActivationSparsity(layer: Int, hidden h: Tensor) {
        let values = h.detached().scalars
        guard !values.isEmpty else { return }
        let active = values.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
        record(layer: layer, name: "ffn_sparsity", value: 1 - Double(active) / Double(values.count))
    }

    /// Attention entropy per head from queries q [B, H, T, D] and keys k [B, K, S, D] of a softmax mixer
    /// (grouped heads read key head h / (H/K)), an optional additive mask broadcastable to [B, H, T, S], and
    /// the causal rule s ≤ t + S − T; the weights are recomputed here (the fused kernel keeps none). Records
    /// what `recordAttentionWeights` records.
    public func recordAttentionEntropy(layer: Int, q: Tensor, k: Tensor, mask: Tensor?, causal: Bool, scale: Float) {
        let w = softmaxAttentionWeights(q: q, k: k, mask: mask, causal: causal, scale: scale, batchLimit: attentionBatchLimit)
        recordAttentionWeights(layer: layer, w)
    }

    /// Attention probes from weights A [B, H, T, S] (first `attentionBatchLimit` batch rows), any normalizer:
    /// `attention_entropy.hN` per head and `attention_entropy` (their mean), −mean_t Σ_s p_ts log p_ts with
    /// p = A / Σ_s A per row (catalog `attention_entropy`: an entropy needs a distribution, and sigmoid,
    /// clipped or power weights do not sum to 1; all-zero rows are skipped); and `attention_row_cosine`, the
    /// mean over heads of the mean cosine between the rows of different queries (catalog
    /// `probe_attention_row_cosine`, ADL's over-focusing measure; 1 when every query attends alike).
    public func recordAttentionWeights(layer: Int, _ weights: Tensor) {
        let (b, h) = (weights.shape[0], weights.shape[1])
        let a = weights.detached().slice(axis: 0, 0..<min(b, attentionBatchLimit)).copy()
        let entropies = attentionRowEntropies(a)
        for (hi, e) in entropies.enumerated() { record(layer: layer, name: "attention_entropy.h\(hi)", value: e) }
        if h > 0 { record(layer: layer, name: "attention_entropy", value: entropies.reduce(0, +) / Double(h)) }
        let cosines = attentionRowCosines(a).compactMap { $0 }
        if !cosines.isEmpty {
            record(layer: layer, name: "attention_row_cosine", value: cosines.reduce(0, +) / Double(cosines.count))
        }
    }
}

/// Per-head attention entropy (nats) averaged over queries and the first `batchLimit` batch rows of a softmax
/// mixer's q [B, H, T, D] and k [B, K, S, D] (see `ProbeRecorder.recordAttentionEntropy`).
public func attentionEntropy(q: Tensor, k: Tensor, mask: Tensor?, causal: Bool, scale: Float, batchLimit: Int = 1) -> [Double] {
    attentionRowEntropies(softmaxAttentionWeights(q: q, k: k, mask: mask, causal: causal, scale: scale, batchLimit: batchLimit))
}

/// Softmax weights A [min(B, batchLimit), H, T, S] recomputed in double precision from q, k, mask and the
/// causal rule (the probe twin of the fused kernel, which never materializes A).
func softmaxAttentionWeights(q: Tensor, k: Tensor, mask: Tensor?, causal: Bool, scale: Float, batchLimit: Int) -> Tensor {
    let (b, h, t, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (kvh, s) = (k.shape[1], k.shape[2])
    let qs = q.detached().scalars, ks = k.detached().scalars
    let ms = mask.map { $0.detached().expanded(to: [b, h, t, s]).copy().scalars }
    let rows = min(b, batchLimit)
    var out = [Float](repeating: 0, count: rows * h * t * s)      // [rows, H, T, S]
    var scores = [Double](repeating: 0, count: s)
    for bi in 0..<rows {
        for hi in 0..<h {
            let kh = hi / (h / kvh)
            for ti in 0..<t {
                let visible = causal ? min(s, ti + s - t + 1) : s
                var mx = -Double.infinity
                for si in 0..<visible {
                    var dot: Float = 0
                    let qo = ((bi * h + hi) * t + ti) * d, ko = ((bi * kvh + kh) * s + si) * d
                    for j in 0..<d { dot += qs[qo + j] * ks[ko + j] }
                    var v = Double(dot * scale)
                    if let ms { v += Double(ms[((bi * h + hi) * t + ti) * s + si]) }
                    scores[si] = v
                    mx = max(mx, v)
                }
                guard mx > -Double.infinity else { continue }
                var z = 0.0
                for si in 0..<visible { z += exp(scores[si] - mx) }
                let base = ((bi * h + hi) * t + ti) * s
                for si in 0..<visible { out[base + si] = Float(exp(scores[si] - mx) / z) }
            }
        }
    }
    return Tensor(out, shape: [rows, h, t, s])
}

/// Per-head entropy −mean Σ_s p_ts log p_ts of weights A [B, H, T, S], each row normalized to p = A / Σ_s A
/// first; rows whose weights are all zero (nothing visible) do not count.
func attentionRowEntropies(_ weights: Tensor) -> [Double] {
    let (b, h, t, s) = (weights.shape[0], weights.shape[1], weights.shape[2], weights.shape[3])
    let a = weights.scalars
    var out = [Double](repeating: 0, count: h)
    for hi in 0..<h {
        var sum = 0.0, rows = 0
        for bi in 0..<b {
            for ti in 0..<t {
                let base = ((bi * h + hi) * t + ti) * s
                var z = 0.0
                for si in 0..<s { z += max(Double(a[base + si]), 0) }
                guard z > 0 else { continue }
                var e = 0.0
                for si in 0..<s { let p = max(Double(a[base + si]), 0) / z; if p > 0 { e -= p * log(p) } }
                sum += e
                rows += 1
            }
        }
        out[hi] = rows > 0 ? sum / Double(rows) : 0
    }
    return out
}

/// Per head, the mean cosine between the weight rows of different queries, over the batch rows of A [B, H, T, S]
/// (nil for a head with fewer than two non-zero rows in every batch row). Uses Σ_{i≠j} cos(a_i, a_j) =
/// ‖Σ_i â_i‖² − n for unit rows â_i, so it costs O(T·S), not O(T²·S).
func attentionRowCosines(_ weights: Tensor) -> [Double?] {
    let (b, h, t, s) = (weights.shape[0], weights.shape[1], weights.shape[2], weights.shape[3])
    let a = weights.scalars
    return (0..<h).map { hi -> Double? in
        var sum = 0.0, count = 0
        for bi in 0..<b {
            var total = [Double](repeating: 0, count: s)
            var n = 0
            for ti in 0..<t {
                let base = ((bi * h + hi) * t + ti) * s
                var norm = 0.0
                for si in 0..<s { norm += Double(a[base + si]) * Double(a[base + si]) }
                guard norm > 0 else { continue }
                let inv = 1 / norm.squareRoot()
                for si in 0..<s { total[si] += Double(a[base + si]) * inv }
                n += 1
            }
            guard n >= 2 else { continue }
            let sq = total.reduce(0) { $0 + $1 * $1 }
            sum += (sq - Double(n)) / Double(n * (n - 1))
            count += 1
        }
        return count > 0 ? sum / Double(count) : nil
    }
}

/// Excess kurtosis of each channel (last axis) of x [..., C] over all other positions, maximized over channels
/// (catalog `probe_kurtosis`, OSP's per-channel metric). Channels with zero variance count as 0.
public func maxChannelExcessKurtosis(_ x: Tensor) -> Double {
    perChannelExcessKurtosis(x).max() ?? 0
}

/// Excess kurtosis E[(x−μ)⁴]/σ⁴ − 3 of each channel of x [..., C] over the other positions, in double precision.
public func perChannelExcessKurtosis(_ x: Tensor) -> [Double] {
    let v = x.detached().scalars
    let c = x.shape.last ?? 0
    guard c > 0, !v.isEmpty else { return [] }
    let n = v.count / c
    var mean = [Double](repeating: 0, count: c)
    for i in 0..<n { for j in 0..<c { mean[j] += Double(v[i * c + j]) } }
    for j in 0..<c { mean[j] /= Double(n) }
    var m2 = [Double](repeating: 0, count: c), m4 = [Double](repeating: 0, count: c)
    for i in 0..<n {
        for j in 0..<c { let d = Double(v[i * c + j]) - mean[j]; let d2 = d * d; m2[j] += d2; m4[j] += d2 * d2 }
    }
    return (0..<c).map { j in
        let variance = m2[j] / Double(n)
        return variance > 0 ? (m4[j] / Double(n)) / (variance * variance) - 3 : 0
    }
}

/// Per token of x, y [..., C]: the mean over tokens of arccos(cos(x_t, y_t))/π and of 1 − cos(x_t, y_t); tokens
/// where either vector is zero are skipped (nil when none is left).
func tokenAngularDistances(_ x: Tensor, _ y: Tensor) -> (angular: Double, cosine: Double)? {
    guard x.shape == y.shape, let c = x.shape.last, c > 0 else { return nil }
    let xs = x.detached().scalars, ys = y.detached().scalars
    var angular = 0.0, cosine = 0.0, tokens = 0
    for i in 0..<(xs.count / c) {
        var dot = 0.0, nx = 0.0, ny = 0.0
        for j in 0..<c {
            let a = Double(xs[i * c + j]), b = Double(ys[i * c + j])
            dot += a * b; nx += a * a; ny += b * b
        }
        guard nx > 0, ny > 0 else { continue }
        let cos = min(1, max(-1, dot / (nx * ny).squareRoot()))
        angular += acos(cos) / Double.pi
        cosine += 1 - cos
        tokens += 1
    }
    return tokens > 0 ? (angular / Double(tokens), cosine / Double(tokens)) : nil
}

/// Moments of a tensor's elements, in double precision.
public struct ProbeStatistics {
    public var rms: Double, mean: Double, variance: Double, excessKurtosis: Double, maxAbs: Double

    public init(_ x: Tensor) {
        let v = x.detached().scalars
        let n = Double(max(v.count, 1))
        var sum = 0.0, sq = 0.0, mx = 0.0
        for e in v { let d = Double(e); sum += d; sq += d * d; mx = max(mx, abs(d)) }
        mean = sum / n
        rms = (sq / n).squareRoot()
        var m2 = 0.0, m4 = 0.0
        for e in v { let c = Double(e) - mean; let c2 = c * c; m2 += c2; m4 += c2 * c2 }
        variance = m2 / n
        excessKurtosis = variance > 0 ? (m4 / n) / (variance * variance) - 3 : 0
        maxAbs = mx
    }
}

