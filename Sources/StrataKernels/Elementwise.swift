import Foundation

/// Binary elementwise operations with NumPy broadcasting.
public enum BinaryOp: Sendable {
    case add, sub, mul, div, pow, maximum, minimum
}

/// out[i] = op(a[ia], b[ib]) over `shape`, where `aStrides`/`bStrides` give each input's stride per output
/// dimension (0 on a broadcast dimension). out is contiguous with `shape`.
public func broadcastBinary(_ op: BinaryOp,
                            a: UnsafePointer<Float>, aStrides: [Int],
                            b: UnsafePointer<Float>, bStrides: [Int],
                            out: UnsafeMutablePointer<Float>, shape: [Int]) {
    // One specialization per op: a closure argument was not inlined, so every element paid a call (measured:
    // most of a small DeltaNet training step sat in these calls).
    switch op {
    case .add: broadcastLoop(AddKernel.self, a, aStrides, b, bStrides, out, shape)
    case .sub: broadcastLoop(SubKernel.self, a, aStrides, b, bStrides, out, shape)
    case .mul: broadcastLoop(MulKernel.self, a, aStrides, b, bStrides, out, shape)
    case .div: broadcastLoop(DivKernel.self, a, aStrides, b, bStrides, out, shape)
    case .pow: broadcastLoop(PowKernel.self, a, aStrides, b, bStrides, out, shape)
    case .maximum: broadcastLoop(MaxKernel.self, a, aStrides, b, bStrides, out, shape)
    case .minimum: broadcastLoop(MinKernel.self, a, aStrides, b, bStrides, out, shape)
    }
}

/// A scalar binary function known at compile time, so loops over it specialize and vectorize.
protocol BinaryKernel { static func apply(_ x: Float, _ y: Float) -> Float }
enum AddKernel: BinaryKernel { @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x + y } }
enum SubKernel: BinaryKernel { @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x - y } }
enum MulKernel: BinaryKernel { @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x * y } }
enum DivKernel: BinaryKernel { @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x / y } }
enum PowKernel: BinaryKernel { @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { powf(x, y) } }
/// NaN in either input propagates (as in PyTorch's maximum/minimum).
enum MaxKernel: BinaryKernel {
    @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x >= y || y.isNaN ? x : y }
}
enum MinKernel: BinaryKernel {
    @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x <= y || y.isNaN ? x : y }
}

/// Merges adjacent dimensions that are contiguous for the output and both inputs, so the common cases
/// (same shape, scalar, row vector) become one or two flat loops.
func collapseBroadcast(_ shape: [Int], _ sa: [Int], _ sb: [Int]) -> (shape: [Int], sa: [Int], sb: [Int]) {
    var dims: [Int] = [], ra: [Int] = [], rb: [Int] = []
    for i in 0..<shape.count where shape[i] != 1 {
        if let last = dims.last,
           ra.last! == sa[i] * shape[i], rb.last! == sb[i] * shape[i] {
            dims[dims.count - 1] = last * shape[i]
            ra[ra.count - 1] = sa[i]
            rb[rb.count - 1] = sb[i]
        } else {
            dims.append(shape[i]); ra.append(sa[i]); rb.append(sb[i])
        }
    }
    if dims.isEmpty { return ([1], [0], [0]) }
    return (dims, ra, rb)
}

@inline(__always)
private func broadcastLoop<K: BinaryKernel>(_ kernel: K.Type, _ a: UnsafePointer<Float>, _ aStrides: [Int],
                                            _ b: UnsafePointer<Float>, _ bStrides: [Int],
                                            _ out: UnsafeMutablePointer<Float>, _ fullShape: [Int]) {
    @inline(__always) func f(_ x: Float, _ y: Float) -> Float { K.apply(x, y) }
    let (shape, sa, sb) = collapseBroadcast(fullShape, aStrides, bStrides)
    let inner = shape[shape.count - 1]
    let ia = sa[sa.count - 1], ib = sb[sb.count - 1]
    let rows = shape.dropLast().reduce(1, *)
    let grain = max(1, 32_768 / max(inner, 1))
    parallelFor(rows, grain: grain) { range in
        // Walk the outer index with a counter instead of dividing per row.
        var index = [Int](repeating: 0, count: shape.count - 1)
        var rem = range.lowerBound
        for d in stride(from: shape.count - 2, through: 0, by: -1) {
            index[d] = rem % shape[d]; rem /= shape[d]
        }
        for row in range {
            var offA = 0, offB = 0
            for d in 0..<index.count { offA += index[d] * sa[d]; offB += index[d] * sb[d] }
            let pa = a + offA, pb = b + offB, po = out + row * inner
            if ia == 1 && ib == 1 {
                for j in 0..<inner { po[j] = f(pa[j], pb[j]) }
            } else if ia == 1 && ib == 0 {
                let y = pb[0]
                for j in 0..<inner { po[j] = f(pa[j], y) }
            } else if ia == 0 && ib == 1 {
                let x = pa[0]
                for j in 0..<inner { po[j] = f(x, pb[j]) }
            } else {
                for j in 0..<inner { po[j] = f(pa[j * ia], pb[j * ib]) }
            }
            var d = index.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0; d -= 1
            }
        }
    }
}

/// out[i] = f(x[i]) over `count` elements, split across threads.
@inlinable
public func mapElements(count: Int, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                        _ f: (Float) -> Float) {
    parallelFor(count, grain: 32_768) { range in
        for i in range { out[i] = f(x[i]) }
    }
}

/// out[i] = f(x[i], y[i]) over `count` elements of two same-shaped buffers, split across threads.
@inlinable
public func zipElements(count: Int, x: UnsafePointer<Float>, y: UnsafePointer<Float>,
                        out: UnsafeMutablePointer<Float>, _ f: (Float, Float) -> Float) {
    parallelFor(count, grain: 32_768) { range in
        for i in range { out[i] = f(x[i], y[i]) }
    }
}
