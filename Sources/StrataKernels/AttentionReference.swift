import Foundation

// Naive twins of the fused attention kernels: they materialize each head's full T×S probability matrix
// and compute in Double, so tests can tie the tiled, online-softmax kernels to the textbook formulas.

/// Inputs of the Double-precision reference: flat arrays in the layouts of `AttentionShape`.
package struct AttentionReferenceInputs {
    /// [B, H, T, D]
    package var q: [Double]
    /// [B, K, S, D]
    package var k: [Double]
    /// [B, K, S, Dv]
    package var v: [Double]
    /// Additive mask value for (b, h, t, s), or nil.
    package var mask: ((Int, Int, Int, Int) -> Double)?
    package var causal: Bool
    package var scale: Double

    package init(q: [Double], k: [Double], v: [Double], mask: ((Int, Int, Int, Int) -> Double)?,
                 causal: Bool, scale: Double) {
        self.q = q; self.k = k; self.v = v; self.mask = mask; self.causal = causal; self.scale = scale
    }
}

/// Row-major P [T, S] of one (b, h): softmax of the scores; an all-hidden row is all zeros.
/// Also returns lse [T] (-inf for an all-hidden row).
private func referenceProbabilities(_ s: AttentionShape, _ x: AttentionReferenceInputs, b: Int, h: Int)
    -> (p: [Double], lse: [Double]) {
    let (T, S, D) = (s.queries, s.keys, s.headDim)
    let kvh = h / (s.heads / s.kvHeads)
    let qBase = (b * s.heads + h) * T * D, kBase = (b * s.kvHeads + kvh) * S * D
    var p = [Double](repeating: 0, count: T * S), lse = [Double](repeating: -.infinity, count: T)
    for t in 0..<T {
        var rowMax = -Double.infinity
        for j in 0..<S {
            var score = -Double.infinity
            if !x.causal || j <= t + S - T {
                var dot = 0.0
                for d in 0..<D { dot += x.q[qBase + t * D + d] * x.k[kBase + j * D + d] }
                score = x.scale * dot + (x.mask?(b, h, t, j) ?? 0)
            }
            p[t * S + j] = score
            rowMax = max(rowMax, score)
        }
        guard rowMax > -.infinity else {
            for j in 0..<S { p[t * S + j] = 0 }
            continue
        }
        var sum = 0.0
        for j in 0..<S { p[t * S + j] = exp(p[t * S + j] - rowMax); sum += p[t * S + j] }
        for j in 0..<S { p[t * S + j] /= sum }
        lse[t] = rowMax + log(sum)
    }
    return (p, lse)
}

/// Double-precision reference forward: out [B, H, T, Dv] and lse [B, H, T].
package func attentionForwardReference(_ s: AttentionShape, _ x: AttentionReferenceInputs)
    -> (out: [Double], lse: [Double]) {
    s.validate("attentionForwardReference")
    let (T, S, Dv) = (s.queries, s.keys, s.valueDim)
    var out = [Double](repeating: 0, count: s.outputCount), lse = [Double](repeating: 0, count: s.lseCount)
    for b in 0..<s.batch {
        for h in 0..<s.heads {
            let bh = b * s.heads + h, vBase = (b * s.kvHeads + h / (s.heads / s.kvHeads)) * S * Dv
            let (p, rowLse) = referenceProbabilities(s, x, b: b, h: h)
            for t in 0..<T {
                lse[bh * T + t] = rowLse[t]
                for j in 0..<S where p[t * S + j] != 0 {
                    for e in 0..<Dv { out[(bh * T + t) * Dv + e] += p[t * S + j] * x.v[vBase + j * Dv + e] }
                }
            }
        }
    }
    return (out, lse)
}

