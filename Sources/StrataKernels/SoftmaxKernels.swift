import CStrataKernels

/// Row softmax and log-softmax over a row-major [R×C] buffer, forward and backward (split over rows).
public enum SoftmaxKernels {
    /// y = softmax of each row, max-subtracted; a row of all −inf gives all zeros (no NaN).
    public static func softmaxForward(x: UnsafePointer<Float>, rows: Int, cols: Int, y: UnsafeMutablePointer<Float>) {
        forRowChunks("softmaxForward", rows, cols) { isa, o, n in strata_softmax_forward(isa, x + o, n, cols, y + o) }
    }

    /// dx = y ∘ (dy − Σ dy∘y) per row.
    public static func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, cols: Int,
                                       dx: UnsafeMutablePointer<Float>) {
        forRowChunks("softmaxBackward", rows, cols) { isa, o, n in strata_softmax_backward(isa, y + o, dy + o, n, cols, dx + o) }
    }

    /// y = x − logsumexp(x) per row; a row of all −inf gives all −inf.
    public static func logSoftmaxForward(x: UnsafePointer<Float>, rows: Int, cols: Int,
                                         y: UnsafeMutablePointer<Float>) {
        forRowChunks("logSoftmaxForward", rows, cols) { isa, o, n in strata_log_softmax_forward(isa, x + o, n, cols, y + o) }
    }

    /// dx = dy − exp(y)·Σ dy per row (y is the log-softmax output).
    public static func logSoftmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int, cols: Int,
                                          dx: UnsafeMutablePointer<Float>) {
        forRowChunks("logSoftmaxBackward", rows, cols) { isa, o, n in strata_log_softmax_backward(isa, y + o, dy + o, n, cols, dx + o) }
    }

    /// Checks the sizes, then runs `body(isa, offset, rowCount)` on contiguous row chunks across threads.
    private static func forRowChunks(_ kernel: String, _ rows: Int, _ cols: Int,
                                     _ body: (strata_isa, Int, Int) -> Void) {
        check(kernel, rows, cols)
        let isa = VecMath.cISA
        parallelFor(rows, grain: VecMath.rowGrain(cols)) { r in body(isa, r.lowerBound * cols, r.count) }
    }

    static func check(_ kernel: String, _ rows: Int, _ cols: Int) {
        precondition(rows >= 0 && cols > 0,
                     "SoftmaxKernels.\(kernel): need rows ≥ 0 and cols > 0, got rows \(rows), cols \(cols)")
    }
}
