import Foundation
import StrataCore

// The shared linear-recurrence engine of catalog section 3. Per head the state is S ∈ R^{Dv×Dk} and the
// output is o_t = S_t q_t (column vectors). Three forms of the same recurrence live here and the tests tie
// them together: `chunked` (training: intra-chunk masked matmuls plus inter-chunk state passing, linear in T,
// composed from differentiable ops), `step` (decoding: token by token over the state) and `reference`
// (plain loops over [Float], the slow twin).

/// How the state decays between steps, in log space (every entry ≤ 0).
public enum RecurrenceDecay {
    /// No decay: S_t = S_{t−1} + … (linear attention, DeltaNet).
    case none
    /// One decay per head and step, log a [B, H, T]: S_t = a_t·S_{t−1} + … (RetNet, Mamba-2, Gated DeltaNet).
    case scalar(Tensor)
    /// One decay per key channel, log α [B, H, T, Dk]: S_t = S_{t−1}·diag(α_t) + … (GLA, Mamba).
    case keyWise(Tensor)
}

/// The inputs of one multi-head linear recurrence over T steps. Without β the update is
/// S_t = decay_t(S_{t−1}) + v_t k_tᵀ; with β (the delta rule, scalar or no decay only) it is
/// S_t = a_t·S_{t−1}(I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ. Output o_t = S_t q_t.
public struct RecurrenceInputs {
    /// Queries [B, H, T, Dk].
    public var q: Tensor
    /// Keys [B, H, T, Dk].
    public var k: Tensor
    /// Values [B, H, T, Dv].
    public var v: Tensor
    /// State decay.
    public var decay: RecurrenceDecay
    /// Delta-rule write strength β [B, H, T] (nil: plain additive update).
    public var beta: Tensor?

    /// Bundles the inputs, checking their shapes.
    public init(q: Tensor, k: Tensor, v: Tensor, decay: RecurrenceDecay = .none, beta: Tensor? = nil) {
        self.q = q; self.k = k; self.v = v; self.decay = decay; self.beta = beta
        // Internal invariants: each mixer builds these tensors from its own projections, whatever the spec.
        guard q.rank == 4, q.shape == k.shape, v.rank == 4, Array(v.shape.prefix(3)) == Array(q.shape.prefix(3)) else {
            shapeError("linear recurrence", "q, k [B, H, T, Dk] and v [B, H, T, Dv] disagree: \(q.shape), \(k.shape), \(v.shape)")
        }
        let bht = Array(q.shape.prefix(3))
        if let beta, beta.shape != bht { shapeError("linear recurrence", "beta must be \(bht), got \(beta.shape)") }
        switch decay {
        case .none: break
        case .scalar(let a) where a.shape != bht:
            shapeError("linear recurrence", "scalar log-decay must be \(bht), got \(a.shape)")
        case .keyWise(let a) where a.shape != q.shape:
            shapeError("linear recurrence", "key-wise log-decay must be \(q.shape), got \(a.shape)")
        case .keyWise where beta != nil:
            shapeError("linear recurrence", "the delta rule takes a scalar decay or none, not a key-wise one")
        default: break
        }
    }

    /// (B, H, T, Dk, Dv).
    var dims: (b: Int, h: Int, t: Int, dk: Int, dv: Int) { (q.shape[0], q.shape[1], q.shape[2], q.shape[3], v.shape[3]) }
}

/// Namespace of the three forms of the recurrence.
public enum LinearRecurrence {
    /// Chunk-parallel form: the sequence is cut into chunks of `chunk` steps (the last one zero-padded, which
    /// leaves outputs and the final state unchanged: a padded step has k = v = 0, β = 0 and no decay). Inside a
    /// chunk, outputs come from masked matmuls with relative decays exp(g_t − g_s) (g the cumulative log-decay,
    /// exponents masked to ≤ 0 before exp, so nothing overflows); states pass between chunks by the recurrence.
    /// Returns o [B, H, T, Dv] and the final state [B, H, Dv, Dk]; `initial` continues a sequence.
    public static func chunked(_ x: RecurrenceInputs, chunk: Int, initial: Tensor? = nil) -> (output: Tensor, state: Tensor) {
        let d = x.dims
        // `chunk` is ≥ 1 by every mixer's option range; T ≥ 1 is the caller's (n = 0 would divide by zero below).
        guard chunk >= 1 else { shapeError("linear recurrence", "chunk length must be ≥ 1, got \(chunk)") }
        let n = min(chunk, d.t), nc = (d.t + n - 1) / n
        let s0 = initial ?? Tensor.zeros([d.b, d.h, d.dv, d.dk])
        let parts = ChunkedParts(x, n: n, chunks: nc)
        let (o, s) = x.beta == nil ? parts.gated(initial: s0) : parts.delta(initial: s0)
        return (o.reshaped([d.b, d.h, nc * n, d.dv]).slice(axis: 2, 0..<d.t), s)
    }

