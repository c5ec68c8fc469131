import Foundation
import StrataCore

// Materialized mixing matrices of the linear-time mixers (catalog §1 "Mixing matrix", `mamba2`, `mohawk`).
// A mixer linear in its values computes, per head, o = M·v with a T×T matrix M that depends on the input
// through q, k, the decays and β but not through v. The forward passes (chunked fast paths) record their
// recurrence inputs and outputs into a `ProbeRecorder` that asks for them; `MixingCapture.matrix()` then
// builds M in closed form with plain loops, independently of the chunked kernels, so the test
// "M·values == recorded output" checks the fast path against the formula.

/// The token-mixing part of one linear-time mixer call over a full sequence: `output` = `matrix()`·`values`
/// per head (within float32 rounding). Everything before (projections, convolutions, feature maps) and after
/// (head norms, output gates, the output projection) acts on each token separately and is not part of M.
public struct MixingCapture {
    /// Queries [B, H, T, Dk] (Mamba: C_t; feature-mapped and scaled as the recurrence sees them).
    public var q: Tensor
    /// Keys [B, H, T, Dk] (Mamba: B_t).
    public var k: Tensor
    /// What the matrix is applied to [B, H, T, Dv] (Mamba: the convolved input x_t, before the Δ_t scaling).
    public var values: Tensor
    /// The state decay of the recurrence.
    public var decay: RecurrenceDecay
    /// Delta-rule write strength β [B, H, T] (nil: additive update).
    public var beta: Tensor?
    /// A per-source factor [B, H, T] multiplying column s (Mamba's Δ_s discretization), nil for none.
    public var valueScale: Tensor?
    /// A per-head skip [H] added on the diagonal (Mamba's D), nil for none.
    public var skip: Tensor?
    /// Divide each row by its sum plus 1e-6 (linear attention's normalizer z_tᵀφ(q_t), as the forward does).
    public var normalizeRows: Bool
    /// Causal (s ≤ t) or bidirectional (linear attention in encoders; no decay there).
    public var causal: Bool
    /// The mixer's own result [B, H, T, Dv] from its fast path.
    public var output: Tensor

    public init(q: Tensor, k: Tensor, values: Tensor, decay: RecurrenceDecay = .none, beta: Tensor? = nil,
                valueScale: Tensor? = nil, skip: Tensor? = nil, normalizeRows: Bool = false, causal: Bool = true,
                output: Tensor) {
        self.q = q; self.k = k; self.values = values; self.decay = decay; self.beta = beta
        self.valueScale = valueScale; self.skip = skip; self.normalizeRows = normalizeRows; self.causal = causal
        self.output = output
    }

    /// M [B, H, T, T], M[t, s] the weight of source token s in the output of token t. Without β:
    /// M_ts = Σ_c q_tc k_sc Π_{j=s+1..t} a_jc (a scalar or per key channel, 1 without decay), s ≤ t. With β
    /// (S_t = a_t S_{t−1}(I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ): M_ts = β_s k_sᵀ A_{s+1}⋯A_t q_t with
    /// A_r = a_r(I − β_r k_r k_rᵀ), evaluated right to left from q_t. Then the value scale, the skip and the
    /// row normalizer. Double precision, O(T²·Dk) per head: meant for short T (tests, distillation probes).
    public func matrix() -> Tensor {
        let (b, h, t, dk) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let qs = q.detached().copy().scalars.map(Double.init), ks = k.detached().copy().scalars.map(Double.init)
        let logA: [Double]? = switch decay {                                     // [B, H, T] or [B, H, T, Dk]
        case .none: nil
        case .scalar(let a), .keyWise(let a): a.detached().copy().scalars.map(Double.init)
        }
        let keyWise = if case .keyWise = decay { true } else { false }
        let betas = beta?.detached().copy().scalars.map(Double.init)
        let scales = valueScale?.detached().copy().scalars.map(Double.init)
        let skips = skip?.detached().copy().scalars.map(Double.init)
        var m = [Double](repeating: 0, count: b * h * t * t)
        for bh in 0..<(b * h) {
            let vec = bh * t * dk, row = bh * t
            // Cumulative log-decay G_t = Σ_{j≤t} log a_j (per channel when key-wise): Π_{j=s+1..t} = exp(G_t − G_s).
            let width = keyWise ? dk : 1
            var g = [Double](repeating: 0, count: t * width)
            if let logA {
                for ti in 0..<t {
                    for c in 0..<width { g[ti * width + c] = (ti > 0 ? g[(ti - 1) * width + c] : 0) + logA[(row + ti) * width + c] }
                }
            }
            for ti in 0..<t {
                let out = (bh * t + ti) * t
                if let betas {
                    var w = Array(qs[(vec + ti * dk)..<(vec + (ti + 1) * dk)])
                    for si in stride(from: ti, through: 0, by: -1) {
                        let kOff = vec + si * dk
                        var kw = 0.0
                        for c in 0..<dk { kw += ks[kOff + c] * w[c] }
                        let bs = betas[row + si]
                        m[out + si] = bs * kw
                        let a = logA.map { exp($0[row + si]) } ?? 1
                        for c in 0..<dk { w[c] = a * (w[c] - bs * ks[kOff + c] * kw) }
                    }
                } else {
                    for si in 0..<(causal ? ti + 1 : t) {
                        var sum = 0.0
                        for c in 0..<dk {
                            let decay = logA == nil ? 1 : exp(g[ti * width + (keyWise ? c : 0)] - g[si * width + (keyWise ? c : 0)])
                            sum += qs[vec + ti * dk + c] * ks[vec + si * dk + c] * decay
                        }
                        m[out + si] = sum
                    }
                }
                if let scales { for si in 0..<t { m[out + si] *= scales[row + si] } }
                if let skips { m[out + ti] += skips[bh % h] }
                if normalizeRows {
                    let z = (0..<t).reduce(0.0) { $0 + m[out + $1] } + 1e-6
                    for si in 0..<t { m[out + si] /= z }
                }
            }
        }
        return Tensor(m.map(Float.init), shape: [b, h, t, t])
    }
}

extension ProbeRecorder {
    /// Records the mixing capture of `layer` when `wantsMixingMatrices` is set (the captures are references to
    /// tensors the forward computed anyway; nothing is built otherwise).
    func recordMixing(layer: Int, _ capture: @autoclosure () -> MixingCapture) {
        guard wantsMixingMatrices else { return }
        mixingCaptures.append((layer, capture()))
    }
}

/// The mixing capture of a linear-time `mixer` on a full sequence x [B, T, C] (nil for a mixer that records
/// none: the attention mixers have `AttentionMixer.mixingMatrix`; `base_conv` and `lmu` are convolutions).
/// Runs one forward without gradient; its output is the mixer's ordinary result.
public func linearMixingCapture(of mixer: any TokenMixer, _ x: Tensor, positional: any PositionalScheme) -> MixingCapture? {
    let probes = ProbeRecorder(wantsAttention: false)
    probes.wantsMixingMatrices = true
    _ = withNoGrad { mixer.forward(x, context: MixerContext(positional: positional, probes: probes), cache: nil) }
    return probes.mixingCaptures.last?.capture
}

extension MixingCapture {
    /// The capture of a plain recurrence call: M from its q, k, decay and β, applied to its values.
    init(_ inputs: RecurrenceInputs, output: Tensor) {
        self.init(q: inputs.q, k: inputs.k, values: inputs.v, decay: inputs.decay, beta: inputs.beta, output: output)
    }
}
