import ArgumentParser
import Foundation
import Strata

/// `strata sample`: streams a continuation of a prompt from a run's (or a file's) checkpoint.
struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Generate text from a run or checkpoint, streamed token by token.",
        discussion: "Uses the run's tokenizer (its config's `tokenizer`). --greedy (or --temperature 0) picks the argmax.")

    @Argument(help: ArgumentHelp("Run id (or unique prefix), run directory, or .safetensors checkpoint.", valueName: "run"))
    var target: String
    @Option(help: "Text to continue.")
    var prompt = "And God said"
    @Option(parsing: .unconditional, help: "Tokens to generate.")
    var tokens = 300
    @Option(parsing: .unconditional, help: "Softmax temperature (0: greedy).")
    var temperature: Float = 0.8
    @Option(parsing: .unconditional, help: "Keep only the K most likely tokens (0: off).")
    var topK = 0
    @Option(parsing: .unconditional, help: "Keep the smallest set of tokens whose probability reaches P (1: off).")
    var topP: Float = 1
    @Option(parsing: .unconditional, help: "Drop tokens less likely than M × the most likely one (0: off).")
    var minP: Float = 0
    @Option(parsing: .unconditional, help: "Sampling seed.")
    var seed: UInt64 = 1
    @Flag(help: "Always pick the most likely token.")
    var greedy = false
    @Flag(help: "Do not echo the prompt before the continuation.")
    var noPrompt = false
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if tokens < 1 { throw ValidationError("--tokens must be at least 1 (got \(tokens))") }
        if !(temperature >= 0) { throw ValidationError("--temperature must be ≥ 0 (got \(temperature))") }
        if topK < 0 { throw ValidationError("--top-k must be ≥ 0 (got \(topK))") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1] (got \(topP))") }
        if !(minP >= 0 && minP < 1) { throw ValidationError("--min-p must be in [0, 1) (got \(minP))") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let trained = try TrainedModel(argument: target, openStore: store.open)
        let options = SamplingOptions(temperature: greedy ? 0 : temperature, topK: topK, topP: topP, minP: minP, seed: seed)
        let out = FileHandle.standardOutput
        if !noPrompt { out.write(Data(prompt.utf8)) }
        // Raw bytes, one write per token: a character split over two tokens is joined by the terminal.
        _ = trained.sample(prompt: prompt, tokens: tokens, options: options,
                           threads: min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)) {
            out.write(Data($0))
        }
        out.write(Data("\n".utf8))
    }
}
