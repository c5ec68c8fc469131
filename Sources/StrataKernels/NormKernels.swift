import CStrataKernels

/// Fused layer norm and RMS norm over the rows of a row-major [R×C] buffer, forward and backward.
///
/// Rows are split across threads; the weight / bias gradients (sums over rows) are split over column
/// blocks and sum rows in order, so every output has the same bits at any thread count.
public enum NormKernels {
    /// y = (x - mean)/sqrt(var + eps) * weight + bias per row (biased variance); weight/bias optional (nil = 1 / 0).
    /// Saves mean and rstd per row.
    public static func layerNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                        bias: UnsafePointer<Float>?, rows: Int, cols: Int, eps: Float,
                                        y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                        rstd: UnsafeMutablePointer<Float>) {
        checkShape("layerNormForward", rows: rows, cols: cols, eps: eps)
        let isa = VecMath.cISA
        parallelFor(rows, grain: VecMath.rowGrain(cols)) { r in
            let o = r.lowerBound * cols
            strata_layernorm_forward(isa, x + o, weight, bias, r.count, cols, eps, y + o,
                                     mean + r.lowerBound, rstd + r.lowerBound)
        }
    }

    /// dx overwritten; dWeight/dBias (length cols) ACCUMULATED into (+=) when non-nil.
    public static func layerNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                         dy: UnsafePointer<Float>, rows: Int, cols: Int,
                                         dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?,
                                         dBias: UnsafeMutablePointer<Float>?) {
        checkShape("layerNormBackward", rows: rows, cols: cols, eps: 0)
        let isa = VecMath.cISA
        parallelFor(rows, grain: VecMath.rowGrain(cols)) { r in
            let o = r.lowerBound * cols
            strata_layernorm_backward_dx(isa, x + o, weight, mean + r.lowerBound, rstd + r.lowerBound, dy + o,
                                         r.count, cols, dx + o)
        }
        guard dWeight != nil || dBias != nil else { return }
        forColumnBlocks(rows: rows, cols: cols) { c0, c1 in
            strata_layernorm_backward_params(isa, x, mean, rstd, dy, rows, cols, c0, c1, dWeight, dBias)
        }
    }

    /// y = x * rsqrt(mean(x²) + eps) * weight; saves rstd per row.
    public static func rmsNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, rows: Int, cols: Int,
                                      eps: Float, y: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        checkShape("rmsNormForward", rows: rows, cols: cols, eps: eps)
        let isa = VecMath.cISA
        parallelFor(rows, grain: VecMath.rowGrain(cols)) { r in
            let o = r.lowerBound * cols
            strata_rmsnorm_forward(isa, x + o, weight, r.count, cols, eps, y + o, rstd + r.lowerBound)
        }
    }

    /// dx overwritten; dWeight (length cols) accumulated into (+=) when non-nil.
    public static func rmsNormBackward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                       rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, cols: Int,
                                       dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>?) {
        checkShape("rmsNormBackward", rows: rows, cols: cols, eps: 0)
        let isa = VecMath.cISA
        parallelFor(rows, grain: VecMath.rowGrain(cols)) { r in
            let o = r.lowerBound * cols
            strata_rmsnorm_backward_dx(isa, x + o, weight, rstd + r.lowerBound, dy + o, r.count, cols, dx + o)
        }
        guard let dWeight else { return }
        forColumnBlocks(rows: rows, cols: cols) { c0, c1 in
            strata_rmsnorm_backward_params(isa, x, rstd, dy, rows, cols, c0, c1, dWeight)
        }
    }

    static func checkShape(_ kernel: String, rows: Int, cols: Int, eps: Float) {
        precondition(rows >= 0 && cols > 0,
                     "NormKernels.\(kernel): need rows ≥ 0 and cols > 0, got rows \(rows), cols \(cols)")
        precondition(eps >= 0 && eps.isFinite, "NormKernels.\(kernel): eps must be finite and ≥ 0, got \(eps)")
    }

    /// Splits 0..<cols into 16-column blocks across threads (each block sums all rows itself).
    static func forColumnBlocks(rows: Int, cols: Int, _ body: (Int, Int) -> Void) {
        guard rows > 0 else { return }
        let block = 16, blocks = (cols + block - 1) / block
        parallelFor(blocks, grain: max(1, 16_384 / (rows * block))) { r in
            body(r.lowerBound * block, min(r.upperBound * block, cols))
        }
    }
}
