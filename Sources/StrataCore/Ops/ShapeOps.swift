import StrataKernels

// Shape ops. Reshape and leading-axis views share storage; everything else copies through a layout
// kernel. Every backward is the inverse data movement (or a scatter-add for gathers).

extension Tensor {
    /// The same elements viewed with a new shape (one dimension may be -1 and is inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let hole = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                shapeError("reshape", "cannot reshape \(shape) (\(count) elements) to \(newShape)")
            }
            dims[hole] = count / known
        }
        guard dims.allSatisfy({ $0 >= 0 }), Shape.count(dims) == count else {
            shapeError("reshape", "cannot reshape \(shape) (\(count) elements) to \(newShape)")
        }
        if dims == shape { return self }
        let value = Tensor(shape: dims, storage: storage, offset: offset)
        let original = shape
        return Tensor.record("reshape", value, [self]) { g in [g.reshaped(original)] }
    }

    /// Broadcasts to `shape` (a copy); the gradient is summed back.
    public func expanded(to target: [Int]) -> Tensor {
        guard Shape.broadcast(shape, target) == target else {
            shapeError("expand", "cannot expand \(shape) to \(target)")
        }
        if shape == target { return self }
        let original = shape
        return Tensor.record("expand", expandedValue(target), [self]) { g in [g.sumToShape(original)] }
    }

    /// Axes reordered: output dimension d is input dimension `perm[d]`.
    public func permuted(_ perm: [Int]) -> Tensor {
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            shapeError("permute", "\(perm) is not a permutation of the \(rank) axes of \(shape)")
        }
        if perm == Array(0..<rank) { return self }
        let out = Tensor(uninitialized: perm.map { shape[$0] })
        LayoutKernels.permute(x: pointer, shape: shape, perm: perm, out: out.pointer)
        var inverse = perm
        for (d, p) in perm.enumerated() { inverse[p] = d }
        return Tensor.record("permute", out, [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two axes (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let x = Shape.axis(a, rank: rank, op: "transpose"), y = Shape.axis(b, rank: rank, op: "transpose")
        var perm = Array(0..<rank)
        perm.swapAt(x, y)
        return permuted(perm)
    }

    /// Elements `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "slice")
        guard range.lowerBound >= 0, range.upperBound <= shape[ax] else {
            shapeError("slice", "range \(range) is out of bounds for axis \(ax) of size \(shape[ax]) in \(shape)")
        }
        var outShape = shape
        outShape[ax] = range.count
        let (outer, n, inner) = Shape.split(shape, at: ax)
        let original = shape
        let out: Tensor
        if outer == 1 {
            out = Tensor(shape: outShape, storage: storage, offset: offset + range.lowerBound * inner)
        } else {
            out = Tensor(uninitialized: outShape)
            LayoutKernels.copyBlocks(x: pointer + range.lowerBound * inner, inStride: n * inner,
                                     out: out.pointer, outStride: range.count * inner,
                                     outer: outer, block: range.count * inner)
        }
        let addInto: (Tensor, UnsafeMutablePointer<Float>) -> Void = { g, dx in
            LayoutKernels.addBlocks(x: g.pointer, inStride: range.count * inner,
                                    out: dx + range.lowerBound * inner, outStride: n * inner,
                                    outer: outer, block: range.count * inner)
        }
        return Tensor.record("slice", out, [self], addIntoParent: addInto) { g in
            let dx = Tensor.zeros(original)
            LayoutKernels.copyBlocks(x: g.pointer, inStride: range.count * inner,
                                     out: dx.pointer + range.lowerBound * inner, outStride: n * inner,
                                     outer: outer, block: range.count * inner)
            return [dx]
        }
    }

    /// Joins tensors along `axis`; all other dimensions must agree.
    public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
        guard let first = parts.first else { shapeError("concat", "needs at least one tensor") }
        let ax = Shape.axis(axis, rank: first.rank, op: "concat")
        for p in parts {
            var a = p.shape, b = first.shape
            guard a.count == b.count else { shapeError("concat", "ranks differ: \(first.shape) and \(p.shape)") }
            a[ax] = 0; b[ax] = 0
            guard a == b else { shapeError("concat", "shapes \(first.shape) and \(p.shape) differ outside axis \(ax)") }
        }
        var outShape = first.shape
        outShape[ax] = parts.reduce(0) { $0 + $1.shape[ax] }
        let (outer, total, inner) = Shape.split(outShape, at: ax)
        let out = Tensor(uninitialized: outShape)
        var start = 0
        var ranges: [Range<Int>] = []
        for p in parts {
            let n = p.shape[ax]
            LayoutKernels.copyBlocks(x: p.pointer, inStride: n * inner, out: out.pointer + start * inner,
                                     outStride: total * inner, outer: outer, block: n * inner)
            ranges.append(start..<(start + n))
            start += n
        }
        return record("concat", out, parts) { g in ranges.map { g.slice(axis: ax, $0) } }
    }

    /// Splits along `axis` into pieces of the given sizes (which must add up to the axis length).
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        let ax = Shape.axis(axis, rank: rank, op: "split")
        guard sizes.reduce(0, +) == shape[ax], sizes.allSatisfy({ $0 >= 0 }) else {
            shapeError("split", "sizes \(sizes) do not add up to axis \(ax) of \(shape)")
        }
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: ax, start..<(start + n))
        }
    }

    /// Splits along `axis` into `parts` equal pieces.
    public func chunked(_ parts: Int, axis: Int) -> [Tensor] {
        let ax = Shape.axis(axis, rank: rank, op: "chunk")
        guard parts > 0, shape[ax] % parts == 0 else {
            shapeError("chunk", "axis \(ax) of \(shape) does not split into \(parts) equal parts")
        }
        return split(axis: ax, sizes: Array(repeating: shape[ax] / parts, count: parts))
    }

    /// Stacks same-shaped tensors along a new axis.
    public static func stack(_ parts: [Tensor], axis: Int = 0) -> Tensor {
        guard let first = parts.first else { shapeError("stack", "needs at least one tensor") }
        let ax = Shape.axis(axis, rank: first.rank + 1, op: "stack")
        for p in parts where p.shape != first.shape {
            shapeError("stack", "shapes \(first.shape) and \(p.shape) differ")
        }
        var expandedShape = first.shape
        expandedShape.insert(1, at: ax)
        return concat(parts.map { $0.reshaped(expandedShape) }, axis: ax)
    }

    /// Selects `indices` along `axis` (indices may repeat); the backward scatter-adds.
    public func indexSelect(axis: Int, _ indices: [Int32]) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "indexSelect")
        let (outer, n, inner) = Shape.split(shape, at: ax)
        for (i, v) in indices.enumerated() where v < 0 || Int(v) >= n {
            shapeError("indexSelect", "index \(v) at position \(i) is out of range for axis \(ax) of size \(n)")
        }
        var outShape = shape
        outShape[ax] = indices.count
        let out = Tensor(uninitialized: outShape)
        let m = indices.count
        indices.withUnsafeBufferPointer { idx in
            for o in 0..<outer {
                LayoutKernels.gatherRows(table: pointer + o * n * inner, width: inner, indices: idx.baseAddress!,
                                         count: m, out: out.pointer + o * m * inner)
            }
        }
        let original = shape
        return Tensor.record("indexSelect", out, [self]) { g in
            let dx = Tensor.zeros(original)
            indices.withUnsafeBufferPointer { idx in
                for o in 0..<outer {
                    LayoutKernels.scatterAddRows(src: g.pointer + o * m * inner, width: inner, indices: idx.baseAddress!,
                                                 count: m, grad: dx.pointer + o * n * inner)
                }
            }
            return [dx]
        }
    }

    /// Inclusive cumulative sum along `axis` (reverse: from the end); the backward is the reverse cumsum.
    public func cumsum(axis: Int, reverse: Bool = false) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, op: "cumsum")
        let (outer, n, inner) = Shape.split(shape, at: ax)
        let out = Tensor(uninitialized: shape)
        LayoutKernels.cumsum(x: pointer, outer: outer, n: n, inner: inner, out: out.pointer, reverse: reverse)
        return Tensor.record("cumsum", out, [self]) { g in [g.cumsum(axis: ax, reverse: !reverse)] }
    }
}

