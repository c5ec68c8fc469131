import StrataKernels

// Matrix products over the last two axes with NumPy batch broadcasting. Transposes are GEMM flags, never
// copies, so `x.matmul(w, transposeB: true)` (a Linear layer with W [out, in]) costs one NT GEMM and its
// backward one NN and one TN GEMM.

extension Tensor {
    /// self [..., M, K] × other [..., K, N] → [..., M, N]; with `transposeA`/`transposeB` the last two
    /// axes of that operand are read swapped. Batch axes broadcast.
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        let a = self, b = other
        let value = Tensor.matmulValue(a, transposeA, b, transposeB)
        return Tensor.record("matmul", value, [a, b]) { g in
            let ga: Tensor? = a.node == nil ? nil : (transposeA
                ? Tensor.matmulValue(b, transposeB, g, true)     // dAᵀ = op(B) gᵀ
                : Tensor.matmulValue(g, false, b, !transposeB)).sumToShape(a.shape)
            let gb: Tensor? = b.node == nil ? nil : Tensor.weightGradient(a, transposeA, g, transposedResult: transposeB, bShape: b.shape)
            return [ga, gb]
        }
    }

    /// Gradient of the right operand: op(A)ᵀ g, summed over broadcast batch axes, stored as `bShape`
    /// (transposed when B was read transposed). A 2-D B takes one GEMM over the flattened batch.
    private static func weightGradient(_ a: Tensor, _ transA: Bool, _ g: Tensor,
                                       transposedResult: Bool, bShape: [Int]) -> Tensor {
        if bShape.count == 2 && !transA {
            let k = a.shape[a.rank - 1], n = g.shape[g.rank - 1]
            let rows = a.count / Swift.max(k, 1)
            let a2 = a.reshaped([rows, k]), g2 = g.reshaped([rows, n])
            return transposedResult ? matmulValue(g2, true, a2, false) : matmulValue(a2, true, g2, false)
        }
        let full = transposedResult ? matmulValue(g, true, a, transA) : matmulValue(a, !transA, g, false)
        return full.sumToShape(bShape)
    }

    /// Shape of op(x)'s last two axes.
    private static func matrixDims(_ x: Tensor, _ trans: Bool, op: String) -> (rows: Int, cols: Int) {
        guard x.rank >= 2 else { shapeError(op, "operands need at least 2 dimensions, got \(x.shape)") }
        let r = x.shape[x.rank - 2], c = x.shape[x.rank - 1]
        return trans ? (c, r) : (r, c)
    }

    /// The product without autograd: one GEMM, or one batched GEMM with stride-0 broadcasting.
    static func matmulValue(_ a: Tensor, _ transA: Bool, _ b: Tensor, _ transB: Bool) -> Tensor {
        let (m, k) = matrixDims(a, transA, op: "matmul")
        let (k2, n) = matrixDims(b, transB, op: "matmul")
        guard k == k2 else {
            shapeError("matmul", "inner dimensions differ: \(a.shape)\(transA ? "ᵀ" : "") × \(b.shape)\(transB ? "ᵀ" : "") (\(k) vs \(k2))")
        }
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        guard let batchShape = Shape.broadcast(aBatch, bBatch) else {
            shapeError("matmul", "batch dimensions of \(a.shape) and \(b.shape) cannot be broadcast")
        }
        let batch = Shape.count(batchShape)
        let out = Tensor(uninitialized: batchShape + [m, n])
        let lda = a.shape[a.rank - 1], ldb = b.shape[b.rank - 1]
        // A non-transposed A whose batch is its own and B shared by all: one tall GEMM.
        if !transA && bBatch.allSatisfy({ $0 == 1 }) && aBatch == batchShape {
            sgemm(transA: false, transB: transB, m: batch * m, n: n, k: k, a: a.pointer, lda: lda,
                  b: b.pointer, ldb: ldb, c: out.pointer, ldc: n)
            return out
        }
        let (av, sa) = batchOperand(a, aBatch, batchShape)
        let (bv, sb) = batchOperand(b, bBatch, batchShape)
        // av/bv may be fresh expanded copies whose only use is their pointer: keep them alive for the call.
        withExtendedLifetime((av, bv)) {
            sgemmBatched(batch: batch, transA: transA, transB: transB, m: m, n: n, k: k,
                         a: av.pointer, lda: lda, strideA: sa, b: bv.pointer, ldb: ldb, strideB: sb,
                         c: out.pointer, ldc: n, strideC: m * n)
        }
        return out
    }

    /// An operand laid out for a batched GEMM over `batchShape`: shared (stride 0), own, or expanded.
    private static func batchOperand(_ x: Tensor, _ own: [Int], _ batchShape: [Int]) -> (Tensor, Int) {
        let matrix = x.shape[x.rank - 2] * x.shape[x.rank - 1]
        if Shape.count(own) == 1 { return (x, 0) }
        if own == batchShape { return (x, matrix) }
        let target = batchShape + Array(x.shape.suffix(2))
        return (x.expandedValue(target), matrix)
    }
}

