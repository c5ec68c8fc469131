import StrataKernels

// Reductions over one axis are the primitive; several axes reduce one after another. Backward of a sum
// is a broadcast of the output gradient; of a max, the gradient goes to the first maximal element.

extension Tensor {
    /// Output shape of a reduction over `axis`.
    private func reducedShape(_ axis: Int, keepDims: Bool) -> [Int] {
        var s = shape
        if keepDims { s[axis] = 1 } else { s.remove(at: axis) }
        return s
    }

    /// Sum over `axis` (negative counts from the end).
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "sum")
        let (outer, n, inner) = Shape.split(shape, at: ax)
        let out = Tensor(uninitialized: reducedShape(ax, keepDims: keepDims))
        ReduceKernels.sum(x: pointer, outer: outer, n: n, inner: inner, out: out.pointer)
        let x = self
        return Tensor.record("sum", out, [x]) { g in
            var kept = x.shape; kept[ax] = 1
            return [g.reshaped(kept).expanded(to: x.shape)]
        }
    }

    /// Sum over several axes.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        let resolved = Set(axes.map { Shape.axis($0, rank: rank, op: "sum") }).sorted(by: >)
        var out = self
        for ax in resolved { out = out.sum(axis: ax, keepDims: keepDims) }
        return out
    }

    /// Sum of all elements, as a scalar tensor.
    public func sum() -> Tensor {
        rank == 0 ? self : reshaped([count]).sum(axis: 0)
    }

    /// Mean over `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "mean")
        return sum(axis: ax, keepDims: keepDims) / Float(shape[ax])
    }

    /// Mean of all elements, as a scalar tensor.
    public func mean() -> Tensor { sum() / Float(Swift.max(count, 1)) }

    /// Maximum over `axis`; the gradient flows to the first element attaining it.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "max")
        guard shape[ax] > 0 else { shapeError("max", "cannot reduce an empty axis \(ax) of \(shape)") }
        let (outer, n, inner) = Shape.split(shape, at: ax)
        let out = Tensor(uninitialized: reducedShape(ax, keepDims: keepDims))
        var index = [Int32](repeating: 0, count: outer * inner)
        index.withUnsafeMutableBufferPointer {
            ReduceKernels.max(x: pointer, outer: outer, n: n, inner: inner, out: out.pointer, index: $0.baseAddress!)
        }
        let x = self
        return Tensor.record("max", out, [x]) { g in
            let dx = Tensor.zeros(x.shape)
            let pg = g.pointer, pd = dx.pointer
            for o in 0..<outer {
                for i in 0..<inner {
                    pd[(o * n + Int(index[o * inner + i])) * inner + i] = pg[o * inner + i]
                }
            }
            return [dx]
        }
    }

    /// log Σ exp over `axis`, stable for large values; −inf for an all −inf slice.
    public func logsumexp(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "logsumexp")
        let m = withNoGrad { self.max(axis: ax, keepDims: true) }.map { $0.isFinite ? $0 : 0 }
        let shifted = (self - m).exp().sum(axis: ax, keepDims: true).log() + m
        return keepDims ? shifted : shifted.reshaped(reducedShape(ax, keepDims: false))
    }

    /// Variance over `axis` with `correction` subtracted from the count (0: population, 1: sample).
    public func variance(axis: Int, keepDims: Bool = false, correction: Int = 0) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "variance")
        let n = shape[ax] - correction
        guard n > 0 else { shapeError("variance", "axis \(ax) of \(shape) has too few elements for correction \(correction)") }
        let centered = self - mean(axis: ax, keepDims: true)
        return (centered * centered).sum(axis: ax, keepDims: keepDims) / Float(n)
    }
}
