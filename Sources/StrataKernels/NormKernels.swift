import CStrataKernels

/// Fused layer norm and RMS norm over the rows of a row-major [R×C] buffer, forward and backward.
///
/// Rows are split across threads. The weight / bias gradients (sums over rows) are built from partial
/// sums over fixed 32-row blocks, then added block by block in order, so their bits never depend on the
/// thread count.
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
        withParameterPartials(rows: rows, cols: cols, count: (dWeight != nil ? 1 : 0) + (dBias != nil ? 1 : 0)) {
            partials, blocks in
            let pw = dWeight != nil ? partials : nil
            let pb = dBias != nil ? partials.map { $0 + (dWeight != nil ? blocks * cols : 0) } : nil
            forRowBlocks(rows: rows, cols: cols) { r0, n in
                let o = r0 * cols, b0 = r0 / Self.blockRows * cols
                strata_layernorm_backward(isa, x + o, weight, mean + r0, rstd + r0, dy + o, n, cols, Self.blockRows,
                                          dx + o, pw.map { $0 + b0 }, pb.map { $0 + b0 })
            }
            if let dWeight, let pw { sumBlocks(pw, blocks: blocks, cols: cols, into: dWeight) }
            if let dBias, let pb { sumBlocks(pb, blocks: blocks, cols: cols, into: dBias) }
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
        withParameterPartials(rows: rows, cols: cols, count: dWeight != nil ? 1 : 0) { partials, blocks in
            forRowBlocks(rows: rows, cols: cols) { r0, n in
                let o = r0 * cols
                strata_rmsnorm_backward(isa, x + o, weight, rstd + r0, dy + o, n, cols, Self.blockRows, dx + o,
                                        partials.map { $0 + r0 / Self.blockRows * cols })
            }
            if let dWeight, let partials { sumBlocks(partials, blocks: blocks, cols: cols, into: dWeight) }
        }
    }

    static func checkShape(_ kernel: String, rows: Int, cols: Int, eps: Float) {
        precondition(rows >= 0 && cols > 0,
                     "NormKernels.\(kernel): need rows ≥ 0 and cols > 0, got rows \(rows), cols \(cols)")
        precondition(eps >= 0 && eps.isFinite, "NormKernels.\(kernel): eps must be finite and ≥ 0, got \(eps)")
    }

    /// Rows per block of the parameter-gradient partial sums. A constant, so the order in which rows
    /// are added never depends on the thread count; blocks are also the unit of work handed to threads.
    static let blockRows = 32

    /// Calls body with scratch for `count` arrays of per-block partial sums ([⌈R/32⌉×C] each; nil if 0).
    static func withParameterPartials(rows: Int, cols: Int, count: Int,
                                      _ body: (UnsafeMutablePointer<Float>?, Int) -> Void) {
        let blocks = (rows + blockRows - 1) / blockRows
        guard count > 0, blocks > 0 else { return body(nil, blocks) }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: count * blocks * cols)
        defer { scratch.deallocate() }
        body(scratch, blocks)
    }

    /// Hands threads runs of whole row blocks as (first row, row count).
    static func forRowBlocks(rows: Int, cols: Int, _ body: (Int, Int) -> Void) {
        let blocks = (rows + blockRows - 1) / blockRows
        parallelFor(blocks, grain: max(1, VecMath.rowGrain(cols) / blockRows)) { r in
            let r0 = r.lowerBound * blockRows
            body(r0, min(r.upperBound * blockRows, rows) - r0)
        }
    }

    /// dst[c] += Σ_b partials[b, c], blocks in order, split over 16-column groups.
    static func sumBlocks(_ partials: UnsafeMutablePointer<Float>, blocks: Int, cols: Int,
                          into dst: UnsafeMutablePointer<Float>) {
        let isa = VecMath.cISA, group = 16, groups = (cols + group - 1) / group
        parallelFor(groups, grain: max(1, 16_384 / (blocks * group))) { r in
            strata_sum_blocks(isa, partials, blocks, cols, r.lowerBound * group, min(r.upperBound * group, cols), dst)
        }
    }
}
