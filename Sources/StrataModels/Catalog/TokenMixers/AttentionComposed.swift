import Foundation
import StrataCore

/// How attention weights are formed from the scores z = Q Kᵀ/√D (+ additive bias/padding) of one query row.
public enum AttentionNormalizer: Sendable, Equatable {
    /// softmax(z) (the fused kernel in mixers; `composedAttention` is its slow twin).
    case softmax
    /// σ(z + b) elementwise, no row normalization (sigmoid attention).
    case sigmoid(bias: SigmoidBias)
    /// clip((ζ − γ)·softmax(z) + γ, 0, 1) (clipped softmax).
    case clipped(zeta: Float, gamma: Float)
    /// w = s^p · e^{bias}, A = w / (Σ w + n·ε) with n the visible keys of the row (power-softmax).
    case power(p: Int, epsilon: Float)
    /// softmax over the k largest logits of the row; the rest get weight 0 (top-k attention).
    case topK(Int)
}

/// The bias b of sigmoid attention.
public enum SigmoidBias: Sendable, Equatable {
    /// The same b for every row (−log n, or 0).
    case constant(Float)
    /// b = −log(visible, unpadded keys of the row): row sums ≈ 1 at zero logits under a causal mask too (not the
    /// paper's default).
    case logVisible
}

/// Which keys each query may see: [T, S] of 1 (visible) / 0, for T queries ending at key S − 1 (query t sits at
/// key index i = S − T + t). Causal: s ≤ i. Window w: causal s > i − w; bidirectional |s − i| < w. Nil when every
/// key is visible.
public func attentionVisibility(queries t: Int, keys s: Int, causal: Bool, window: Int?) -> Tensor? {
    guard causal || window != nil else { return nil }
    var v = [Float](repeating: 0, count: t * s)
    for ti in 0..<t {
        let i = s - t + ti
        for si in 0..<s {
            var ok = !causal || si <= i
            if let w = window { ok = ok && (causal ? si > i - w : abs(si - i) < w) }
            v[ti * s + si] = ok ? 1 : 0
        }
    }
    return Tensor(v, shape: [t, s])
}

/// The band |s − i| < w of a sliding window as an additive mask [T, S] (0 inside, −1e30 outside) for the fused
/// kernel, whose own `causal` flag then removes s > i (leaving i − w < s ≤ i). A large finite value rather than −∞
/// keeps a tile that is wholly outside the band from producing NaN in an online softmax.
package func windowBandMask(queries t: Int, keys s: Int, window: Int) -> Tensor {
    attentionVisibility(queries: t, keys: s, causal: false, window: window)!.map { $0 == 0 ? -1e30 : 0 }
}

