// Naive GEMM twins: the definition that the fast kernels in GEMM.swift are tested against.
// Sums run in Double, in order over k, so the reference is more accurate than any Float kernel.

/// Reference for `sgemm`: triple loop, Double accumulation, same argument contract.
public func sgemmReference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                           alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, ldb: Int,
                           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemmReference: sizes must be ≥ 0, got m=\(m) n=\(n) k=\(k)")
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]  // op(A)(i, p)
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]  // op(B)(p, j)
                sum += Double(av) * Double(bv)
            }
            let scaled = Double(alpha) * sum
            c[i * ldc + j] = Float(beta == 0 ? scaled : scaled + Double(beta) * Double(c[i * ldc + j]))
        }
    }
}

/// Reference for `sgemmBatched`: the reference GEMM on each matrix in turn.
public func sgemmBatchedReference(batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int,
                                  b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int) {
    for i in 0..<max(0, batch) {
        sgemmReference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                       a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb,
                       beta: beta, c: c + i * strideC, ldc: ldc)
    }
}
