/// Data movement: permutations, block copies for slicing and concatenation, gathers and scatters.
public enum LayoutKernels {
    /// out = x with axes permuted: out dimension d is input dimension `perm[d]`. x is contiguous `shape`.
    public static func permute(x: UnsafePointer<Float>, shape: [Int], perm: [Int],
                               out: UnsafeMutablePointer<Float>) {
        let rank = shape.count
        var inStrides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
        let outShape = perm.map { shape[$0] }
        let srcStrides = perm.map { inStrides[$0] }
        let inner = outShape.last ?? 1, innerStride = srcStrides.last ?? 1
        let rows = outShape.dropLast().reduce(1, *)
        parallelFor(rows, grain: max(1, 16_384 / max(inner, 1))) { range in
            for row in range {
                var rem = row, src = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    src += (rem % outShape[d]) * srcStrides[d]
                    rem /= outShape[d]
                }
                let dst = out + row * inner, from = x + src
                if innerStride == 1 {
                    dst.update(from: from, count: inner)
                } else {
                    for j in 0..<inner { dst[j] = from[j * innerStride] }
                }
            }
        }
    }

    /// Copies `outer` blocks of `block` elements: out[o*outStride + j] = x[o*inStride + j] (slices, concat).
    public static func copyBlocks(x: UnsafePointer<Float>, inStride: Int, out: UnsafeMutablePointer<Float>,
                                  outStride: Int, outer: Int, block: Int) {
        parallelFor(outer, grain: max(1, 32_768 / max(block, 1))) { range in
            for o in range { (out + o * outStride).update(from: x + o * inStride, count: block) }
        }
    }

    /// Block add: out[o·outStride + j] += x[o·inStride + j] for o < outer, j < block (the backward of a slice,
    /// added into its parent's gradient in place).
    public static func addBlocks(x: UnsafePointer<Float>, inStride: Int, out: UnsafeMutablePointer<Float>,
                                 outStride: Int, outer: Int, block: Int) {
        parallelFor(outer, grain: max(1, 32_768 / max(block, 1))) { range in
            for o in range {
                let src = x + o * inStride, dst = out + o * outStride
                for j in 0..<block { dst[j] += src[j] }
            }
        }
    }

    /// Row gather: out[r, :] = table[indices[r], :] for rows of `width` elements.
    public static func gatherRows(table: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>,
                                  count: Int, out: UnsafeMutablePointer<Float>) {
        parallelFor(count, grain: max(1, 16_384 / max(width, 1))) { range in
            for r in range { (out + r * width).update(from: table + Int(indices[r]) * width, count: width) }
        }
    }

    /// Scatter-add, the backward of `gatherRows`: grad[indices[r], :] += src[r, :].
    /// Split over columns, so each element sums its rows in index order whatever the thread count.
    public static func scatterAddRows(src: UnsafePointer<Float>, width: Int, indices: UnsafePointer<Int32>,
                                      count: Int, grad: UnsafeMutablePointer<Float>) {
        parallelFor(width, grain: Swift.max(1, width / 2 > 64 ? 64 : width)) { cols in
            for r in 0..<count {
                let dst = grad + Int(indices[r]) * width, from = src + r * width
                for j in cols { dst[j] += from[j] }
            }
        }
    }

    /// Inclusive prefix sum along the middle axis of [outer, n, inner].
    public static func cumsum(x: UnsafePointer<Float>, outer: Int, n: Int, inner: Int,
                              out: UnsafeMutablePointer<Float>, reverse: Bool = false) {
        parallelFor(outer, grain: 1) { range in
            for o in range {
                let base = o * n * inner
                for step in 0..<n {
                    let j = reverse ? n - 1 - step : step
                    let cur = base + j * inner
                    if step == 0 {
                        (out + cur).update(from: x + cur, count: inner)
                    } else {
                        let prev = base + (reverse ? j + 1 : j - 1) * inner
                        for i in 0..<inner { out[cur + i] = out[prev + i] + x[cur + i] }
                    }
                }
            }
        }
    }
}