/// Double-precision reference backward given dOut [B, H, T, Dv]: (dQ, dK, dV).
package func attentionBackwardReference(_ s: AttentionShape, _ x: AttentionReferenceInputs, dOut: [Double])
    -> (dQ: [Double], dK: [Double], dV: [Double]) {
    s.validate("attentionBackwardReference")
    let (T, S, D, Dv) = (s.queries, s.keys, s.headDim, s.valueDim)
    var dQ = [Double](repeating: 0, count: s.queryCount)
    var dK = [Double](repeating: 0, count: s.keyCount), dV = [Double](repeating: 0, count: s.valueCount)
    for b in 0..<s.batch {
        for h in 0..<s.heads {
            let bh = b * s.heads + h, bk = b * s.kvHeads + h / (s.heads / s.kvHeads)
            let (p, _) = referenceProbabilities(s, x, b: b, h: h)
            for t in 0..<T {
                let dot = (bh * T + t) * Dv
                // dP[t, j] = dO[t]·v[j]; dX = P ∘ (dP - Σ_j P dP)
                var dp = [Double](repeating: 0, count: S), delta = 0.0
                for j in 0..<S {
                    for e in 0..<Dv { dp[j] += dOut[dot + e] * x.v[(bk * S + j) * Dv + e] }
                    delta += p[t * S + j] * dp[j]
                }
                for j in 0..<S {
                    let pj = p[t * S + j], dx = pj * (dp[j] - delta) * x.scale
                    for e in 0..<Dv { dV[(bk * S + j) * Dv + e] += pj * dOut[dot + e] }
                    for d in 0..<D {
                        dQ[(bh * T + t) * D + d] += dx * x.k[(bk * S + j) * D + d]
                        dK[(bk * S + j) * D + d] += dx * x.q[(bh * T + t) * D + d]
                    }
                }
            }
        }
    }
    return (dQ, dK, dV)
}

private func doubles(_ p: UnsafePointer<Float>, _ n: Int) -> [Double] { (0..<n).map { Double(p[$0]) } }

private func store(_ values: [Double], _ p: UnsafeMutablePointer<Float>) {
    for i in values.indices { p[i] = Float(values[i]) }
}

private func referenceInputs(_ s: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                             v: UnsafePointer<Float>, mask: AttentionMask?, causal: Bool, scale: Float)
    -> AttentionReferenceInputs {
    let maskValue: ((Int, Int, Int, Int) -> Double)? = mask.map { m in { Double(m.value($0, $1, $2, $3)) } }
    return AttentionReferenceInputs(q: doubles(q, s.queryCount), k: doubles(k, s.keyCount),
                                    v: doubles(v, s.valueCount), mask: maskValue, causal: causal,
                                    scale: Double(scale))
}

/// Naive twin of `attentionForward`: same contract, full T×S matrix per head, Double arithmetic.
public func attentionForwardReference(_ shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                      v: UnsafePointer<Float>, mask: AttentionMask?, causal: Bool, scale: Float,
                                      out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
    let x = referenceInputs(shape, q: q, k: k, v: v, mask: mask, causal: causal, scale: scale)
    let result = attentionForwardReference(shape, x)
    store(result.out, out)
    store(result.lse, lse)
}

/// Naive twin of `attentionBackward`. It recomputes the probabilities from q, k (and mask) itself, so
/// `out` and `lse` are accepted for signature parity but not read.
public func attentionBackwardReference(_ shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                       v: UnsafePointer<Float>, mask: AttentionMask?, causal: Bool, scale: Float,
                                       out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
                                       dOut: UnsafePointer<Float>, dQ: UnsafeMutablePointer<Float>,
                                       dK: UnsafeMutablePointer<Float>, dV: UnsafeMutablePointer<Float>) {
    let x = referenceInputs(shape, q: q, k: k, v: v, mask: mask, causal: causal, scale: scale)
    let grads = attentionBackwardReference(shape, x, dOut: doubles(dOut, shape.outputCount))
    store(grads.dQ, dQ)
    store(grads.dK, dK)
    store(grads.dV, dV)
}