/// Fused affine map y = x Wᵀ + b over the last axis: x [..., I], weight [O, I], bias [O] → [..., O].
/// One GEMM accumulates onto the bias rows (no separate broadcast add), and the backward computes the bias
/// gradient as a column sum instead of a broadcast reduction. Its composed twin is
/// `x.matmul(weight, transposeB: true) + bias` (tests tie the two together).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    guard weight.rank == 2, let inputs = x.shape.last, inputs == weight.shape[1] else {
        shapeError("linear", "input \(x.shape) does not end in the \(weight.rank == 2 ? weight.shape[1] : -1) features of weight \(weight.shape)")
    }
    let outputs = weight.shape[0]
    if let bias, bias.shape != [outputs] {
        shapeError("linear", "bias \(bias.shape) does not match \(outputs) outputs of weight \(weight.shape)")
    }
    let rows = x.count / Swift.max(inputs, 1)
    let outShape = Array(x.shape.dropLast()) + [outputs]
    let out = Tensor(uninitialized: outShape)
    if let bias {
        for r in 0..<rows { (out.pointer + r * outputs).update(from: bias.pointer, count: outputs) }
    }
    let config = GEMMConfig.detected
    if !GradMode.isEnabled && rows > config.directRows && rows * outputs * inputs > config.directFlops && inputs > 0 {
        // Inference multiplies the same weights call after call: reuse their packing (same bits, no repacking).
        let packed = weight.storage.packedTransposed(offset: weight.offset, rows: outputs, columns: inputs)
        sgemm(transA: false, m: rows, a: x.pointer, lda: inputs, packed: packed, b: weight.pointer,
              beta: bias == nil ? 0 : 1, c: out.pointer, ldc: outputs)
    } else {
        sgemm(transA: false, transB: true, m: rows, n: outputs, k: inputs, a: x.pointer, lda: inputs,
              b: weight.pointer, ldb: inputs, beta: bias == nil ? 0 : 1, c: out.pointer, ldc: outputs)
    }
    let inputsList = bias.map { [x, weight, $0] } ?? [x, weight]
    return Tensor.record("linear", out, inputsList) { g in
        var grads: [Tensor?] = []
        if x.node != nil {
            let dx = Tensor(uninitialized: x.shape)
            sgemm(transA: false, transB: false, m: rows, n: inputs, k: outputs, a: g.pointer, lda: outputs,
                  b: weight.pointer, ldb: inputs, c: dx.pointer, ldc: inputs)
            grads.append(dx)
        } else {
            grads.append(nil)
        }
        if weight.node != nil {
            let dw = Tensor(uninitialized: weight.shape)                       // [O, I] = gᵀ x
            sgemm(transA: true, transB: false, m: outputs, n: inputs, k: rows, a: g.pointer, lda: outputs,
                  b: x.pointer, ldb: inputs, c: dw.pointer, ldc: inputs)
            grads.append(dw)
        } else {
            grads.append(nil)
        }
        if let bias {
            if bias.node != nil {
                let db = Tensor(uninitialized: [outputs])
                ReduceKernels.sum(x: g.pointer, outer: 1, n: rows, inner: outputs, out: db.pointer)
                grads.append(db)
            } else {
                grads.append(nil)
            }
        }
        return grads
    }
}
