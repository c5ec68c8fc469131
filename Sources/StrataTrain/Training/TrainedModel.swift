import Foundation
import StrataCore
import StrataKernels
import StrataModels

/// A trained model ready to evaluate or sample (`strata eval`, `strata sample`, `strata convert`): a checkpoint
/// found from a run id or a file, its weights loaded, with the tokenizer and training config it was trained with.
public struct TrainedModel {
    /// The checkpoint as read (spec, config, loop position, tensors).
    public let checkpoint: Checkpoint
    /// Where it was read from.
    public let checkpointURL: URL
    /// The run it belongs to, when given as a run id.
    public let runID: String?
    /// The model with the checkpoint's weights.
    public let model: TransformerModel
    /// The run's training config, or `TrainConfig()` defaults for a checkpoint saved without one.
    public let config: TrainConfig
    /// The tokenizer named by `config.tokenizer`.
    public let tokenizer: any Tokenizer

    /// Loads `argument`: an existing checkpoint file, a run directory, or a run id (or unique prefix) in the store
    /// `openStore` opens (called only when needed, so evaluating a file never creates a runs directory).
    public init(argument: String, openStore: () throws -> RunStore) throws {
        let (url, runID) = try TrainedModel.locate(argument, openStore: openStore)
        let ckpt = try Checkpoint.load(url)
        if let runID, let writer = ckpt.runID, writer != runID {
            throw TrainingSetupError("\(url.path) was written by run \(writer), not by run \(runID) whose directory holds it "
                                     + "(copied in?); evaluate the file directly or put it back in run \(writer)")
        }
        checkpoint = ckpt
        checkpointURL = url
        self.runID = runID
        model = try ckpt.makeModel()
        config = ckpt.config ?? TrainConfig()
        do { tokenizer = try Trainer.makeTokenizer(config.tokenizer) } catch {
            throw TrainingSetupError("\(url.path): cannot load the tokenizer \"\(config.tokenizer)\" named by its training "
                                     + "config (paths are relative to where training ran): \(error)")
        }
        guard tokenizer.vocabSize <= ckpt.spec.vocabSize else {
            throw TrainingSetupError("\(url.path): tokenizer \(config.tokenizer) has \(tokenizer.vocabSize) tokens but the "
                                     + "model's vocab_size is \(ckpt.spec.vocabSize)")
        }
    }

    /// The checkpoint file and run id for an argument (file path, run directory, or run id / prefix).
    public static func locate(_ argument: String, openStore: () throws -> RunStore) throws -> (URL, String?) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
            let url = URL(fileURLWithPath: argument)
            guard isDirectory.boolValue else { return (url, nil) }
            let latest = url.appendingPathComponent("checkpoints/latest.safetensors")
            guard FileManager.default.fileExists(atPath: latest.path) else {
                throw TrainingSetupError("\(argument) is a directory without checkpoints/latest.safetensors; give a run id, "
                                         + "a run directory or a .safetensors checkpoint")
            }
            return (latest, url.lastPathComponent)
        }
        let run = try openStore().run(id: argument)
        let latest = run.checkpointsDirectory.appendingPathComponent("latest.safetensors")
        guard FileManager.default.fileExists(atPath: latest.path) else {
            throw TrainingSetupError("run \(run.id) (\(run.status.rawValue)) has no checkpoint at \(latest.path); "
                                     + "a run saves one at its first evaluation")
        }
        return (latest, run.id)
    }

    /// Validation loss and bits per byte on the same deterministic split training used: the config's data (or
    /// `data`), validation fraction, batch size and evaluation batches (or `batches`), over the model's context.
    public func evaluate(data: String? = nil, batches: Int? = nil, threads: Int) throws -> EvaluationSummary {
        if let batches, batches < 1 { throw TrainingSetupError("--batches must be at least 1 (got \(batches))") }
        let path = data ?? config.data
        let dataset = try Trainer.loadData(path, tokenizer: tokenizer)
        let (_, validation) = try dataset.trainingSplit(validationFraction: config.validationFraction, context: checkpoint.spec.contextLength)
        let set = try EvaluationBatches(split: validation, batchSize: config.batchSize, context: checkpoint.spec.contextLength,
                                        maxBatches: batches ?? config.evalBatches)
        let bytes = set.targetByteCount(using: tokenizer)
        let (loss, bpb) = Threads.$limit.withValue(threads) { evaluateLoss(model, on: set, bytes: bytes) }
        return EvaluationSummary(runID: runID, checkpoint: checkpointURL.path, step: checkpoint.step, data: path,
                                 loss: loss, bpb: bpb, tokens: set.targetTokenCount, bytes: bytes, batches: set.count)
    }

    /// Continues `prompt` by `tokens` tokens, handing each token's bytes to `onBytes` as it is produced (a multi-byte
    /// character may span tokens, so callers write bytes, not strings). Returns the generated text.
    public func sample(prompt: String, tokens: Int, options: SamplingOptions, threads: Int,
                       onBytes: ([UInt8]) -> Void = { _ in }) -> String {
        var ids = tokenizer.encode(prompt)
        if ids.isEmpty { ids = tokenizer.encode("\n") }
        let out = Threads.$limit.withValue(threads) {
            generate(model, prompt: ids, maxTokens: tokens, options: options) { onBytes(tokenizer.decodeBytes([$0])) }
        }
        return tokenizer.decode(out)
    }
}

/// The result of `TrainedModel.evaluate` (the JSON of `strata eval --json`).
public struct EvaluationSummary: Codable, Sendable, Equatable {
    /// Run id, when evaluated from a run.
    public var runID: String?
    /// Checkpoint file.
    public var checkpoint: String
    /// Optimizer step of the checkpoint.
    public var step: Int
    /// Data file evaluated on.
    public var data: String
    /// Mean validation loss in nats per token.
    public var loss: Double
    /// Validation bits per byte.
    public var bpb: Double
    /// Predicted tokens.
    public var tokens: Int
    /// Bytes those tokens stand for.
    public var bytes: Int
    /// Evaluation batches.
    public var batches: Int

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", checkpoint, step, data, loss = "val_loss", bpb = "val_bpb", tokens, bytes, batches
    }
}

/// Mean loss (nats per token) and bits per byte of `model` over `set`, in evaluation mode without gradients; the
/// computation `Trainer.evaluation` and `strata eval` use.
public func evaluateLoss(_ model: TransformerModel, on set: EvaluationBatches, bytes: Int) -> (loss: Double, bpb: Double) {
    let wasTraining = model.isTraining
    model.train(false)
    defer { model.train(wasTraining) }
    var total = 0.0, tokens = 0
    for batch in set {
        let loss = withNoGrad {
            model.loss(inputs: batch.inputs, targets: batch.targets, batch: batch.batchSize, length: batch.context)
        }
        total += Double(loss.item) * Double(batch.targets.count)
        tokens += batch.targets.count
    }
    let mean = total / Double(max(tokens, 1))
    return (mean, bitsPerByte(meanLoss: mean, tokenCount: tokens, byteCount: bytes))
}
