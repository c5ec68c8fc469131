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

    /// Times the decode-shaped product y[1×n] = x[1×k]·Wᵀ (W stored n×k) on at most `threads` threads, cycling
    /// through enough copies of W (≥ 64 MiB) that each call streams its weights from memory as decoding a
    /// model larger than the last-level cache does. Named `gemv_nt`; `n` is the output width, GB/s of weight
    /// traffic is 2 × GFLOP/s. With several threads the columns are always split (whatever the size threshold
    /// of `GEMMConfig.directSplitWork`), so the table shows where a split pays.
    public static func rowVector(k: Int, n: Int, threads: Int) -> KernelBenchResult {
        precondition(k > 0 && n > 0 && threads > 0, "GEMMBenchmark.rowVector: k=\(k), n=\(n), threads=\(threads) must be > 0")
        let copies = max(2, (64 << 20) / (4 * k * n) + 1)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (copies * k * n + k + n) * 4, alignment: 64)
        defer { raw.deallocate() }
        let w = raw.bindMemory(to: Float.self, capacity: copies * k * n + k + n), x = w + copies * k * n, y = x + k
        for i in 0..<(copies * k * n + k) { w[i] = Float(i % 97) * 0.01 - 0.5 }
        var next = 0
        var config = GEMMConfig.detected
        config.directSplitWork = 0
        let seconds = Threads.$limit.withValue(threads) {
            BenchTimer.median(warmup: 2, repeats: 9, minSeconds: 0.2) {
                // 16 calls per sample, each on the next copy, so every call reads cold weights.
                for _ in 0..<16 {
                    sgemm(transA: false, transB: true, m: 1, n: n, k: k, a: x, lda: k, b: w + next * k * n, ldb: k,
                          c: y, ldc: n, config: config)
                    next = (next + 1) % copies
                }
            } / 16
        }
        return KernelBenchResult(name: "gemv_nt", n: n, threads: threads, gflops: 2 * Double(k * n) / seconds / 1e9, seconds: seconds)
    }
}
