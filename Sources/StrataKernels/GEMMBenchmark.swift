/// Square single-precision GEMM benchmark: 2n³ FLOPs per call over the median time.
public enum GEMMBenchmark {
    /// Times `sgemm` on n×n matrices with the given transposes on at most `threads` threads.
    /// The result is named `gemm_nn`, `gemm_nt`, `gemm_tn` or `gemm_tt` (A's letter first).
    public static func run(n: Int, transA: Bool, transB: Bool, threads: Int) -> KernelBenchResult {
        precondition(n > 0 && threads > 0, "GEMMBenchmark.run: n=\(n) and threads=\(threads) must be > 0")
        // A, B, C [n×n], 64-byte aligned like tensor storage.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 3 * n * n * 4, alignment: 64)
        defer { raw.deallocate() }
        let a = raw.bindMemory(to: Float.self, capacity: 3 * n * n), b = a + n * n, c = b + n * n
        var state: UInt64 = 42
        for i in 0..<(3 * n * n) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            a[i] = Float(state >> 40) / Float(1 << 23) - 1
        }
        let seconds = Threads.$limit.withValue(threads) {
            BenchTimer.median(warmup: 2, repeats: 7, minSeconds: 0.3) {
                sgemm(transA: transA, transB: transB, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n)
            }
        }
        let name = "gemm_" + (transA ? "t" : "n") + (transB ? "t" : "n")
        let flops = 2 * Double(n) * Double(n) * Double(n)
        return KernelBenchResult(name: name, n: n, threads: threads, gflops: flops / seconds / 1e9, seconds: seconds)
    }
}
