// TEMPORARY: naive stand-ins until the kernel branches merge. Deleted at merge.
import Foundation
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m { for j in 0..<n {
        var s: Float = 0
        for p in 0..<k { s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]) }
        c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j])
    } }
}
public func sgemmBatched(batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int, b: UnsafePointer<Float>, ldb: Int, strideB: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int) {
    for i in 0..<batch { sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc) }
}
public enum GEMMBenchmark { public static func run(n: Int, transA: Bool, transB: Bool, threads: Int) -> KernelBenchResult { KernelBenchResult(name: "stub", n: n, threads: threads, gflops: 0, seconds: 0) } }
