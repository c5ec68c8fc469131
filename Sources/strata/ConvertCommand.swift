import ArgumentParser
import Foundation
import Strata

/// `strata convert`: rewrites a Pre-LN checkpoint as an equivalent Pre-RMSNorm or Pre-CRMSNorm one.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Pre-LN checkpoint to an equivalent Pre-RMSNorm / Pre-CRMSNorm checkpoint.",
        discussion: """
            Jiang et al., NeurIPS 2023: re-centers every writer of the residual stream, folds LayerNorm shifts into \
            the readers' biases and (crms_norm) drops one stream coordinate. The new checkpoint has no optimizer \
            state; its training config is the source's, so `strata eval` and `strata sample` work on it.
            """)

    @Argument(help: "Checkpoint file, run directory, or run id (or unique prefix).")
    var checkpoint: String
    @Option(help: "Target norm: \(PreLNEquivalence.Target.allCases.map(\.rawValue).joined(separator: " or ")).")
    var to: String
    @Option(help: "Output checkpoint file (.safetensors).")
    var out: String
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if PreLNEquivalence.Target(rawValue: to) == nil {
            throw ValidationError("--to \(to): valid targets are \(PreLNEquivalence.Target.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let source = try TrainedModel(argument: checkpoint, openStore: store.open)
        let converted = try PreLNEquivalence.convert(checkpointModel: source.model, target: to)
        let ckpt = source.checkpoint
        let outURL = URL(fileURLWithPath: out)
        try Checkpoint.save(to: outURL, model: converted, optimizer: nil, config: ckpt.config, step: ckpt.step,
                            plannedSteps: ckpt.plannedSteps, sampler: nil, tokensSeen: ckpt.tokensSeen,
                            elapsedSeconds: ckpt.elapsedSeconds)
        let (relative, absolute) = PreLNEquivalence.logitDifference(source.model, converted)
        print("converted  \(source.checkpointURL.path) → \(outURL.path) (\(to))")
        print("parameters \(TerminalFormat.grouped(source.model.parameterCount)) → \(TerminalFormat.grouped(converted.parameterCount))")
        print("max relative logit difference \(String(format: "%.3e", relative)) (max |Δ| \(String(format: "%.3e", absolute)))")
    }
}
