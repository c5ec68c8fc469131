import CStrataKernels

/// Sizes of one attention call. Layouts (row-major, contiguous):
/// q, dQ: [B, H, T, D]; k, dK: [B, K, S, D]; v, dV: [B, K, S, Dv]; out, dOut: [B, H, T, Dv]; lse: [B, H, T].
/// H % K == 0: query head h uses kv head h / (H / K) (MHA when K == H, MQA when K == 1).
public struct AttentionShape: Sendable, Equatable {
    public var batch: Int, heads: Int, kvHeads: Int, queries: Int, keys: Int, headDim: Int, valueDim: Int

    public init(batch: Int, heads: Int, kvHeads: Int, queries: Int, keys: Int, headDim: Int, valueDim: Int? = nil) {
        self.batch = batch; self.heads = heads; self.kvHeads = kvHeads
        self.queries = queries; self.keys = keys; self.headDim = headDim; self.valueDim = valueDim ?? headDim
    }

    /// Elements of q and dQ: B·H·T·D.
    public var queryCount: Int { batch * heads * queries * headDim }
    /// Elements of k and dK: B·K·S·D.
    public var keyCount: Int { batch * kvHeads * keys * headDim }
    /// Elements of v and dV: B·K·S·Dv.
    public var valueCount: Int { batch * kvHeads * keys * valueDim }
    /// Elements of out and dOut: B·H·T·Dv.
    public var outputCount: Int { batch * heads * queries * valueDim }
    /// Elements of lse: B·H·T.
    public var lseCount: Int { batch * heads * queries }

    /// Stops with a message naming `kernel` and the sizes at fault unless the shape is usable.
    func validate(_ kernel: String) {
        precondition(batch >= 0 && queries >= 0 && keys >= 0,
                     "\(kernel): batch B=\(batch), queries T=\(queries), keys S=\(keys) must be >= 0")
        precondition(headDim >= 1 && valueDim >= 1,
                     "\(kernel): head width D=\(headDim) and value width Dv=\(valueDim) must be >= 1")
        precondition(heads >= 1 && kvHeads >= 1 && heads % kvHeads == 0,
                     "\(kernel): query heads H=\(heads) must be a positive multiple of kv heads K=\(kvHeads)")
    }
}

/// Optional additive mask, broadcast over batch and heads by strides: element (b, h, t, s) is at
/// pointer[b*batchStride + h*headStride + t*rowStride + s]. A [T,S] mask has batchStride = headStride = 0.
public struct AttentionMask {
    public var pointer: UnsafePointer<Float>
    public var batchStride: Int
    public var headStride: Int
    public var rowStride: Int

    public init(pointer: UnsafePointer<Float>, batchStride: Int, headStride: Int, rowStride: Int) {
        self.pointer = pointer; self.batchStride = batchStride; self.headStride = headStride
        self.rowStride = rowStride
    }

    /// The mask value for (b, h, t, s).
    @inline(__always)
    public func value(_ b: Int, _ h: Int, _ t: Int, _ s: Int) -> Float {
        pointer[b * batchStride + h * headStride + t * rowStride + s]
    }
}

extension VectorISA {
    /// The C enum value for this ISA (NEON runs the portable C, which the compiler vectorizes for NEON).
    var attentionISA: strata_isa {
        switch self {
        case .avx512: return STRATA_ISA_AVX512
        case .avx2: return STRATA_ISA_AVX2
        case .neon: return STRATA_ISA_NEON
        case .portable: return STRATA_ISA_PORTABLE
        }
    }

    /// Whether kernels for this ISA may run on this CPU.
    package var isSupported: Bool {
        switch self {
        case .portable: return true
        case .avx2: return VectorISA.detected == .avx2 || VectorISA.detected == .avx512
        case .avx512, .neon: return VectorISA.detected == self
        }
    }

    /// The ISAs whose attention kernels can run here, for tests that compare them all.
    package static var runnable: [VectorISA] { allCases.filter(\.isSupported) }
}

private func attentionProblem(_ shape: AttentionShape, mask: AttentionMask?, causal: Bool, scale: Float,
                              kernel: String) -> strata_attention_problem {
    shape.validate(kernel)
    if let mask {
        precondition(mask.batchStride >= 0 && mask.headStride >= 0 && mask.rowStride >= 0,
                     "\(kernel): mask strides (batch \(mask.batchStride), head \(mask.headStride), " +
                     "row \(mask.rowStride)) must be >= 0")
    }
    return strata_attention_problem(
        batch: shape.batch, heads: shape.heads, kv_heads: shape.kvHeads, queries: shape.queries,
        keys: shape.keys, head_dim: shape.headDim, value_dim: shape.valueDim, scale: scale,
        causal: causal ? 1 : 0, mask: mask?.pointer, mask_batch_stride: mask?.batchStride ?? 0,
        mask_head_stride: mask?.headStride ?? 0, mask_row_stride: mask?.rowStride ?? 0)
}

/// out = softmax(scale · q kᵀ + mask [+ causal]) v, and lse = logsumexp of each score row (saved for backward).
/// Causal: query t sees key s iff s <= t + (S - T) (aligned to the end, so T = 1 against an S-long cache works).
/// A row with no visible key (all masked / -inf) gives out = 0, lse = -inf, and zero gradients — never NaN.
public func attentionForward(_ shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                             v: UnsafePointer<Float>, mask: AttentionMask?, causal: Bool, scale: Float,
                             out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
    attentionForward(shape, q: q, k: k, v: v, mask: mask, causal: causal, scale: scale, out: out, lse: lse,
                     isa: .detected)
}

