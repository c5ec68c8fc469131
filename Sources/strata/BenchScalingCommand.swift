import ArgumentParser
import Foundation
import Strata

/// `strata bench scaling`: forward+backward time, decode speed, peak memory and decoding-state size of each
/// token mixer against sequence length, with the length where each one overtakes softmax attention.
struct BenchScaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaling",
        abstract: "Token-mixer cost vs sequence length (1 layer, C 64, 2 heads): train time, decode tokens/s, memory, state bytes.")

    @Option(help: "Sequence lengths, comma-separated (16384 works too but takes minutes per mixer).")
    var lengths = "256,512,1024,2048,4096"
    @Option(help: "Token mixers, comma-separated catalog ids; softmax_attention is the crossover reference.")
    var mixers = "softmax_attention,linear_attention,gla,gated_deltanet,mamba2"
    @Option(parsing: .unconditional, help: "Decoding steps timed after a prefill of T minus this many tokens.")
    var decodeTokens = 32
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @Flag(help: "Print one JSON object per (mixer, length) instead of a table.")
    var json = false

    func run() throws {
        let ts = try lengths.split(separator: ",").map { text -> Int in
            guard let v = Int(text.trimmingCharacters(in: .whitespaces)), v >= 2 else {
                throw ValidationError("--lengths: \"\(text)\" is not an integer ≥ 2")
            }
            return v
        }
        let ids = mixers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !ts.isEmpty, !ids.isEmpty else { throw ValidationError("--lengths and --mixers must not be empty") }
        if decodeTokens < 1 { throw ValidationError("--decode-tokens must be at least 1") }
        let threadCount = min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)
        if !json {
            print("strata \(StrataVersion.current) · 1 layer, C 64, 2 heads, batch 1, no channel mixer · \(threadCount) threads")
        }
        var table = TextTable(headers: ["mixer", "T", "fwd+bwd ms", "train tok/s", "peak MB", "decode tok/s", "state KB"])
        var points: [ScalingPoint] = []
        for id in ids {
            for t in ts {
                let p = try ScalingBenchmark.measure(mixer: id, length: t, decodeTokens: decodeTokens, threads: threadCount)
                points.append(p)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    print(String(decoding: try encoder.encode(p), as: UTF8.self))
                    fflush(nil)
                } else {
                    FileHandle.standardError.write(Data("  \(id) T=\(t) done\n".utf8))
                }
                table.addRow([id, "\(t)", String(format: "%.1f", p.trainSeconds * 1000), String(format: "%.0f", p.trainTokensPerS),
                              String(format: "%.0f", p.trainPeakMB), String(format: "%.0f", p.decodeTokensPerS),
                              String(format: "%.1f", Double(p.stateBytes) / 1024)])
            }
        }
        guard !json else { return }
        print(table.render())
        guard ids.contains("softmax_attention") else { return }
        print("crossover (forward+backward faster than softmax_attention from this length on, among those measured):")
        for id in ids where id != "softmax_attention" {
            let c = ScalingBenchmark.crossover(points, mixer: id)
            print("  \(id): " + (c.map { $0 == ts.min() ? "≤ \($0)" : "\($0)" } ?? "not within \(ts.max()!)"))
        }
    }
}
