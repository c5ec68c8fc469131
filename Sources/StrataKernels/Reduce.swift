/// Reductions over the middle axis of an [outer, n, inner] view. Each output element is reduced in a
/// fixed order by one thread, so results do not depend on the thread count.
public enum ReduceKernels {
    /// out[o, i] = Σ_j x[o, j, i]. Row sums (inner == 1) accumulate in Double for accuracy.
    public static func sum(x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int,
                           out: UnsafeMutablePointer<Float>) {
        if inner == 1 {
            parallelFor(outer, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { range in
                for o in range {
                    let row = x + o * n
                    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                    var j = 0
                    while j + 4 <= n {
                        s0 += Double(row[j]); s1 += Double(row[j + 1])
                        s2 += Double(row[j + 2]); s3 += Double(row[j + 3])
                        j += 4
                    }
                    while j < n { s0 += Double(row[j]); j += 1 }
                    out[o] = Float((s0 + s1) + (s2 + s3))
                }
            }
            return
        }
        parallelFor(outer * inner, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { range in
            var idx = range.lowerBound
            while idx < range.upperBound {
                let o = idx / inner, i0 = idx % inner
                let i1 = min(inner, i0 + (range.upperBound - idx))
                let dst = out + o * inner
                for i in i0..<i1 { dst[i] = 0 }
                for j in 0..<n {
                    let src = x + (o * n + j) * inner
                    for i in i0..<i1 { dst[i] += src[i] }
                }
                idx += i1 - i0
            }
        }
    }

    /// out[o, i] = max_j x[o, j, i] and index[o, i] = the first j attaining it (NaN wins, as in PyTorch).
    public static func max(x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int,
                           out: UnsafeMutablePointer<Float>, index: UnsafeMutablePointer<Int32>) {
        parallelFor(outer * inner, grain: Swift.max(1, 16_384 / Swift.max(n, 1))) { range in
            for idx in range {
                let o = idx / inner, i = idx % inner
                let base = x + o * n * inner + i
                var best = base[0], at = 0
                if !best.isNaN {
                    for j in 1..<Swift.max(n, 1) {
                        let v = base[j * inner]
                        if v > best || v.isNaN { best = v; at = j; if v.isNaN { break } }
                    }
                }
                out[idx] = best
                index[idx] = Int32(at)
            }
        }
    }
}
