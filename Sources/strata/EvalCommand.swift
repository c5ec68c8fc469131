import ArgumentParser
import Foundation
import Strata

/// The run store location shared by every command that reads or writes runs.
struct StoreOptions: ParsableArguments {
    @Option(help: "Run store directory (default: $STRATA_RUNS or ./runs).")
    var runs: String?

    /// Opens (creating if needed) the store.
    func open() throws -> RunStore { try RunStore(root: runs.map { URL(fileURLWithPath: $0) }) }
}

/// A failure at run time (after the arguments parsed), said in terms of the file or run at fault.
struct CLIError: Error, CustomStringConvertible {
    /// The message for users.
    var description: String
    init(_ message: String) { description = message }
}

/// Prints `value` as one line of sorted-key JSON on stdout.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `strata eval`: validation loss and bits per byte of a run's (or a file's) checkpoint on the training split.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a run or checkpoint: validation loss and bits per byte.",
        discussion: """
            Uses the same deterministic validation split as training: the run's data, validation fraction, batch \
            size and evaluation batches (defaults for a checkpoint saved without a training config).
            """)

    @Argument(help: ArgumentHelp("Run id (or unique prefix), run directory, or .safetensors checkpoint.", valueName: "run"))
    var target: String
    @Option(help: "Evaluate on this text or token file instead of the run's data.")
    var data: String?
    @Option(parsing: .unconditional, help: "Evaluation batches (default: the run's eval_batches).")
    var batches: Int?
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @Flag(help: "Print one JSON object instead of text.")
    var json = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let batches, batches < 1 { throw ValidationError("--batches must be at least 1 (got \(batches))") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let trained = try TrainedModel(argument: target, openStore: store.open)
        let threadCount = min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)
        let result = try trained.evaluate(data: data, batches: batches, threads: threadCount)
        if json { try printJSON(result); return }
        print("checkpoint \(result.checkpoint) (step \(result.step))")
        print("data       \(result.data): \(result.batches) batches, \(TerminalFormat.grouped(result.tokens)) tokens, "
              + "\(TerminalFormat.grouped(result.bytes)) bytes")
        print("validation loss \(TerminalFormat.fixed(result.loss, 4)) nats/token, \(TerminalFormat.fixed(result.bpb, 4)) bits/byte")
    }
}
