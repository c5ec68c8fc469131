import Foundation
import StrataCore
import StrataIO
import StrataModels
import StrataNN

/// A training checkpoint: one safetensors file holding the model weights (`model.*`), the optimizer state
/// (`optimizer.*`) and, in its metadata, the spec, the training config and the loop position (step, planned
/// steps, sampler state). Written atomically (temporary file, fsync, rename), so a crash or Ctrl-C leaves
/// either the previous checkpoint or the new one, never half of one.
public struct Checkpoint {
    /// Format tag stored in the metadata.
    public static let format = "strata-checkpoint-1"

    public var spec: ModelSpec
    public var config: TrainConfig?
    public var step: Int
    public var plannedSteps: Int
    public var sampler: BatchSampler.State?
    public var tokensSeen: Int
    public var elapsedSeconds: Double
    /// Model tensors by state-dict name (without the `model.` prefix).
    public var model: [String: Tensor]
    /// Optimizer tensors by name (without the `optimizer.` prefix).
    public var optimizer: [String: Tensor]
    /// The run that wrote the checkpoint (absent in checkpoints from before it was recorded, and in imports).
    public var runID: String? = nil

    /// Writes model, optimizer and loop state to `url` atomically.
    public static func save(to url: URL, model: TransformerModel, optimizer: (any Optimizer)?, config: TrainConfig?,
                            step: Int, plannedSteps: Int, sampler: BatchSampler.State?, tokensSeen: Int,
                            elapsedSeconds: Double, runID: String? = nil) throws {
        var tensors = model.stateDict().map { ("model.\($0.0)", $0.1) }
        if let optimizer { tensors += optimizer.state().map { ("optimizer.\($0.0)", $0.1) } }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var metadata = [
            "format": format, "spec": model.spec.json.jsonText(pretty: false), "step": "\(step)",
            "planned_steps": "\(plannedSteps)", "tokens_seen": "\(tokensSeen)", "elapsed_s": "\(elapsedSeconds)",
        ]
        if let runID { metadata["run_id"] = runID }
        if let config { metadata["config"] = String(decoding: try encoder.encode(config), as: UTF8.self) }
        if let sampler { metadata["sampler"] = String(decoding: try encoder.encode(sampler), as: UTF8.self) }
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: url)
    }

    /// Reads a checkpoint written by `save` (errors name the file and the missing or malformed field).
    public static func load(_ url: URL) throws -> Checkpoint {
        let file = try SafeTensorsFile(url: url)
        let meta = file.metadata
        func field(_ key: String) throws -> String {
            guard let v = meta[key] else { throw CheckpointError(file: url.path, message: "metadata has no \"\(key)\"; not a Strata checkpoint?") }
            return v
        }
        guard try field("format") == format else {
            throw CheckpointError(file: url.path, message: "unknown checkpoint format \(meta["format"] ?? "")")
        }
        let spec = try ModelSpec.parse(Data(try field("spec").utf8), file: "\(url.path) (metadata spec)")
        let decoder = JSONDecoder()
        let config: TrainConfig?, sampler: BatchSampler.State?
        do {
            config = try meta["config"].map { try decoder.decode(TrainConfig.self, from: Data($0.utf8)) }
            sampler = try meta["sampler"].map { try decoder.decode(BatchSampler.State.self, from: Data($0.utf8)) }
        } catch {
            throw CheckpointError(file: url.path, message: "metadata config or sampler is malformed: \(error)")
        }
        if let config {
            // What evaluation and sampling read from the config (the budget is checked only when training resumes).
            var problems: [String] = []
            if !(config.validationFraction > 0 && config.validationFraction < 0.5) {
                problems.append("validation_fraction \(config.validationFraction) is not in (0, 0.5)")
            }
            if config.batchSize < 1 { problems.append("batch_size \(config.batchSize) is below 1") }
            if config.evalBatches < 1 { problems.append("eval_batches \(config.evalBatches) is below 1") }
            if config.accumulation < 1 { problems.append("accumulation \(config.accumulation) is below 1") }
            if !problems.isEmpty {
                throw CheckpointError(file: url.path, message: "its training config (metadata \"config\") cannot be used: "
                                      + problems.joined(separator: "; "))
            }
        }
        guard let step = Int(try field("step")), let planned = Int(try field("planned_steps")), step >= 0, planned >= 0 else {
            throw CheckpointError(file: url.path, message: "step or planned_steps is not a non-negative integer")
        }
        // Every tensor is checked from the header before any is decoded: weights are floating point (an I32 tensor
        // converted to float would be garbage weights, not an error), and the spec's trainable parameters fit in
        // what the file holds, so a small file whose spec claims a huge model is refused before the model is built.
        var modelScalars = 0
        for info in file.infos where info.name.hasPrefix("model.") || info.name.hasPrefix("optimizer.") {
            guard info.dtype.isFloatingPoint else {
                throw CheckpointError(file: url.path, message: "tensor \(info.name) is \(info.dtype.rawValue); checkpoint "
                                      + "weights and optimizer state are floating point (F32, F16, BF16 or F64)")
            }
            if info.name.hasPrefix("model.") { modelScalars += info.count }
        }
        let needed = spec.expectedParameterCount
        guard needed <= modelScalars else {
            throw CheckpointError(file: url.path, message: "its spec has \(needed) parameters but the file holds only "
                                  + "\(modelScalars) model scalars; the metadata spec does not match the weights")
        }
        var model: [String: Tensor] = [:], optimizer: [String: Tensor] = [:]
        for name in file.names {
            let isModel = name.hasPrefix("model."), isOptimizer = name.hasPrefix("optimizer.")
            guard isModel || isOptimizer else { continue }
            let t = try file.tensor(name)
            if let bad = t.scalars.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError(file: url.path, message: "tensor \(name) holds a non-finite value (\(t.scalars[bad]) at "
                                      + "flat index \(bad)); the weights are corrupt or training diverged before this save")
            }
            if isModel { model[String(name.dropFirst(6))] = t } else { optimizer[String(name.dropFirst(10))] = t }
        }
        return Checkpoint(spec: spec, config: config, step: step, plannedSteps: planned, sampler: sampler,
                          tokensSeen: Int(meta["tokens_seen"] ?? "") ?? 0, elapsedSeconds: Double(meta["elapsed_s"] ?? "") ?? 0,
                          model: model, optimizer: optimizer, runID: meta["run_id"])
    }

    /// Builds the model and loads the weights (shapes checked against the spec first, naming each mismatch).
    public func makeModel() throws -> TransformerModel {
        try spec.requireModelFits()
        let m = try TransformerModel(spec: spec, seed: 0)
        try m.load(stateDict: model)
        return m
    }
}

/// A checkpoint that cannot be read, with its file.
public struct CheckpointError: Error, CustomStringConvertible {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}
