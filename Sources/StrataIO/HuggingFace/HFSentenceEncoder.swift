import Foundation
import StrataCore
import StrataModels
import StrataNN

/// A sentence-transformers model (Reimers & Gurevych, 2019): a BERT encoder, pooling over the token states
/// (mean over unmasked tokens or [CLS]) and, when modules.json lists `Normalize`, L2 normalization.
/// Inference runs on `HFPackedEncoder` (no padding, no autograd) when the model has its BERT shape.
public final class HFSentenceEncoder {
    /// The imported encoder (its spec's `encoder.pooling` is the pooling mode).
    public let model: TransformerModel
    /// Whether embeddings are scaled to unit L2 norm.
    public let normalize: Bool
    /// The packed inference path over `model`'s weights (nil when the spec is not BERT-shaped).
    public let packed: HFPackedEncoder?

    /// Wraps `model`.
    public init(model: TransformerModel, normalize: Bool) {
        self.model = model
        self.normalize = normalize
        packed = try? HFPackedEncoder(model: model)
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

    /// Embeddings [B, C] of a padded batch of token ids [B·T] with its attention mask (1 token, 0 padding) and
    /// optional token types [B·T]. Right-padded rows (mask 1…1 0…0) go through the packed path with the padding
    /// dropped; any other mask runs the padded model.
    public func embed(ids: [Int32], attentionMask: [Int32], batch: Int, length: Int, tokenTypes: [Int32]? = nil) -> Tensor {
        guard packed != nil, ids.count == batch * length, attentionMask.count == batch * length,
              tokenTypes.map({ $0.count == batch * length }) ?? true else {
            return embedPadded(ids: ids, attentionMask: attentionMask, batch: batch, length: length, tokenTypes: tokenTypes)
        }
        var sequences: [[Int32]] = [], types: [[Int32]] = []
        for b in 0..<batch {
            let row = attentionMask[(b * length)..<((b + 1) * length)]
            let n = row.firstIndex(of: 0).map { $0 - b * length } ?? length
            guard n > 0, row.dropFirst(n).allSatisfy({ $0 == 0 }) else {
                return embedPadded(ids: ids, attentionMask: attentionMask, batch: batch, length: length, tokenTypes: tokenTypes)
            }
            sequences.append(Array(ids[(b * length)..<(b * length + n)]))
            if let tokenTypes { types.append(Array(tokenTypes[(b * length)..<(b * length + n)])) }
        }
        return embed(sequences: sequences, tokenTypes: tokenTypes == nil ? nil : types)
    }

    /// Embeddings [B, C] of unpadded token-id sequences (and optional per-token types), all in one packed pass.
    public func embed(sequences: [[Int32]], tokenTypes: [[Int32]]? = nil) -> Tensor {
        guard let packed else {
            let t = sequences.map(\.count).max() ?? 0
            var ids: [Int32] = [], mask: [Int32] = [], types: [Int32] = []
            for (i, s) in sequences.enumerated() {
                let pad = [Int32](repeating: 0, count: t - s.count)
                ids += s + pad
                mask += [Int32](repeating: 1, count: s.count) + pad
                types += (tokenTypes?[i] ?? [Int32](repeating: 0, count: s.count)) + pad
            }
            return embedPadded(ids: ids, attentionMask: mask, batch: sequences.count, length: t, tokenTypes: types)
        }
        return withNoGrad { normalized(packed.pooled(sequences, tokenTypes: tokenTypes)) }
    }

    /// The slow twin: the padded batch through `TransformerModel.pooled` (masked keys, autograd off).
    public func embedPadded(ids: [Int32], attentionMask: [Int32], batch: Int, length: Int, tokenTypes: [Int32]? = nil) -> Tensor {
        withNoGrad {
            normalized(model.pooled(ids, batch: batch, length: length, attentionMask: attentionMask, tokenTypes: tokenTypes))
        }
    }

    /// x / max(‖x‖₂, 1e-12) per row, as torch.nn.functional.normalize, when the model normalizes.
    func normalized(_ pooled: Tensor) -> Tensor {
        guard normalize else { return pooled }
        let norm = (pooled * pooled).sum(axis: 1, keepDims: true).sqrt().maximum(Tensor([1e-12], shape: [1]))
        return pooled / norm
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
