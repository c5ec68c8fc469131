import StrataKernels

// Softmax and log-softmax: fused row kernels over the last axis; other axes move there and back.

extension Tensor {
    /// Softmax along `axis` (default last); a slice of all −inf gives zeros.
    public func softmax(axis: Int = -1) -> Tensor {
        rowwise(axis, "softmax", SoftmaxKernels.softmaxForward, SoftmaxKernels.softmaxBackward)
    }

    /// log-softmax along `axis` (default last), via a stable logsumexp.
    public func logSoftmax(axis: Int = -1) -> Tensor {
        rowwise(axis, "logSoftmax", SoftmaxKernels.logSoftmaxForward, SoftmaxKernels.logSoftmaxBackward)
    }

    private typealias RowForward = (UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void
    private typealias RowBackward = (UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, UnsafeMutablePointer<Float>) -> Void

    private func rowwise(_ axis: Int, _ op: String, _ forward: RowForward, _ backward: @escaping RowBackward) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: op)
        if ax != rank - 1 {
            return transposed(ax, -1).rowwise(-1, op, forward, backward).transposed(ax, -1)
        }
        let cols = Swift.max(shape.last ?? 1, 1), rows = count / cols
        let out = Tensor(uninitialized: shape)
        forward(pointer, rows, cols, out.pointer)
        return Tensor.record(op, out, [self]) { g in
            let dx = Tensor(uninitialized: out.shape)
            backward(out.pointer, g.pointer, rows, cols, dx.pointer)
            return [dx]
        }
    }
}
