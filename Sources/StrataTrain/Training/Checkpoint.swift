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

    /// Writes model, optimizer and loop state to `url` atomically.
    public static func save(to url: URL, model: TransformerModel, optimizer: (any Optimizer)?, config: TrainConfig?,
                            step: Int, plannedSteps: Int, sampler: BatchSampler.State?, tokensSeen: Int,
                            elapsedSeconds: Double) throws {
        var tensors = model.stateDict().map { ("model.\($0.0)", $0.1) }
        if let optimizer { tensors += optimizer.state().map { ("optimizer.\($0.0)", $0.1) } }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var metadata = [
            "format": format, "spec": model.spec.json.jsonText(pretty: false), "step": "\(step)",
            "planned_steps": "\(plannedSteps)", "tokens_seen": "\(tokensSeen)", "elapsed_s": "\(elapsedSeconds)",
        ]
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
        let config = try meta["config"].map { try decoder.decode(TrainConfig.self, from: Data($0.utf8)) }
        let sampler = try meta["sampler"].map { try decoder.decode(BatchSampler.State.self, from: Data($0.utf8)) }
        var model: [String: Tensor] = [:], optimizer: [String: Tensor] = [:]
        for name in file.names {
            if name.hasPrefix("model.") { model[String(name.dropFirst(6))] = try file.tensor(name) }
            else if name.hasPrefix("optimizer.") { optimizer[String(name.dropFirst(10))] = try file.tensor(name) }
        }
        guard let step = Int(try field("step")), let planned = Int(try field("planned_steps")) else {
            throw CheckpointError(file: url.path, message: "step or planned_steps is not an integer")
        }
        return Checkpoint(spec: spec, config: config, step: step, plannedSteps: planned, sampler: sampler,
                          tokensSeen: Int(meta["tokens_seen"] ?? "") ?? 0, elapsedSeconds: Double(meta["elapsed_s"] ?? "") ?? 0,
                          model: model, optimizer: optimizer)
    }

    /// Builds the model and loads the weights.
    public func makeModel() throws -> TransformerModel {
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