    /// Step form: one token at a time over the state, with tensor ops (decoding and short prefills).
    public static func step(_ x: RecurrenceInputs, initial: Tensor? = nil) -> (output: Tensor, state: Tensor) {
        let d = x.dims
        var s = initial ?? Tensor.zeros([d.b, d.h, d.dv, d.dk])
        var outs: [Tensor] = []
        for i in 0..<d.t {
            let at = i..<(i + 1)
            let q = x.q.slice(axis: 2, at), k = x.k.slice(axis: 2, at), v = x.v.slice(axis: 2, at)   // [B, H, 1, ·]
            switch x.decay {
            case .none: break
            case .scalar(let a): s = s * a.slice(axis: 2, at).exp().reshaped([d.b, d.h, 1, 1])
            case .keyWise(let a): s = s * a.slice(axis: 2, at).exp()                                   // decays key columns
            }
            if let beta = x.beta {
                // Delta rule on the decayed state: u = β(v − S k), S ← S + u kᵀ.
                let predicted = k.matmul(s, transposeB: true)                                           // (S k)ᵀ [B, H, 1, Dv]
                let u = (v - predicted) * beta.slice(axis: 2, at).reshaped([d.b, d.h, 1, 1])
                s = s + u.matmul(k, transposeA: true)
            } else {
                s = s + v.matmul(k, transposeA: true)                                                   // v kᵀ [B, H, Dv, Dk]
            }
            outs.append(q.matmul(s, transposeB: true))                                                  // (S q)ᵀ [B, H, 1, Dv]
        }
        return (Tensor.concat(outs, axis: 2), s)
    }

    /// The slow twin: the recurrence exactly as written, in plain loops over [Float] (no autograd).
    public static func reference(_ x: RecurrenceInputs, initial: Tensor? = nil) -> (output: Tensor, state: Tensor) {
        let (b, h, t, dk, dv) = x.dims
        let q = x.q.scalars, k = x.k.scalars, v = x.v.scalars, beta = x.beta?.scalars
        var logDecay: [Float]? = nil
        switch x.decay {
        case .none: break
        case .scalar(let a), .keyWise(let a): logDecay = a.scalars
        }
        var out = [Float](repeating: 0, count: b * h * t * dv)
        var states = initial?.scalars ?? [Float](repeating: 0, count: b * h * dv * dk)
        for bh in 0..<(b * h) {
            var s = Array(states[(bh * dv * dk)..<((bh + 1) * dv * dk)])                                   // S[i, j], i < Dv, j < Dk
            for ti in 0..<t {
                let row = bh * t + ti
                let kt = Array(k[(row * dk)..<((row + 1) * dk)]), qt = Array(q[(row * dk)..<((row + 1) * dk)])
                let vt = Array(v[(row * dv)..<((row + 1) * dv)])
                switch x.decay {
                case .none: break
                case .scalar:
                    let g = exp(logDecay![row])
                    for e in s.indices { s[e] *= g }
                case .keyWise:
                    for i in 0..<dv { for j in 0..<dk { s[i * dk + j] *= exp(logDecay![row * dk + j]) } }
                }
                var write = vt
                if let beta {
                    for i in 0..<dv {
                        var sk: Float = 0
                        for j in 0..<dk { sk += s[i * dk + j] * kt[j] }
                        write[i] = beta[row] * (vt[i] - sk)
                    }
                }
                for i in 0..<dv { for j in 0..<dk { s[i * dk + j] += write[i] * kt[j] } }
                for i in 0..<dv {
                    var o: Float = 0
                    for j in 0..<dk { o += s[i * dk + j] * qt[j] }
                    out[row * dv + i] = o
                }
            }
            states.replaceSubrange((bh * dv * dk)..<((bh + 1) * dv * dk), with: s)
        }
        return (Tensor(out, shape: [b, h, t, dv]), Tensor(states, shape: [b, h, dv, dk]))
    }
}

/// The per-chunk tensors of the chunked form, laid out [B, H, C, N, ·] (C chunks of N steps).
struct ChunkedParts {
    let b: Int, h: Int, nc: Int, n: Int, dk: Int, dv: Int
    let q: Tensor, k: Tensor, v: Tensor
    /// Cumulative log-decay inside each chunk: [B, H, C, N, 1] (scalar) or [B, H, C, N, Dk] (key-wise); nil: none.
    let g: Tensor?
    let keyWise: Bool
    let beta: Tensor?

