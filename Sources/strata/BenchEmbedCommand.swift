import ArgumentParser
import Foundation
import Strata

/// One `strata bench embed` measurement (printed as one JSON object with --json).
struct EmbedBenchResult: Codable {
    var workload = "embed"
    var model: String
    /// `packed` (the default inference path) or `padded` (the TransformerModel path over padded batches).
    var path: String
    var threads: Int
    var batch: Int
    var sentences: Int
    /// Tokens after tokenization and truncation, [CLS] and [SEP] included.
    var tokens: Int
    /// Median seconds to embed all sentences (tokenization included), after one warm-up round.
    var seconds: Double
    /// Median seconds of the tokenization alone.
    var tokenizeSeconds: Double
    var sentencesPerS: Double
    var tokensPerS: Double
    var peakRSSMB: Double
    var repeats: Int
    /// Mean process CPU seconds (user + system, all threads) per round, warm-up included: steadier than wall
    /// time on a shared machine.
    var cpuSeconds: Double

    enum CodingKeys: String, CodingKey {
        case workload, model, path, threads, batch, sentences, tokens, seconds, repeats
        case tokenizeSeconds = "tokenize_seconds"
        case sentencesPerS = "sentences_per_s"
        case tokensPerS = "tokens_per_s"
        case peakRSSMB = "peak_rss_mb"
        case cpuSeconds = "cpu_seconds"
    }
}

/// `strata bench embed`: sentence-embedding throughput of a sentence-transformers directory on a fixed text set.
struct BenchEmbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Sentence-embedding throughput (sentences/s, tokens/s, peak memory).",
        discussion: "Embeds every text of --file (default bench/data/embed-sentences-256.json: 256 texts of 3–200 words) in batches of --batch texts sorted by token count, as sentence-transformers does; the model is loaded once, one warm-up round runs, and the median of --repeats rounds is reported.")

    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json, modules.json).")
    var model: String
    @Option(help: "Texts: a .json array of strings or one text per line.")
    var file = "bench/data/embed-sentences-256.json"
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @Option(parsing: .unconditional, help: "Texts per forward pass.")
    var batch = 32
    @Option(parsing: .unconditional, help: "Timed rounds (median reported), at least 3.")
    var repeats = 5
    @Option(help: "Inference path: packed (default) or padded (the TransformerModel forward, for comparison).")
    var path = "packed"
    @Option(help: "Write the embeddings of the last round to this .npy file ([N, C] float32, input order).")
    var saveEmbeddings: String?
    @Flag(help: "Print one JSON object instead of a line of text.")
    var json = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1; got \(batch)") }
        guard repeats >= 3 else { throw ValidationError("--repeats must be at least 3; got \(repeats)") }
        guard ["packed", "padded"].contains(path) else { throw ValidationError("--path must be packed or padded; got \(path)") }
    }

    func run() throws {
        let texts = try readTextFile(file)
        guard !texts.isEmpty else { throw CLIError("--file \(file): no texts") }
        let threadCount = min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)
        let result = try Threads.$limit.withValue(threadCount) { () throws -> EmbedBenchResult in
            PeakMemory.reset()
            let embedder = try loadEmbedder(model)
            if path == "packed", embedder.encoder.packed == nil {
                throw CLIError("--model \(model): the model is not BERT-shaped, so it has no packed path; use --path padded")
            }
            let tokens = texts.reduce(0) { $0 + embedder.tokenizer.encoding($1).ids.count }
            let tokenize = BenchTimer.median(warmup: 1, repeats: repeats, minSeconds: 0) {
                _ = texts.map(embedder.tokenizer.encoding)
            }
            var vectors: [[Float]] = []
            let cpuStart = processCPUSeconds()
            let seconds = BenchTimer.median(warmup: 1, repeats: repeats, minSeconds: 0) {
                vectors = path == "packed" ? embedder.embed(texts, batchSize: batch) : embedPadded(texts, embedder)
            }
            let cpu = (processCPUSeconds() - cpuStart) / Double(repeats + 1)
            if let saveEmbeddings {
                do { try SentenceEmbedder.npy(vectors).write(to: URL(fileURLWithPath: saveEmbeddings), options: .atomic) } catch {
                    throw CLIError("--save-embeddings \(saveEmbeddings): cannot write (\(error.localizedDescription))")
                }
            }
            return EmbedBenchResult(model: model, path: path, threads: threadCount, batch: batch, sentences: texts.count,
                                    tokens: tokens, seconds: seconds, tokenizeSeconds: tokenize,
                                    sentencesPerS: Double(texts.count) / seconds, tokensPerS: Double(tokens) / seconds,
                                    peakRSSMB: PeakMemory.peakMB(), repeats: repeats, cpuSeconds: cpu)
        }
        if json {
            try printJSON(result)
        } else {
            print(String(format: "embed %@ (%@): %.1f sentences/s, %.0f tokens/s (%d texts, %d tokens, %.1f ms per round of which tokenization %.1f ms, %.0f CPU ms per round, batch %d, %d threads, peak %.0f MB)",
                         model, path, result.sentencesPerS, result.tokensPerS, texts.count, result.tokens, result.seconds * 1000,
                         result.tokenizeSeconds * 1000, result.cpuSeconds * 1000, batch, threadCount, result.peakRSSMB))
        }
    }

    /// User + system CPU seconds of this process so far.
    private func processCPUSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The same batches as `SentenceEmbedder.embed` through the padded `TransformerModel` forward.
    private func embedPadded(_ texts: [String], _ embedder: SentenceEmbedder) -> [[Float]] {
        let encodings = texts.map(embedder.tokenizer.encoding)
        let order = encodings.indices.sorted { (encodings[$0].ids.count, $0) < (encodings[$1].ids.count, $1) }
        var out = [[Float]](repeating: [], count: texts.count)
        let c = embedder.dimension
        for start in stride(from: 0, to: order.count, by: batch) {
            let group = Array(order[start..<min(start + batch, order.count)])
            let b = WordPieceTokenizer.pad(group.map { encodings[$0] }, padId: embedder.tokenizer.padId)
            let e = embedder.encoder.embedPadded(ids: b.ids, attentionMask: b.attentionMask, batch: b.batch, length: b.length).scalars
            for (row, i) in group.enumerated() { out[i] = Array(e[row * c..<(row + 1) * c]) }
        }
        return out
    }
}
