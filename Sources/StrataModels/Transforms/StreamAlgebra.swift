import StrataCore

/// The weight algebra of the Pre-LN → Pre-(C)RMSNorm transform (Jiang et al., 2023), on row-major Float32
/// tensors with Double accumulation so that the rewritten weights carry no more rounding than one Float cast.
///
/// Notation: the residual stream has width d; a *writer* adds to the stream (embedding rows, `Linear` weights
/// [d, F] with bias [d]); a *reader* consumes a norm output (`Linear` weights [O, d]). `keep` is the stored stream
/// width: d for Pre-RMSNorm, d − 1 for Pre-CRMSNorm (the last coordinate of a zero-mean vector is −Σ of the others).
enum StreamAlgebra {
    /// Rows of e [N, d] minus their own mean (token / position tables), first `keep` columns: [N, keep].
    static func centeredRows(_ e: Tensor, keep: Int) -> Tensor {
        let (n, d) = (e.shape[0], e.shape[1])
        let x = e.scalars
        var out = [Float](repeating: 0, count: n * keep)
        for r in 0..<n {
            var mean = 0.0
            for c in 0..<d { mean += Double(x[r * d + c]) }
            mean /= Double(d)
            for c in 0..<keep { out[r * keep + c] = Float(Double(x[r * d + c]) - mean) }
        }
        return Tensor(out, shape: [n, keep])
    }

    /// (I − 11ᵀ/d)·W for a writer W [d, F] (each column minus its mean over the d outputs), first `keep` rows:
    /// [keep, F]. The writer's output is then zero-mean for every input.
    static func centeredWriter(_ w: Tensor, keep: Int) -> Tensor {
        let (d, f) = (w.shape[0], w.shape[1])
        let x = w.scalars
        var mean = [Double](repeating: 0, count: f)
        for r in 0..<d { for c in 0..<f { mean[c] += Double(x[r * f + c]) } }
        var out = [Float](repeating: 0, count: keep * f)
        for r in 0..<keep { for c in 0..<f { out[r * f + c] = Float(Double(x[r * f + c]) - mean[c] / Double(d)) } }
        return Tensor(out, shape: [keep, f])
    }

    /// b − mean(b) for a writer bias b [d], first `keep` entries.
    static func centeredVector(_ b: Tensor, keep: Int) -> Tensor {
        let x = b.scalars
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        return Tensor((0..<keep).map { Float(Double(x[$0]) - mean) }, shape: [keep])
    }

    /// A reader W [O, d] (bias b [O] or none) behind a LayerNorm with gain γ [d] and shift β [d] (or none), on a
    /// zero-mean stream where LN(x) = γ ⊙ z + β with z = x/√(mean(x²) + ε):
    /// W(γ ⊙ z + β) + b = (W·diag γ) z + (Wβ + b).
    /// - `foldGain` false (Pre-RMSNorm: γ stays in the RMSNorm): W' = W, b' = Wβ + b.
    /// - `foldGain` true with keep = d − 1 (Pre-CRMSNorm): V = W·diag γ and, since z_d = −Σ_{i<d} z_i,
    ///   W'[:, i] = V[:, i] − V[:, d−1] for i < d − 1 (the catalog's row rule W'[i,:] = W[i,:] − W[d,:] written for
    ///   the [out, in] layout), b' = Wβ + b.
    /// The bias is nil only when neither b nor β exists.
    static func foldedReader(_ w: Tensor, bias: Tensor?, gain: Tensor, shift: Tensor?, foldGain: Bool,
                             keep: Int) -> (weight: Tensor, bias: Tensor?) {
        let (o, d) = (w.shape[0], w.shape[1])
        let x = w.scalars, g = gain.scalars
        var folded = [Float](repeating: 0, count: o * keep)
        for r in 0..<o {
            let row = r * d
            if foldGain {
                let last = keep < d ? Double(x[row + d - 1]) * Double(g[d - 1]) : 0
                for c in 0..<keep { folded[r * keep + c] = Float(Double(x[row + c]) * Double(g[c]) - last) }
            } else {
                for c in 0..<keep { folded[r * keep + c] = x[row + c] }
            }
        }
        guard bias != nil || shift != nil else { return (Tensor(folded, shape: [o, keep]), nil) }
        let b = bias?.scalars ?? [Float](repeating: 0, count: o)
        let beta = shift?.scalars ?? [Float](repeating: 0, count: d)
        var newBias = [Float](repeating: 0, count: o)
        for r in 0..<o {
            var s = Double(b[r])
            for c in 0..<d { s += Double(x[r * d + c]) * Double(beta[c]) }
            newBias[r] = Float(s)
        }
        return (Tensor(folded, shape: [o, keep]), Tensor(newBias, shape: [o]))
    }

    /// max|a − b| / max|a| (relative to the scale of a), and max|a − b|.
    static func relativeDifference(_ a: Tensor, _ b: Tensor) -> (relative: Float, absolute: Float) {
        let x = a.scalars, y = b.scalars
        guard x.count == y.count else { return (.infinity, .infinity) }
        var scale: Float = 0, diff: Float = 0
        for i in 0..<x.count {
            let delta = abs(x[i] - y[i])
            guard delta.isFinite else { return (.infinity, .infinity) }   // NaN would slip through max()
            scale = max(scale, abs(x[i]))
            diff = max(diff, delta)
        }
        return (diff / max(scale, .leastNormalMagnitude), diff)
    }
}
