/// Shape arithmetic shared by the ops: element counts, strides, broadcasting and axis normalization.
public enum Shape {
    /// Number of elements of a tensor of this shape (1 for a scalar `[]`).
    @inlinable public static func count(_ dims: [Int]) -> Int { dims.reduce(1, *) }

    /// Row-major strides (in elements) of a contiguous tensor.
    public static func strides(_ dims: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        var acc = 1
        for i in stride(from: dims.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= dims[i]
        }
        return strides
    }

    /// NumPy broadcasting of two shapes, or `nil` when they are incompatible.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Broadcast shape of `a` and `b`; a mismatch stops with a message naming `op` and both shapes.
    public static func broadcastOrFail(_ a: [Int], _ b: [Int], op: String) -> [Int] {
        guard let out = broadcast(a, b) else {
            shapeError(op, "shapes \(a) and \(b) cannot be broadcast together")
        }
        return out
    }

    /// Resolves a possibly negative axis against `rank`; an out-of-range axis stops with a clear message.
    public static func axis(_ axis: Int, rank: Int, op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0 && a < max(rank, 1) else {
            shapeError(op, "axis \(axis) is out of range for a tensor of rank \(rank)")
        }
        return a
    }

    /// Splits `dims` around `axis` into (outer, size, inner) element counts.
    public static func split(_ dims: [Int], at axis: Int) -> (outer: Int, size: Int, inner: Int) {
        (count(Array(dims[..<axis])), dims[axis], count(Array(dims[(axis + 1)...])))
    }
}

/// Stops with a message naming the op and what is wrong (a caller's bug, like PyTorch's shape errors).
public func shapeError(_ op: String, _ message: String) -> Never {
    fatalError("Strata.\(op): \(message)")
}
