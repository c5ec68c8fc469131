import StrataCore
import StrataNN

/// σReparam (Zhai et al., 2023, "Stabilizing Transformer Training by Preventing Attention Entropy Collapse"):
/// each linear map is used as Ŵ = (γ/σ̂)·W, where σ̂ = uᵀ W v estimates σ_max(W) from persistent vectors u, v.
/// One power-iteration step (v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖) runs per training forward, without gradient; the
/// gradient of σ̂ = uᵀWv flows into W with u, v held constant, as in the paper's reference code. γ is learned,
/// initialized to 1.
///
/// One module covers a weight made of row `segments` (the fused q/k/v projection holds three maps, each with
/// its own σ̂ and γ, so the result equals reparameterizing q, k and v separately).
///
/// u and v are stored as `Parameter`s (role `.other`) only so that checkpoints carry them and a resumed or
/// reloaded model reproduces the same Ŵ; they never receive a gradient, so optimizers skip them. They are
/// counted by `parameterCount` (StrataNN has no non-trainable buffer kind yet).
public final class SigmaReparam: Module {
    /// Learned scales γ, one per segment (init 1).
    public let gamma: Parameter
    /// Left singular-vector estimates u_i [rows_i].
    public let u: [Parameter]
    /// Right singular-vector estimates v_i [inputs].
    public let v: [Parameter]
    /// Rows of each segment of the weight.
    public let segments: [Int]

    /// State for a weight [Σ segments, inputs]; u, v start as random unit vectors drawn from `rng`.
    public init(segments: [Int], inputs: Int, rng: inout RNG) {
        self.segments = segments
        gamma = Parameter(.ones([segments.count]), role: .norm)
        func unit(_ n: Int, _ rng: inout RNG) -> Parameter {
            let x = rng.normal([n])
            let norm = x.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return Parameter(x / max(norm, 1e-12), role: .other)
        }
        var us: [Parameter] = [], vs: [Parameter] = []
        for r in segments {
            us.append(unit(r, &rng))
            vs.append(unit(inputs, &rng))
        }
        u = us
        v = vs
        super.init()
    }

    /// State for one `linear` layer (a single segment: its whole weight [out, in]).
    public convenience init(for linear: Linear, rng: inout RNG) {
        self.init(segments: [linear.outputs], inputs: linear.inputs, rng: &rng)
    }

    /// Scalars held by the state of one linear layer from `inputs` to `outputs` features.
    public static func parameterCount(outputs: Int, inputs: Int) -> Int {
        parameterCount(segments: [outputs], inputs: inputs)
    }

    /// Scalars held: γ per segment plus u and v.
    public static func parameterCount(segments: [Int], inputs: Int) -> Int {
        segments.count + segments.reduce(0, +) + segments.count * inputs
    }

    private func ranges() -> [Range<Int>] {
        var start = 0
        return segments.map { r in defer { start += r }; return start..<start + r }
    }

    /// One power-iteration step per segment of `weight` [rows, inputs], updating u and v (no gradient).
    public func powerIterate(_ weight: Tensor) {
        withNoGrad {
            let w = weight.detached()
            for (i, range) in ranges().enumerated() {
                let wi = w.slice(axis: 0, range)                                           // [r, in]
                let nv = u[i].value.detached().reshaped([1, range.count]).matmul(wi)        // [1, in] = (Wᵀu)ᵀ
                let vUnit = nv / (nv * nv).sum().sqrt().maximum(Tensor(scalar: 1e-12))
                let nu = vUnit.matmul(wi, transposeB: true)                                 // [1, r] = (W v)ᵀ
                let uUnit = nu / (nu * nu).sum().sqrt().maximum(Tensor(scalar: 1e-12))
                v[i].assign(vUnit.reshaped([wi.shape[1]]))
                u[i].assign(uUnit.reshaped([range.count]))
            }
        }
    }

    /// σ̂_i = u_iᵀ W_i v_i for every segment (no gradient).
    public func sigmaEstimates(_ weight: Tensor) -> [Float] {
        withNoGrad { sigmas(weight.detached()).map(\.item) }
    }

    private func sigmas(_ weight: Tensor) -> [Tensor] {
        ranges().enumerated().map { i, range in
            let wi = weight.slice(axis: 0, range)
            let ui = u[i].value.detached().reshaped([1, range.count])
            let vi = v[i].value.detached().reshaped([wi.shape[1], 1])
            return ui.matmul(wi).matmul(vi)                                                  // [1, 1]
        }
    }

    /// Ŵ = (γ_i/σ̂_i)·W_i per segment, differentiable in W and γ.
    public func reparameterized(_ weight: Tensor) -> Tensor {
        let s = sigmas(weight)
        let factors = ranges().enumerated().map { i, range -> Tensor in
            let f = gamma.value.slice(axis: 0, i..<i + 1).reshaped([1, 1]) / s[i]
            return f.expanded(to: [range.count, 1])
        }
        return weight * (factors.count == 1 ? factors[0] : Tensor.concat(factors, axis: 0))
    }

    /// Applies `linear` with its weight reparameterized; in training mode first advances the power iteration.
    public func apply(_ linear: Linear, _ x: Tensor) -> Tensor {
        if isTraining { powerIterate(linear.weight.value) }
        let y = x.matmul(reparameterized(linear.weight.value), transposeB: true)
        return linear.bias.map { y + $0.value } ?? y
    }
}
