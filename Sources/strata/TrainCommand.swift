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
    @Option(help: ArgumentHelp("Continue the run with this id (or unique prefix) from its last checkpoint, with its own spec "
                               + "and settings; only --steps (a new, larger total), --threads and --checkpoint-every apply.",
                               valueName: "run"))
    var resume: String?
    @Option(help: "Run store directory (default: $STRATA_RUNS or ./runs).")
    var runs: String?
    @Option(help: "Prompt of the sample printed at the end.")
    var prompt = "And God said"
    @Flag(help: "Print the outcome as one JSON object on stdout.")
    var json = false

    func validate() throws {
        guard resume != nil else { return }
        // A resumed run continues with the spec and settings in its checkpoint; a flag that would be ignored
        // silently is refused instead, all of them in one message.
        var ignored = flags.resumeConflicts
        if spec != nil { ignored.insert("the spec argument", at: 0) }
        if !settings.isEmpty { ignored.insert("--set", at: spec != nil ? 1 : 0) }
        if !ignored.isEmpty {
            throw ValidationError("--resume continues a run with the spec and settings stored in its checkpoint, so these would be "
                + "ignored: \(ignored.joined(separator: ", ")); drop them (with --resume only --steps N, a new larger total, "
                + "--threads and --checkpoint-every apply), or start a new run")
        }
    }

    func run() throws {
        let store = try RunStore(root: runs.map { URL(fileURLWithPath: $0) })
        let trainer: Trainer
        if let resume {
            let interval = try flags.checkpointEvery.map { try flags.checkpointInterval($0) }
            trainer = try Trainer(resuming: resume, store: store, threads: flags.threadCount, steps: flags.steps,
                                  checkpointEvery: interval)
        } else {
            let specArgument = spec ?? defaultTrainSpec
            let model = try loadSpec(specArgument, settings: settings)
            trainer = try Trainer(spec: model, config: try flags.config(), store: store, threads: flags.threadCount)
        }
        let outcome: TrainOutcome
        do {
            outcome = try trainer.runTraining()
        } catch {
            // Scripts reading --json get an object for a failed run too (status "failed" and the error).
            if json, let failed = trainer.lastOutcome { try printJSON(failed) }
            throw error
        }
        let interrupted = outcome.status == RunStatus.interrupted.rawValue
        // After Ctrl-C / SIGTERM the user wants the process gone: no sample.
        let text = interrupted ? "" : trainer.sample(prompt: prompt, length: trainer.config.sampleLength, options: SamplingOptions(seed: 1))
        if let id = outcome.runID, !interrupted {
            try? AtomicFile.write(prompt + text + "\n", to: store.root.appendingPathComponent(id).appendingPathComponent("samples.txt"))
        }
        if json {
            try printJSON(outcome)
            if interrupted { throw ExitCode(Interrupt.exitStatus) }
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
        if interrupted {
            print("interrupted; continue with: strata train --resume \(outcome.runID ?? "RUN")")
            throw ExitCode(Interrupt.exitStatus)
        }
        print("sample     \(prompt)\(text)")
    }
}

extension TrainingFlags {
    /// The flags given that `--resume` would ignore (everything but --steps, --threads and --checkpoint-every).
    var resumeConflicts: [String] {
        let given: [(String, Bool)] = [
            ("--time", time != nil), ("--data", data != nil), ("--tokenizer", tokenizer != nil), ("--batch", batch != nil),
            ("--accumulation", accumulation != nil), ("--optimizer", optimizer != nil), ("--lr", lr != nil),
            ("--weight-decay", weightDecay != nil), ("--schedule", schedule != nil), ("--warmup", warmup != nil),
            ("--eval-every", evalEvery != nil), ("--eval-batches", evalBatches != nil), ("--seed", seed != nil),
        ]
        return given.filter(\.1).map(\.0)
    }
}

/// Loads a spec argument with `--set` overrides, printing spec errors in full.
func loadSpec(_ argument: String, settings: [String]) throws -> ModelSpec {
    try Presets.resolve(argument, overrides: try parseSettings(settings))
}
