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

    /// Residual-stream statistics after a block: RMS, excess kurtosis and max |x|.
    public func recordStream(layer: Int, _ x: Tensor) {
        let s = ProbeStatistics(x)
        record(layer: layer, name: "residual_rms", value: s.rms)
        record(layer: layer, name: "residual_kurtosis", value: s.excessKurtosis)
        record(layer: layer, name: "residual_max_abs", value: s.maxAbs)
    }

    /// Channel-mixer output statistics: excess kurtosis and max |x|.
    public func recordChannelOutput(layer: Int, _ y: Tensor) {
        let s = ProbeStatistics(y)
        record(layer: layer, name: "ffn_out_kurtosis", value: s.excessKurtosis)
        record(layer: layer, name: "ffn_out_max_abs", value: s.maxAbs)
    }

    /// FFN activation sparsity: the fraction of hidden activations that are not positive (for ReLU FFNs,
    /// exactly the fraction of zeros; catalog `probe_activation_sparsity`).
    public func recordActivationSparsity(layer: Int, hidden h: Tensor) {
        let values = h.detached().scalars
        guard !values.isEmpty else { return }
        let active = values.reduce(0) { $0 + ($1 > 0 ? 1 : 0) }
        record(layer: layer, name: "ffn_sparsity", value: 1 - Double(active) / Double(values.count))
    }

    /// Attention entropy per head, −mean_t Σ_s A_ts log A_ts, from queries q [B, H, T, D] and keys k [B, K, S, D]
    /// (grouped heads read key head h / (H/K)), an optional additive mask broadcastable to [B, H, T, S], and the
    /// causal rule s ≤ t + S − T. Records `attention_entropy.hN` per head and `attention_entropy` (their mean).
    public func recordAttentionEntropy(layer: Int, q: Tensor, k: Tensor, mask: Tensor?, causal: Bool, scale: Float) {
        let entropies = attentionEntropy(q: q, k: k, mask: mask, causal: causal, scale: scale,
                                         batchLimit: attentionBatchLimit)
        for (h, e) in entropies.enumerated() { record(layer: layer, name: "attention_entropy.h\(h)", value: e) }
        if !entropies.isEmpty {
            record(layer: layer, name: "attention_entropy", value: entropies.reduce(0, +) / Double(entropies.count))
        }
    }
}

/// Per-head attention entropy (nats) averaged over queries and the first `batchLimit` batch rows.
public func attentionEntropy(q: Tensor, k: Tensor, mask: Tensor?, causal: Bool, scale: Float, batchLimit: Int = 1) -> [Double] {
    let (b, h, t, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (kvh, s) = (k.shape[1], k.shape[2])
    let qs = q.detached().scalars, ks = k.detached().scalars
    let ms = mask.map { $0.detached().expanded(to: [b, h, t, s]).copy().scalars }
    let rows = min(b, batchLimit)
    var out = [Double](repeating: 0, count: h)
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
                var ent = 0.0
                for si in 0..<visible {
                    let p = exp(scores[si] - mx) / z
                    if p > 0 { ent -= p * log(p) }
                }
                out[hi] += ent / Double(t * rows)
            }
        }
    }
    return out
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