    init(_ x: RecurrenceInputs, n: Int, chunks nc: Int) {
        let d = x.dims
        (b, h, self.nc, self.n, dk, dv) = (d.b, d.h, nc, n, d.dk, d.dv)
        let padded = nc * n
        func chunks(_ t: Tensor, _ width: Int) -> Tensor {
            padTime(t, to: padded).reshaped([d.b, d.h, nc, n, width])
        }
        q = chunks(x.q, d.dk); k = chunks(x.k, d.dk); v = chunks(x.v, d.dv)
        beta = x.beta.map { chunks($0.reshaped([d.b, d.h, d.t, 1]), 1) }
        switch x.decay {
        case .none: g = nil; keyWise = false
        case .scalar(let a): g = chunks(a.reshaped([d.b, d.h, d.t, 1]), 1).cumsum(axis: 3); keyWise = false
        case .keyWise(let a): g = chunks(a, d.dk).cumsum(axis: 3); keyWise = true
        }
    }

    /// Masks [N, N]: 1 where key s is visible to query t (s ≤ t, or s < t when strict), else 0.
    func lower(strict: Bool) -> Tensor {
        var m = [Float](repeating: 0, count: n * n)
        for t in 0..<n { for s in 0..<n where s < t || (!strict && s == t) { m[t * n + s] = 1 } }
        return Tensor(m, shape: [n, n])
    }

    /// Relative decays exp(g_t − g_s) for s ≤ t, 0 above the diagonal: [B, H, C, N, N] for a scalar decay.
    func scalarRelative(_ g: Tensor) -> Tensor {
        let diff = g.reshaped([b, h, nc, n, 1]) - g.reshaped([b, h, nc, 1, n])
        return diff.maskedFill(1 - lower(strict: false), -1e30).exp()
    }

    /// Intra-chunk scores A_ts = Σ_j q_t[j] k_s[j] exp(g_t[j] − g_s[j]) for s ≤ t, [B, H, C, N, N].
    func intraScores() -> Tensor {
        guard let g else { return q.matmul(k, transposeB: true) * lower(strict: false) }
        if !keyWise { return q.matmul(k, transposeB: true) * scalarRelative(g) }
        // Key-wise decays do not factor into one matmul without overflow risk (exp(−g_s) grows without
        // bound), so the chunk's [N, N, Dk] relative-decay tensor is formed explicitly; every exponent is ≤ 0.
        let diff = g.reshaped([b, h, nc, n, 1, dk]) - g.reshaped([b, h, nc, 1, n, dk])
        let rel = diff.maskedFill((1 - lower(strict: false)).reshaped([n, n, 1]), -1e30).exp()
        return (rel * q.reshaped([b, h, nc, n, 1, dk]) * k.reshaped([b, h, nc, 1, n, dk])).sum(axis: 5)
    }

    /// Queries scaled by the decay since the chunk start, keys by the decay until the chunk end, and the
    /// whole-chunk decay that multiplies the carried state ([B, H, C, 1, 1] or [B, H, C, 1, Dk]).
    func interFactors() -> (q: Tensor, k: Tensor, chunkDecay: Tensor?) {
        guard let g else { return (q, k, nil) }
        let last = g.slice(axis: 3, (n - 1)..<n)
        return (q * g.exp(), k * (last - g).exp(), last.exp())
    }

    /// The chunk's slice c of a [B, H, C, …] tensor, without the chunk axis.
    func at(_ x: Tensor, _ c: Int) -> Tensor {
        var shape = x.shape
        shape.remove(at: 2)
        return x.slice(axis: 2, c..<(c + 1)).reshaped(shape)
    }

    /// Additive (optionally decayed) updates: S ← decay·S + V_cᵀ K̃_c; o = intra + Q̃ Sᵀ.
    func gated(initial: Tensor) -> (Tensor, Tensor) {
        let intra = intraScores().matmul(v)                                         // [B, H, C, N, Dv]
        let (qi, ks, decay) = interFactors()
        let updates = v.matmul(ks, transposeA: true)                                // [B, H, C, Dv, Dk]
        var s = initial
        var states: [Tensor] = []
        for c in 0..<nc {
            states.append(s)
            if let decay { s = s * at(decay, c) }
            s = s + at(updates, c)
        }
        let inter = qi.matmul(Tensor.stack(states, axis: 2), transposeB: true)      // [B, H, C, N, Dv]
        return (intra + inter, s)
    }

