import StrataKernels

// Normalizations over the last axis through the fused row kernels (mean and 1/σ saved for the backward).
// Their composed twins (mean, variance, rsqrt) are the references in the tests.

extension Tensor {
    /// LayerNorm over the last axis: (x − mean)/√(var + eps) · weight + bias (weight, bias: [C]).
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let (rows, cols) = normRows("layerNorm", weight, bias)
        let out = Tensor(uninitialized: shape)
        let mean = Tensor(uninitialized: [rows]), rstd = Tensor(uninitialized: [rows])
        NormKernels.layerNormForward(x: pointer, weight: weight?.pointer, bias: bias?.pointer, rows: rows, cols: cols,
                                     eps: eps, y: out.pointer, mean: mean.pointer, rstd: rstd.pointer)
        let x = self
        let inputs = [x] + [weight, bias].compactMap { $0 }
        return Tensor.record("layerNorm", out, inputs) { g in
            let dx = Tensor(uninitialized: x.shape)
            let dw = weight.map { Tensor.zeros($0.shape) }, db = bias.map { Tensor.zeros($0.shape) }
            NormKernels.layerNormBackward(x: x.pointer, weight: weight?.pointer, mean: mean.pointer, rstd: rstd.pointer,
                                          dy: g.pointer, rows: rows, cols: cols, dx: dx.pointer,
                                          dWeight: dw?.pointer, dBias: db?.pointer)
            return [dx] + [dw, db].compactMap { $0 }
        }
    }

    /// RMSNorm over the last axis: x / √(mean(x²) + eps) · weight (weight: [C]).
    public func rmsNorm(weight: Tensor?, eps: Float = 1e-6) -> Tensor {
        let (rows, cols) = normRows("rmsNorm", weight, nil)
        let out = Tensor(uninitialized: shape), rstd = Tensor(uninitialized: [rows])
        NormKernels.rmsNormForward(x: pointer, weight: weight?.pointer, rows: rows, cols: cols, eps: eps,
                                   y: out.pointer, rstd: rstd.pointer)
        let x = self
        return Tensor.record("rmsNorm", out, [x] + [weight].compactMap { $0 }) { g in
            let dx = Tensor(uninitialized: x.shape)
            let dw = weight.map { Tensor.zeros($0.shape) }
            NormKernels.rmsNormBackward(x: x.pointer, weight: weight?.pointer, rstd: rstd.pointer, dy: g.pointer,
                                        rows: rows, cols: cols, dx: dx.pointer, dWeight: dw?.pointer)
            return [dx] + [dw].compactMap { $0 }
        }
    }

    private func normRows(_ op: String, _ weight: Tensor?, _ bias: Tensor?) -> (Int, Int) {
        guard rank >= 1, let cols = shape.last, cols > 0 else { shapeError(op, "needs a non-empty last axis, got \(shape)") }
        for (name, p) in [("weight", weight), ("bias", bias)] {
            if let p, p.shape != [cols] { shapeError(op, "\(name) has shape \(p.shape), expected [\(cols)] for input \(shape)") }
        }
        return (count / cols, cols)
    }
}
