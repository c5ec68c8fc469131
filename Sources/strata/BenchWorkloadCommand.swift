import ArgumentParser
import Foundation
import Strata

/// Options shared by the whole-model benchmarks.
struct WorkloadOptions: ParsableArguments {
    @Argument(help: "Spec file or preset name (default: bench-char).")
    var spec: String = "bench-char"
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @Option(name: .customLong("set"), help: "Override a spec value, key.path=value (repeatable).")
    var settings: [String] = []
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    var threadCount: Int { min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount) }

    func loadSpec() throws -> ModelSpec { try Presets.resolve(spec, overrides: try parseSettings(settings)) }

    func emit(_ r: WorkloadResult) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
        } else {
            print(String(format: "%@ %@: %.0f tokens/s (%.1f ms per unit, batch %d × %d, %d threads, %.2f M params, peak %.0f MB)",
                         r.workload, r.spec, r.tokensPerS, r.seconds * 1000, r.batch, r.length, r.threads,
                         Double(r.parameters) / 1e6, r.peakRSSMB))
        }
    }
}

/// Parses `key.path=value` settings.
func parseSettings(_ settings: [String]) throws -> [(String, String)] {
    try settings.map { s in
        guard let eq = s.firstIndex(of: "="), eq != s.startIndex else {
            throw ValidationError("--set expects key.path=value, got \"\(s)\"")
        }
        return (String(s[..<eq]), String(s[s.index(after: eq)...]))
    }
}

/// `strata bench train`: training tokens/s (forward, backward, AdamW) at batch × context.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Training-step throughput of a spec.")
    @OptionGroup var options: WorkloadOptions
    @Option(parsing: .unconditional, help: "Sequences per step.")
    var batch = 8
    func validate() throws {
        if !(1...1_000_000).contains(batch) { throw ValidationError("--batch must be in 1…1000000 (got \(batch))") }
    }
    func run() throws {
        try options.emit(WorkloadBenchmark.train(try options.loadSpec(), batch: batch, threads: options.threadCount))
    }
}

/// `strata bench prefill`: tokens/s of one no-gradient forward over the context at batch 1.
struct BenchPrefill: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prefill", abstract: "Prefill throughput (batch 1).")
    @OptionGroup var options: WorkloadOptions
    func run() throws {
        try options.emit(WorkloadBenchmark.prefill(try options.loadSpec(), threads: options.threadCount))
    }
}

/// `strata bench decode`: batch-1 KV-cached decoding that fills the context from a 1-token prompt.
struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "decode", abstract: "Cached decoding throughput (batch 1).")
    @OptionGroup var options: WorkloadOptions
    func run() throws {
        try options.emit(WorkloadBenchmark.decode(try options.loadSpec(), threads: options.threadCount))
    }
}
