import ArgumentParser
import Foundation
import Strata

/// The default spec `strata train` trains when given none (chosen by measurement; see README).
let defaultTrainSpec = "default"

/// `strata train`: trains a spec on text, saves the run, prints validation bits per byte and a sample.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a spec on text (default: the default preset on the bundled KJV corpus for 5 minutes).")

    @Argument(help: "Spec file or preset name (default: `default`, i.e. configs/default.json or its built-in copy).")
    var spec: String?
    @Option(name: .customLong("set"), help: "Override a spec value, key.path=value (repeatable).")
    var settings: [String] = []
    @OptionGroup var flags: TrainingFlags
    @Option(help: "Continue the run with this id (or unique prefix) from its last checkpoint.")
    var resume: String?
    @Option(help: "Run store directory (default: $STRATA_RUNS or ./runs).")
    var runs: String?
    @Option(help: "Prompt of the sample printed at the end.")
    var prompt = "And God said"
    @Flag(help: "Print the outcome as one JSON object on stdout.")
    var json = false

    func run() throws {
        let store = try RunStore(root: runs.map { URL(fileURLWithPath: $0) })
        let trainer: Trainer
        if let resume {
            trainer = try Trainer(resuming: resume, store: store, threads: flags.threadCount)
        } else {
            let specArgument = spec ?? defaultTrainSpec
            let model = try loadSpec(specArgument, settings: settings)
            trainer = try Trainer(spec: model, config: try flags.config(), store: store, threads: flags.threadCount)
        }
        let outcome = try trainer.runTraining()
        let text = trainer.sample(prompt: prompt, length: trainer.config.sampleLength, options: SamplingOptions(seed: 1))
        if let id = outcome.runID {
            try? AtomicFile.write(prompt + text + "\n", to: store.root.appendingPathComponent(id).appendingPathComponent("samples.txt"))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(outcome), as: UTF8.self))
            return
        }
        print("")
        print("run        \(outcome.runID ?? "-") (\(outcome.status))")
        print(String(format: "steps      %d (%@ tokens, %.0f s, %.0f tokens/s, peak %.0f MB)", outcome.steps,
                     TerminalFormat.grouped(outcome.tokensSeen), outcome.elapsedSeconds, outcome.tokensPerSecond,
                     outcome.peakMemoryMB))
        if let loss = outcome.validationLoss, let bpb = outcome.validationBPB {
            print(String(format: "validation loss %.4f nats/token, %.4f bits/byte", loss, bpb))
        }
        print("sample     \(prompt)\(text)")
    }
}

/// Loads a spec argument with `--set` overrides, printing spec errors in full.
func loadSpec(_ argument: String, settings: [String]) throws -> ModelSpec {
    try Presets.resolve(argument, overrides: try parseSettings(settings))
}