    /// Delta rule in WY/UT form. With γ_t = exp(g_t) the decay since the chunk start, the writes
    /// u_t = β_t(v_t − a_t S_{t−1} k_t) inside a chunk solve (I + A) U = diag(β)(V − diag(γ) K S₀ᵀ) with
    /// A_ts = β_t (k_tᵀk_s) γ_t/γ_s for s < t (strictly lower). So U = U_T − W S₀ᵀ where [U_T | W] is one
    /// forward substitution of (I + A) against [β V | β γ K]; then O = diag(γ) Q S₀ᵀ + (Q Kᵀ ⊙ Γ) U and
    /// S ← γ_N S₀ + Uᵀ (K ⊙ γ_N/γ).
    func delta(initial: Tensor) -> (Tensor, Tensor) {
        guard let beta else { fatalError("delta form without beta") }
        let rel = g.map { scalarRelative($0) }                                      // Γ [B, H, C, N, N] or nil
        var a = k.matmul(k, transposeB: true) * beta * lower(strict: true)
        if let rel { a = a * rel }
        let gk = g.map { k * $0.exp() } ?? k
        let solved = forwardSubstitution(a, Tensor.concat([v * beta, gk * beta], axis: 4))
        let uw = solved.split(axis: 4, sizes: [dv, dk])                             // U_T [.., N, Dv], W [.., N, Dk]
        let scores = rel.map { q.matmul(k, transposeB: true) * $0 } ?? q.matmul(k, transposeB: true) * lower(strict: false)
        let (qi, ks, decay) = interFactors()
        var s = initial
        var states: [Tensor] = [], writes: [Tensor] = []
        for c in 0..<nc {
            states.append(s)
            let u = at(uw[0], c) - at(uw[1], c).matmul(s, transposeB: true)        // [B, H, N, Dv]
            writes.append(u)
            if let decay { s = s * at(decay, c) }
            s = s + u.matmul(at(ks, c), transposeA: true)
        }
        let o = scores.matmul(Tensor.stack(writes, axis: 2))
            + qi.matmul(Tensor.stack(states, axis: 2), transposeB: true)
        return (o, s)
    }
}

/// X = (I + A)⁻¹ R for A [.., N, N] strictly lower triangular and R [.., N, W] (the UT transform of the delta
/// rule), by block forward substitution over blocks of 16 rows: X_b = (I + A_bb)⁻¹ (R_b − Σ_{c<b} A_bc X_c).
/// Each diagonal block is nilpotent, so (I + A_bb)⁻¹ = (I − A_bb)(I + A_bb²)(I + A_bb⁴)(I + A_bb⁸): four batched
/// matmul steps. Row-by-row substitution needed N steps whose slices, concats and gradients each copied the
/// whole block (most of a DeltaNet training step); the product over all 64 rows at once lost accuracy (powers
/// up to A⁶³ cancel), which blocks of 16 keep within the 1e-4 agreement with the reference.
func forwardSubstitution(_ a: Tensor, _ r: Tensor) -> Tensor {
    let n = a.shape[a.rank - 2]
    guard n > 1 else { return r }
    let block = 16
    let starts = Array(stride(from: 0, to: n, by: block))
    var solved: [Tensor] = []
    for (index, lo) in starts.enumerated() {
        let hi = min(n, lo + block)
        let rows = a.slice(axis: -2, lo..<hi)
        var rhs = r.slice(axis: -2, lo..<hi)
        if index > 0 {
            rhs = rhs - rows.slice(axis: -1, 0..<lo).matmul(Tensor.concat(solved, axis: -2))
        }
        solved.append(nilpotentInverse(rows.slice(axis: -1, lo..<hi), times: rhs))
    }
    return solved.count == 1 ? solved[0] : Tensor.concat(solved, axis: -2)
}

/// (I + A)⁻¹ R for a strictly lower triangular A [.., M, M]: Σ_{j<M} (−A)ʲ R as a product of ⌈log₂ M⌉ factors
/// (I + (−A)^(2^j)), accumulated without materializing I.
private func nilpotentInverse(_ a: Tensor, times r: Tensor) -> Tensor {
    let m = a.shape[a.rank - 1]
    guard m > 1 else { return r }
    var power = -a                       // (−A)^(2^j)
    var inverse = power                  // Σ_{0<i<2^(j+1)} (−A)^i
    var covered = 2
    while covered < m {
        power = power.matmul(power)
        inverse = inverse + power + inverse.matmul(power)
        covered *= 2
    }
    return r + inverse.matmul(r)
}

/// Zero-pads axis 2 (time) of a [B, H, T, ·] tensor to `length` steps.
func padTime(_ x: Tensor, to length: Int) -> Tensor {
    let t = x.shape[2]
    guard length > t else { return x }
    var shape = x.shape
    shape[2] = length - t
    return Tensor.concat([x, Tensor.zeros(shape)], axis: 2)
}
