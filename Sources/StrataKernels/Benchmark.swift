import Foundation

/// One measured kernel benchmark, printed as a table row or one JSON object per line.
public struct KernelBenchResult: Codable, Sendable {
    /// Benchmark name, e.g. `gemm_nn`, `gemm_nt`, `gemm_tn`, `attention_fwd_bwd`.
    public var name: String
    /// Problem size: matrix side for GEMM, sequence length T for attention.
    public var n: Int
    /// Threads the kernel was allowed to use.
    public var threads: Int
    /// Achieved GFLOP/s (median over repeats).
    public var gflops: Double
    /// Median seconds per call.
    public var seconds: Double
    /// Tokens per second, where the benchmark processes tokens.
    public var tokensPerS: Double?
    /// Peak resident memory during the benchmark in MiB, where measured.
    public var peakRSSMB: Double?
    /// Growth of resident memory over what the process held when the benchmark started, in MiB:
    /// what this workload itself needed at its peak.
    public var workingSetMB: Double?

    public init(name: String, n: Int, threads: Int, gflops: Double, seconds: Double,
                tokensPerS: Double? = nil, peakRSSMB: Double? = nil, workingSetMB: Double? = nil) {
        self.name = name; self.n = n; self.threads = threads; self.gflops = gflops
        self.seconds = seconds; self.tokensPerS = tokensPerS; self.peakRSSMB = peakRSSMB
        self.workingSetMB = workingSetMB
    }

    enum CodingKeys: String, CodingKey {
        case name, n, threads, gflops, seconds
        case tokensPerS = "tokens_per_s"
        case peakRSSMB = "peak_rss_mb"
        case workingSetMB = "working_set_mb"
    }
}

/// Timing helpers shared by the kernel benchmarks.
public enum BenchTimer {
    /// Monotonic time in seconds.
    @inline(__always)
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Runs `body` `warmup` times, then until `repeats` runs and at least `minSeconds` have passed;
    /// returns the median seconds per run.
    public static func median(warmup: Int = 1, repeats: Int = 5, minSeconds: Double = 0.2,
                              _ body: () -> Void) -> Double {
        for _ in 0..<warmup { body() }
        var times: [Double] = []
        let start = now()
        while times.count < repeats || (now() - start < minSeconds && times.count < 1000) {
            let t0 = now()
            body()
            times.append(now() - t0)
        }
        times.sort()
        return times[times.count / 2]
    }
}

/// Peak resident set size of this process (Linux `VmHWM`), and a way to reset it between measurements.
public enum PeakMemory {
    /// Resets the kernel's high-water mark so the next `peakMB()` covers only what follows (Linux).
    public static func reset() {
        #if os(Linux)
        if let fd = fopen("/proc/self/clear_refs", "w") { fputs("5", fd); fclose(fd) }
        #endif
    }

    /// Resident memory now in MiB (Linux `VmRSS`; 0 where unavailable).
    public static func currentMB() -> Double { statusField("VmRSS:") ?? 0 }

    private static func statusField(_ key: String) -> Double? {
        #if os(Linux)
        if let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix(key) {
                return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) / 1024
            }
        }
        #endif
        return nil
    }

    /// Peak resident memory in MiB since start or the last `reset()`.
    public static func peakMB() -> Double {
        if let hwm = statusField("VmHWM:") { return hwm }
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / (1024 * 1024)
        #endif
    }
}
