import ArgumentParser
import Foundation
import Strata

/// `strata bench …`: release-build measurements that anyone can rerun.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure kernels and workloads.",
        subcommands: [BenchKernels.self, BenchTrain.self, BenchPrefill.self, BenchDecode.self, BenchScaling.self, BenchEmbed.self])
}

/// `strata bench kernels`: GEMM GFLOP/s per transpose case and thread count, and fused attention
/// forward+backward throughput and peak memory against sequence length.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels", abstract: "GEMM and fused-attention throughput (GFLOP/s, tokens/s, peak memory).")

    enum Part: String, ExpressibleByArgument, CaseIterable { case all, gemm, gemv, attention }

    @Flag(help: "Print one JSON object per line instead of a table.")
    var json = false
    @Option(help: "Which kernels to measure: all, gemm, gemv (decode-shaped row vector × weight) or attention.")
    var only: Part = .all
    @Option(parsing: .upToNextOption, help: "GEMM sizes (square).")
    var sizes: [Int] = [256, 512, 1024, 2048]
    @Option(parsing: .upToNextOption, help: "Attention sequence lengths.")
    var lengths: [Int] = [256, 512, 1024, 2048, 4096]
    @Option(parsing: .unconditional, help: "Largest thread count to measure (default: all cores, from STRATA_THREADS or the machine).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if sizes.contains(where: { $0 < 1 }) || lengths.contains(where: { $0 < 1 }) {
            throw ValidationError("--sizes and --lengths must be positive")
        }
    }

    func run() throws {
        let all = min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)
        let threadCounts = all > 1 ? [1, all] : [1]
        if !json {
            print("strata \(StrataVersion.current) · ISA \(VectorISA.detected.rawValue) · up to \(all) threads")
        }
        if only == .all || only == .gemm {
            if !json { print("\nGEMM (square n×n×n, GFLOP/s, median of repeats)") }
            printHeader(["kernel", "n", "threads", "GFLOP/s", "ms"])
            for n in sizes {
                for (ta, tb) in [(false, false), (false, true), (true, false)] {
                    for t in threadCounts {
                        emit(GEMMBenchmark.run(n: n, transA: ta, transB: tb, threads: t))
                    }
                }
            }
        }
        if only == .all || only == .gemv {
            if !json { print("\nDecode-shaped GEMV y = x·Wᵀ, W cold (k → n; weight GB/s = 2 × GFLOP/s)") }
            printHeader(["kernel", "k→n", "threads", "GFLOP/s", "µs", "GB/s"])
            for (k, n) in [(384, 384), (384, 1152), (384, 1536), (1536, 384), (768, 3072)] {
                for t in threadCounts {
                    let r = GEMMBenchmark.rowVector(k: k, n: n, threads: t)
                    if json { emit(r) } else {
                        print(row([r.name, "\(k)→\(n)", "\(t)", String(format: "%.1f", r.gflops),
                                   String(format: "%.1f", r.seconds * 1e6), String(format: "%.1f", 2 * r.gflops)]))
                    }
                }
            }
        }
        if only == .all || only == .attention {
            if !json { print("\nFused attention forward+backward (B=1, H=6, D=64, causal)") }
            printHeader(["kernel", "T", "threads", "GFLOP/s", "ms", "tokens/s", "peak MB", "working MB", "T×T MB"])
            var sets: [(Int, Double)] = []
            for t in lengths {
                let r = AttentionBenchmark.run(t: t, threads: all)
                // What one materialized T×T score matrix per head would take, for comparison.
                emit(r, extra: [String(format: "%.0f", Double(6 * t * t * 4) / 1_048_576)])
                if let w = r.workingSetMB { sets.append((t, w)) }
            }
            if !json, let first = sets.first, let last = sets.last, last.0 > first.0 {
                print(String(format: "working memory grows %.1f× for %.0f× longer sequences (linear: %.0f×, quadratic: %.0f×)",
                             last.1 / max(first.1, 1e-3), Double(last.0) / Double(first.0),
                             Double(last.0) / Double(first.0), pow(Double(last.0) / Double(first.0), 2)))
            }
        }
    }

    private func printHeader(_ columns: [String]) {
        guard !json else { return }
        print(row(columns))
    }

    /// Fixed-width table row: a wide first column for kernel names, then 10-character cells.
    private func row(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in c.padding(toLength: i == 0 ? 18 : 10, withPad: " ", startingAt: 0) }
            .joined(separator: " ")
    }

    private func emit(_ r: KernelBenchResult, extra: [String] = []) {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(r), let line = String(data: data, encoding: .utf8) { print(line) }
        } else {
            var cells = [r.name, "\(r.n)", "\(r.threads)", String(format: "%.1f", r.gflops),
                         String(format: "%.2f", r.seconds * 1000)]
            if let tps = r.tokensPerS { cells.append(String(format: "%.0f", tps)) }
            if let mb = r.peakRSSMB { cells.append(String(format: "%.1f", mb)) }
            if let mb = r.workingSetMB { cells.append(String(format: "%.1f", mb)) }
            print(row(cells + extra))
        }
        fflush(nil)
    }
}