/// Attention with the weights materialized, from composed differentiable ops: the reference form of every
/// normalizer (and the only form of the non-softmax ones).
///
/// - q [B, H, T, D]; k [B, K, S, D]; v [B, K, S, Dv], H a multiple of K (query head h reads key head h / (H/K)).
/// - mask: additive bias/padding broadcastable to [B, H, T, S] (no gradient); power-softmax uses it as the
///   multiplicative factor e^{mask}, which is what an additive logit bias means for softmax.
/// - visible: [T, S] from `attentionVisibility`; invisible keys get exactly zero weight for every normalizer
///   (selected with `where`, never through −∞ arithmetic in σ or a power).
/// Returns the output [B, H, T, Dv] and the weights A [B, H, T, S].
public func composedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor?, visible: Tensor?,
                              normalizer: AttentionNormalizer, scale: Float? = nil) -> (output: Tensor, weights: Tensor) {
    let (b, h, t, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (kvh, s, dv) = (k.shape[1], k.shape[2], v.shape[3])
    // Internal invariant for mixers (their head layout is validated by `attentionIssues`); a check for direct callers.
    guard kvh > 0, h % kvh == 0, k.shape[0] == b, k.shape[3] == d, v.shape[1] == kvh, v.shape[2] == s else {
        shapeError("composedAttention", "incompatible q \(q.shape), k \(k.shape), v \(v.shape) (need equal B, D, S and H a multiple of K)")
    }
    let g = h / kvh
    let scale = scale ?? 1 / Float(d).squareRoot()
    // Grouped heads: the G query heads of one key head become extra rows of one batched matmul.
    let raw = q.reshaped([b, kvh, g * t, d]).matmul(k, transposeB: true).reshaped([b, h, t, s]) * scale
    let hidden = visible.map { $0.map { 1 - $0 } }
    func biased(_ z: Tensor) -> Tensor { mask.map { z + $0 } ?? z }
    func softmaxWeights(_ z: Tensor) -> Tensor { (hidden.map { z.maskedFill($0, -.infinity) } ?? z).softmax(axis: -1) }
    func zeroHidden(_ a: Tensor) -> Tensor { hidden.map { a.maskedFill($0, 0) } ?? a }
    // Keys a row really attends to: visible, and not dropped by an additive mask (padding is −1e9 or −∞; a
    // positional bias stays far above −1e8). [.., T, 1]
    func visibleCount() -> Tensor {
        let structural = visible ?? Tensor.ones([t, s])
        let kept = mask.map { structural * $0.map { $0 <= -1e8 ? 0 : 1 } } ?? structural
        return kept.sum(axis: -1, keepDims: true)
    }

    let a: Tensor
    switch normalizer {
    case .softmax:
        a = softmaxWeights(biased(raw))
    case .clipped(let zeta, let gamma):
        a = (softmaxWeights(biased(raw)) * (zeta - gamma) + gamma).clamp(min: 0, max: 1)
    case .topK(let keep):
        let z = biased(raw)
        let drop = topKDropMask(z, visible: visible, keep: keep)
        a = z.maskedFill(drop, -.infinity).softmax(axis: -1)
    case .sigmoid(let bias):
        let bt: Tensor
        switch bias {
        case .constant(let c): bt = Tensor(scalar: c)
        case .logVisible: bt = visibleCount().log() * -1
        }
        a = zeroHidden((biased(raw) + bt).sigmoid())
    case .power(let p, let epsilon):
        var w = raw.pow(Float(p))
        if let mask { w = w * mask.exp() }
        w = zeroHidden(w)
        var denom = w.sum(axis: -1, keepDims: true)
        if epsilon > 0 { denom = denom + visibleCount() * epsilon }
        // The tiny floor only matters for an all-zero row (every visible score exactly 0), which would be 0/0.
        a = w / (denom + 1e-30)
    }
    let out = a.reshaped([b, kvh, g * t, s]).matmul(v).reshaped([b, h, t, dv])
    return (out, a)
}

/// 1 where a logit is outside the `keep` largest visible logits of its row (ties with the k-th are kept), or
/// invisible; computed on values, so no gradient flows through the selection.
func topKDropMask(_ z: Tensor, visible: Tensor?, keep: Int) -> Tensor {
    let shape = z.shape
    let (t, s) = (shape[shape.count - 2], shape[shape.count - 1])
    let zs = z.detached().scalars
    let vis = visible?.scalars
    var drop = [Float](repeating: 0, count: zs.count)
    var row = [Float]()
    row.reserveCapacity(s)
    for r in 0..<(zs.count / max(s, 1)) {
        let ti = r % t, base = r * s
        row.removeAll(keepingCapacity: true)
        for si in 0..<s where vis.map({ $0[ti * s + si] != 0 }) ?? true { row.append(zs[base + si]) }
        let threshold = row.count > keep ? row.sorted(by: >)[keep - 1] : -Float.infinity
        for si in 0..<s {
            let isVisible = vis.map { $0[ti * s + si] != 0 } ?? true
            if !isVisible || zs[base + si] < threshold { drop[base + si] = 1 }
        }
    }
    return Tensor(drop, shape: shape)
}