/// Row lookup into an embedding table [V, C] by token ids of any shape; the result has shape ids + [C].
/// The backward scatter-adds into the table, summing repeated ids in a fixed order.
public func embedding(_ table: Tensor, ids: [Int32], shape idShape: [Int]) -> Tensor {
    guard table.rank == 2 else { shapeError("embedding", "table must be [V, C], got \(table.shape)") }
    guard Shape.count(idShape) == ids.count else {
        shapeError("embedding", "\(ids.count) ids do not fill shape \(idShape)")
    }
    let (vocab, width) = (table.shape[0], table.shape[1])
    for (i, v) in ids.enumerated() where v < 0 || Int(v) >= vocab {
        shapeError("embedding", "id \(v) at position \(i) is outside the vocabulary 0..<\(vocab)")
    }
    let out = Tensor(uninitialized: idShape + [width])
    ids.withUnsafeBufferPointer {
        LayoutKernels.gatherRows(table: table.pointer, width: width, indices: $0.baseAddress!, count: ids.count, out: out.pointer)
    }
    return Tensor.record("embedding", out, [table]) { g in
        let dTable = Tensor.zeros(table.shape)
        ids.withUnsafeBufferPointer {
            LayoutKernels.scatterAddRows(src: g.pointer, width: width, indices: $0.baseAddress!, count: ids.count, grad: dTable.pointer)
        }
        return [dTable]
    }
}