/// `attentionForward` on the kernels of a chosen ISA (tests run every ISA the CPU supports).
package func attentionForward(_ shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                              v: UnsafePointer<Float>, mask: AttentionMask?, causal: Bool, scale: Float,
                              out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                              isa: VectorISA) {
    precondition(isa.isSupported, "attentionForward: ISA \(isa) is not supported by this CPU")
    var problem = attentionProblem(shape, mask: mask, causal: causal, scale: scale, kernel: "attentionForward")
    let items = strata_attention_query_items(&problem)
    withUnsafePointer(to: &problem) { problem in
        parallelFor(items) { range in
            strata_attention_forward(problem, isa.attentionISA, q, k, v, out, lse, range.lowerBound, range.upperBound)
        }
    }
}

/// Gradients of the forward above given dOut; dQ, dK, dV are overwritten (not accumulated).
public func attentionBackward(_ shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                              v: UnsafePointer<Float>, mask: AttentionMask?, causal: Bool, scale: Float,
                              out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                              dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>,
                              dV: UnsafeMutablePointer<Float>) {
    attentionBackward(shape, q: q, k: k, v: v, mask: mask, causal: causal, scale: scale, out: out, lse: lse,
                      dOut: dOut, dQ: dQ, dK: dK, dV: dV, isa: .detected)
}

/// How the backward splits its work over threads; every choice gives the same bits.
package enum AttentionBackwardPath: Sendable, CaseIterable {
    /// Two passes: dK, dV over (b, kv head, key tile), then dQ over (b, h, query tile); 7 tile matmuls.
    case twoPass
    /// One pass over (b, kv head) writing dQ, dK, dV of the whole group; 5 tile matmuls.
    case fused

    /// Fused unless its B·K items would leave threads idle for over a quarter of the time.
    static func automatic(_ shape: AttentionShape) -> AttentionBackwardPath {
        let groups = shape.batch * shape.kvHeads, threads = Threads.current()
        let rounds = (groups + threads - 1) / threads
        return 4 * groups >= 3 * threads * rounds ? .fused : .twoPass
    }
}

/// `attentionBackward` on the kernels of a chosen ISA and work split (nil: the faster for this shape).
///
/// Neither split reduces across threads, so the result is deterministic without atomics. Scores are
/// recomputed from q, k and lse; the two-pass split recomputes them in both passes (7 tile matmuls
/// instead of 5), the price of enough parallel items when B·K is small. dQ sums over key tiles in
/// the same order in both, so the choice of split (which depends on the thread count) never shows.
package func attentionBackward(_ shape: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                               v: UnsafePointer<Float>, mask: AttentionMask?, causal: Bool, scale: Float,
                               out: UnsafePointer<Float>, lse: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
                               dQ: UnsafeMutablePointer<Float>, dK: UnsafeMutablePointer<Float>,
                               dV: UnsafeMutablePointer<Float>, isa: VectorISA, path: AttentionBackwardPath? = nil) {
    precondition(isa.isSupported, "attentionBackward: ISA \(isa) is not supported by this CPU")
    var problem = attentionProblem(shape, mask: mask, causal: causal, scale: scale, kernel: "attentionBackward")
    let rows = shape.lseCount
    let delta = UnsafeMutablePointer<Float>.allocate(capacity: max(rows, 1))  // [B, H, T]
    defer { delta.deallocate() }
    let queryItems = strata_attention_query_items(&problem), keyItems = strata_attention_key_items(&problem)
    withUnsafePointer(to: &problem) { problem in
        parallelFor(rows, grain: 4096) { range in
            strata_attention_backward_delta(problem, out, dOut, delta, range.lowerBound, range.upperBound)
        }
        switch path ?? .automatic(shape) {
        case .fused:
            parallelFor(shape.batch * shape.kvHeads) { range in
                strata_attention_backward_fused(problem, isa.attentionISA, q, k, v, lse, dOut, delta, dQ, dK, dV,
                                                range.lowerBound, range.upperBound)
            }
        case .twoPass:
            parallelFor(keyItems) { range in
                strata_attention_backward_dkdv(problem, isa.attentionISA, q, k, v, lse, dOut, delta, dK, dV,
                                               range.lowerBound, range.upperBound)
            }
            parallelFor(queryItems) { range in
                strata_attention_backward_dq(problem, isa.attentionISA, q, k, v, lse, dOut, delta, dQ,
                                             range.lowerBound, range.upperBound)
            }
        }
    }
}

/// The attention kernels' vectorized exp for `isa`, elementwise (exposed so tests can bound its error).
package func attentionExp(_ x: [Float], isa: VectorISA) -> [Float] {
    precondition(isa.isSupported, "attentionExp: ISA \(isa) is not supported by this CPU")
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xs in
        y.withUnsafeMutableBufferPointer { ys in
            strata_attention_exp(isa.attentionISA, xs.baseAddress, ys.baseAddress, xs.count)
        }
    }
    return y
}
