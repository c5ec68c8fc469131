import StrataKernels

/// Fused scaled-dot-product attention: softmax(scale · q kᵀ + mask) v, tiled with an online softmax, so
/// no T×S matrix is ever stored (the backward recomputes scores from the saved log-sum-exp).
///
/// - q: [B, H, T, D]; k: [B, K, S, D]; v: [B, K, S, Dv] with H a multiple of K (grouped-query heads share
///   a key/value head; K == 1 is multi-query).
/// - mask: optional additive mask broadcastable to [B, H, T, S] from shape [T, S] or [B|1, H|1, T, S]
///   (no gradient flows into it).
/// - causal: query t sees keys s ≤ t + S − T (aligned to the end, as for decoding against a cache).
/// - scale: defaults to 1/√D.
public func scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor? = nil,
                                      causal: Bool = false, scale: Float? = nil) -> Tensor {
    let op = "scaledDotProductAttention"
    guard q.rank == 4, k.rank == 4, v.rank == 4 else {
        shapeError(op, "q, k, v must be [B, H, T, D], [B, K, S, D], [B, K, S, Dv]; got \(q.shape), \(k.shape), \(v.shape)")
    }
    let (b, h, t, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (kvh, s) = (k.shape[1], k.shape[2])
    guard k.shape[0] == b, v.shape[0] == b, k.shape[3] == d, v.shape[1] == kvh, v.shape[2] == s,
          kvh > 0, h % kvh == 0 else {
        shapeError(op, "incompatible q \(q.shape), k \(k.shape), v \(v.shape) (need equal B, D, S and H a multiple of K)")
    }
    let dv = v.shape[3]
    let shape = AttentionShape(batch: b, heads: h, kvHeads: kvh, queries: t, keys: s, headDim: d, valueDim: dv)
    let maskStrides = mask.map { attentionMaskStrides($0, b: b, h: h, t: t, s: s) }
    let scale = scale ?? 1 / Float(d).squareRoot()
    let out = Tensor(uninitialized: [b, h, t, dv]), lse = Tensor(uninitialized: [b, h, t])
    func kernelMask() -> AttentionMask? {
        guard let mask, let st = maskStrides else { return nil }
        return AttentionMask(pointer: mask.pointer, batchStride: st.0, headStride: st.1, rowStride: st.2)
    }
    attentionForward(shape, q: q.pointer, k: k.pointer, v: v.pointer, mask: kernelMask(), causal: causal,
                     scale: scale, out: out.pointer, lse: lse.pointer)
    return Tensor.record("attention", out, [q, k, v]) { g in
        let dq = Tensor(uninitialized: q.shape), dk = Tensor(uninitialized: k.shape), dvT = Tensor(uninitialized: v.shape)
        attentionBackward(shape, q: q.pointer, k: k.pointer, v: v.pointer, mask: kernelMask(), causal: causal,
                          scale: scale, out: out.pointer, lse: lse.pointer, dOut: g.pointer,
                          dQ: dq.pointer, dK: dk.pointer, dV: dvT.pointer)
        return [dq, dk, dvT]
    }
}

/// (batch, head, row) strides of an additive mask of shape [T, S] or [B|1, H|1, T, S].
private func attentionMaskStrides(_ mask: Tensor, b: Int, h: Int, t: Int, s: Int) -> (Int, Int, Int) {
    let ms = mask.shape
    if ms == [t, s] { return (0, 0, s) }
    if ms.count == 4, ms[2] == t, ms[3] == s, ms[0] == 1 || ms[0] == b, ms[1] == 1 || ms[1] == h {
        return (ms[0] == 1 ? 0 : ms[1] * t * s, ms[1] == 1 ? 0 : t * s, s)
    }
    shapeError("scaledDotProductAttention", "mask of shape \(ms) does not broadcast to [\(b), \(h), \(t), \(s)]; use [T, S] or [B|1, H|1, T, S]")
}
