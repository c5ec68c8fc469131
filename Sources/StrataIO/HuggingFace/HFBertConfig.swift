import Foundation
import StrataModels

/// A Hugging Face import problem: names the file, the key or tensor at fault, and what would be valid.
public struct HFImportError: Error, CustomStringConvertible, Equatable {
    /// File (config.json, model.safetensors, modules.json …).
    public var file: String
    /// JSON key or tensor name, or "" for the file as a whole.
    public var key: String
    /// What is wrong and what would be valid.
    public var message: String

    /// An error about `key` in `file`.
    public init(file: String, key: String, _ message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String { key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)" }
}

/// The fields of a BERT `config.json` that shape the network (dropouts and training-only keys are ignored).
/// RoBERTa / XLM-R configs (`model_type` roberta, xlm-roberta) are the same network with positions offset.
public struct HFBertConfig: Equatable, Sendable {
    /// `bert`, `roberta` or `xlm-roberta`.
    public var modelType: String = "bert"
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    /// `gelu` (erf), `gelu_new` / `gelu_pytorch_tanh` (tanh approximation) or `relu`.
    public var hiddenAct: String
    public var layerNormEps: Float
    /// First row of the HF position table that position 0 reads: 0 for BERT; padding_idx + 1 (= pad_token_id + 1,
    /// usually 2) for RoBERTa, whose position ids count non-pad tokens from padding_idx + 1 (Liu et al., 2019, as
    /// implemented in fairseq and transformers).
    public var positionOffset: Int = 0

    /// Hugging Face tensor-name prefix of checkpoints saved from a task model (BertForX, RobertaForX).
    public var weightPrefix: String { modelType == "bert" ? "bert." : "roberta." }

    /// Reads `config.json`; every missing or unsupported field is reported with its key.
    public static func load(from url: URL) throws -> HFBertConfig {
        let file = url.path
        let root: [String: SpecJSON]
        do {
            guard let o = try SpecJSON.parse(Data(contentsOf: url)).objectValue else {
                throw HFImportError(file: file, key: "", "expected a JSON object")
            }
            root = o
        } catch let e as HFImportError { throw e } catch {
            throw HFImportError(file: file, key: "", "cannot read as JSON: \(error.localizedDescription)")
        }
        let modelType = root["model_type"]?.stringValue ?? "bert"
        guard ["bert", "roberta", "xlm-roberta"].contains(modelType) else {
            throw HFImportError(file: file, key: "model_type", "\"\(modelType)\" is not a BERT-family encoder; expected bert, roberta or xlm-roberta")
        }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if case .number(let n)? = root[key], n >= 1, n == n.rounded() { return Int(n) }
            if root[key] == nil, let fallback { return fallback }
            throw HFImportError(file: file, key: key, "expected a positive integer, got \(root[key]?.scalarText ?? "nothing")")
        }
        let act = root["hidden_act"]?.stringValue ?? "gelu"
        guard ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"].contains(act) else {
            throw HFImportError(file: file, key: "hidden_act", "\"\(act)\" is not supported; expected gelu, gelu_new, gelu_pytorch_tanh or relu")
        }
        if let p = root["position_embedding_type"]?.stringValue, p != "absolute" {
            throw HFImportError(file: file, key: "position_embedding_type", "\"\(p)\" is not supported; expected \"absolute\"")
        }
        var eps: Float = 1e-12
        if case .number(let n)? = root["layer_norm_eps"] { eps = Float(n) }
        var config = HFBertConfig(
            modelType: modelType, vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"), layers: try int("num_hidden_layers"),
            heads: try int("num_attention_heads"), intermediateSize: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings", 512), typeVocabSize: try int("type_vocab_size", 2),
            hiddenAct: act, layerNormEps: eps)
        if modelType != "bert" {
            var pad = 1
            if case .number(let n)? = root["pad_token_id"], n >= 0, n == n.rounded() { pad = Int(n) }
            config.positionOffset = pad + 1
            // The table has max_position_embeddings rows, of which the first padding_idx + 1 are never read by tokens.
            guard config.maxPositions > config.positionOffset else {
                throw HFImportError(file: file, key: "max_position_embeddings",
                                    "\(config.maxPositions) leaves no positions after the offset pad_token_id + 1 = \(config.positionOffset)")
            }
        }
        guard config.hiddenSize % config.heads == 0 else {
            throw HFImportError(file: file, key: "num_attention_heads",
                                "\(config.heads) heads do not divide hidden_size \(config.hiddenSize)")
        }
        return config
    }

    /// Longest input: the position rows left after the offset.
    public var contextLength: Int { maxPositions - positionOffset }

    /// The Strata encoder spec: post-LN blocks (x ← LN(x + F(x))), LayerNorm on the embeddings, learned absolute
    /// positions, a token-type table, softmax attention and a 2-layer MLP with biases, no final norm, mean
    /// pooling, no head.
    public var spec: ModelSpec {
        var s = ModelSpec()
        s.name = modelType
        s.model = .encoder
        s.vocabSize = vocabSize
        s.typeVocabSize = typeVocabSize
        s.contextLength = contextLength
        s.dim = hiddenSize
        s.layers = layers
        s.heads = heads
        s.positional = "learned_abs_pe"
        let norm = ComponentSpec("layer_norm", ["eps": SpecJSON.number(Double(layerNormEps))])
        s.block.placement = .post
        s.block.norm = norm
        s.block.tokenMixer = ComponentSpec("softmax_attention", ["bias": SpecJSON.bool(true)])
        let activation = hiddenAct == "gelu" ? "gelu" : hiddenAct == "relu" ? "relu" : "gelu_tanh"
        s.block.channelMixer = ComponentSpec("mlp", ["activation": SpecJSON.string(activation), "hidden": .number(Double(intermediateSize)),
                                                     "bias": .bool(true)])
        s.embeddingNorm = norm
        s.tieEmbeddings = true
        s.dropout = 0
        s.encoder.pooling = "mean"
        s.encoder.task = "none"
        s.encoder.outputs = 1
        return s
    }
}

/// The spec layer's JSON value (StrataIO's own `JSONValue` is the safetensors header parser).
typealias SpecJSON = StrataModels.JSONValue
