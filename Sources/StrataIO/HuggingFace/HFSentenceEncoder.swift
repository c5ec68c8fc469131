import Foundation
import StrataCore
import StrataModels
import StrataNN

/// A sentence-transformers model (Reimers & Gurevych, 2019): a BERT encoder, pooling over the token states
/// (mean over unmasked tokens or [CLS]) and, when modules.json lists `Normalize`, L2 normalization.
public final class HFSentenceEncoder {
    /// The imported encoder (its spec's `encoder.pooling` is the pooling mode).
    public let model: TransformerModel
    /// Whether embeddings are scaled to unit L2 norm.
    public let normalize: Bool

    /// Wraps `model`.
    public init(model: TransformerModel, normalize: Bool) {
        self.model = model
        self.normalize = normalize
    }

    /// Embedding width C.
    public var dimension: Int { model.spec.dim }

    /// Loads a model directory: config.json, model.safetensors, and (if present) modules.json with its Pooling
    /// module's config.json. Without modules.json: mean pooling, no normalization.
    public static func load(directory: URL) throws -> HFSentenceEncoder {
        let config = try HFBertConfig.load(from: directory.appendingPathComponent("config.json"))
        var spec = config.spec
        var normalize = false
        let modulesURL = directory.appendingPathComponent("modules.json")
        if FileManager.default.fileExists(atPath: modulesURL.path) {
            let modules = try readModules(modulesURL)
            normalize = modules.contains { $0.type.hasSuffix(".Normalize") }
            if let pooling = modules.first(where: { $0.type.hasSuffix(".Pooling") }) {
                spec.encoder.pooling = try readPooling(directory.appendingPathComponent(pooling.path)
                    .appendingPathComponent("config.json"))
            }
            let known = [".Transformer", ".Pooling", ".Normalize"]
            if let other = modules.first(where: { m in !known.contains { m.type.hasSuffix($0) } }) {
                throw HFImportError(file: modulesURL.path, key: "type", "module \"\(other.type)\" is not supported; expected Transformer, Pooling and Normalize modules")
            }
        }
        let weights = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw HFImportError(file: weights.path, key: "", "missing: the model directory needs model.safetensors")
        }
        let model = try HFBertImport.load(config: config, spec: spec, weights: SafeTensorsFile(url: weights))
        return HFSentenceEncoder(model: model, normalize: normalize)
    }

    /// Embeddings [B, C] of a padded batch of token ids [B·T] with its attention mask (1 token, 0 padding).
    public func embed(ids: [Int32], attentionMask: [Int32], batch: Int, length: Int) -> Tensor {
        withNoGrad {
            let pooled = model.pooled(ids, batch: batch, length: length, attentionMask: attentionMask)
            guard normalize else { return pooled }
            // x / max(‖x‖₂, 1e-12), as torch.nn.functional.normalize.
            let norm = (pooled * pooled).sum(axis: 1, keepDims: true).sqrt().maximum(Tensor([1e-12], shape: [1]))
            return pooled / norm
        }
    }

    struct ModuleEntry { var type: String; var path: String }

    static func readModules(_ url: URL) throws -> [ModuleEntry] {
        guard case .array(let list)? = try? SpecJSON.parse(Data(contentsOf: url)) else {
            throw HFImportError(file: url.path, key: "", "expected a JSON array of {\"type\", \"path\"} modules")
        }
        return try list.enumerated().map { i, v in
            guard let o = v.objectValue, let type = o["type"]?.stringValue else {
                throw HFImportError(file: url.path, key: "[\(i)].type", "missing: each module needs a \"type\" string")
            }
            return ModuleEntry(type: type, path: o["path"]?.stringValue ?? "")
        }
    }

    /// "mean" or "cls" from a sentence-transformers Pooling config.
    static func readPooling(_ url: URL) throws -> String {
        guard let o = try? SpecJSON.parse(Data(contentsOf: url)).objectValue else {
            throw HFImportError(file: url.path, key: "", "cannot read the Pooling module's config as a JSON object")
        }
        let modes = o.filter { $0.key.hasPrefix("pooling_mode_") && $0.value == .bool(true) }.map(\.key).sorted()
        switch modes {
        case ["pooling_mode_mean_tokens"]: return "mean"
        case ["pooling_mode_cls_token"]: return "cls"
        default:
            throw HFImportError(file: url.path, key: modes.joined(separator: ", "),
                                "pooling modes \(modes) are not supported; expected exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token")
        }
    }
}
