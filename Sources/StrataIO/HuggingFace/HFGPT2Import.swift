import Foundation
import StrataCore
import StrataModels
import StrataNN

/// Imports GPT-2 (config.json + model.safetensors) into a Strata decoder: pre-LN, learned absolute positions,
/// biased attention and MLP with tanh-GELU, final LayerNorm, tied head.
public enum HFGPT2Import {
    /// The Strata spec for a GPT-2 `config.json` object; throws naming the key at fault.
    public static func spec(config root: [String: StrataModels.JSONValue], file: String) throws -> ModelSpec {
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if case .number(let n)? = root[key], n >= 1, n <= 1e9, n == n.rounded() { return Int(n) }
            if root[key] == nil || root[key] == .null, let fallback { return fallback }
            throw HFImportError(file: file, key: key, "expected a positive integer, got \(root[key]?.scalarText ?? "nothing")")
        }
        if let t = root["model_type"]?.stringValue, t != "gpt2" {
            throw HFImportError(file: file, key: "model_type", "\"\(t)\" is not GPT-2; expected \"gpt2\"")
        }
        let act = root["activation_function"]?.stringValue ?? "gelu_new"
        let activations = ["gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu"]
        guard let activation = activations[act] else {
            throw HFImportError(file: file, key: "activation_function", "\"\(act)\" is not supported; expected one of \(activations.keys.sorted())")
        }
        var eps = 1e-5
        if case .number(let n)? = root["layer_norm_epsilon"] { eps = n }
        var s = ModelSpec()
        s.name = "gpt2"
        s.model = .decoder
        s.vocabSize = try int("vocab_size")
        s.contextLength = try int("n_positions", 1024)
        s.dim = try int("n_embd")
        s.layers = try int("n_layer")
        s.heads = try int("n_head")
        guard s.dim % s.heads == 0 else { throw HFImportError(file: file, key: "n_head", "\(s.heads) heads do not divide n_embd \(s.dim)") }
        s.positional = "learned_abs_pe"
        s.block.placement = .pre
        s.block.norm = ComponentSpec("layer_norm", ["eps": .number(eps)])
        s.block.tokenMixer = ComponentSpec("softmax_attention", ["bias": .bool(true)])
        s.block.channelMixer = ComponentSpec("mlp", ["activation": .string(activation), "hidden": .number(Double(try int("n_inner", 4 * s.dim))),
                                                     "bias": .bool(true)])
        s.tieEmbeddings = true
        s.dropout = 0
        return s
    }

    /// Strata name → (HF name without `transformer.`, transposed). GPT-2's Conv1D stores weights [in, out];
    /// Strata's Linear is [out, in], so those are transposed (c_attn's columns are already q | k | v).
    public static func nameTable(layers: Int) -> [(strata: String, hf: String, transpose: Bool)] {
        var t: [(String, String, Bool)] = [("tokenEmbedding.weight", "wte.weight", false), ("positional.weight", "wpe.weight", false),
                                           ("finalNorm.weight", "ln_f.weight", false), ("finalNorm.bias", "ln_f.bias", false)]
        for i in 0..<layers {
            let h = "h.\(i).", b = "blocks.\(i)."
            for p in ["weight", "bias"] {
                let w = p == "weight"
                t += [(b + "mixerSite.inputNorm.\(p)", h + "ln_1.\(p)", false), (b + "mixer.qkv.\(p)", h + "attn.c_attn.\(p)", w),
                      (b + "mixer.out.\(p)", h + "attn.c_proj.\(p)", w), (b + "channelSite.inputNorm.\(p)", h + "ln_2.\(p)", false),
                      (b + "channel.up.\(p)", h + "mlp.c_fc.\(p)", w), (b + "channel.down.\(p)", h + "mlp.c_proj.\(p)", w)]
            }
        }
        return t
    }

    /// Builds the decoder of `spec` from HF-named tensors (a `transformer.` prefix is stripped; attention mask
    /// buffers and the tied `lm_head.weight` are ignored); every missing, unexpected or misshapen tensor is reported.
    public static func load(spec: ModelSpec, tensors: [String: Tensor], file: String) throws -> TransformerModel {
        let model = try TransformerModel(spec: spec)
        let expected = Dictionary(model.stateDict().map { ($0.0, $0.1.shape) }, uniquingKeysWith: { a, _ in a })
        var byName: [String: Tensor] = [:]
        for (n, v) in tensors { byName[n.hasPrefix("transformer.") ? String(n.dropFirst(12)) : n] = v }
        let table = nameTable(layers: spec.layers)
        var problems = HFImportSupport.coverageProblems(names: Set(byName.keys), table: table.map(\.hf), family: "GPT-2") {
            $0.hasSuffix(".attn.bias") || $0.hasSuffix(".attn.masked_bias") || $0 == "lm_head.weight"
        }
        var state: [String: Tensor] = [:]
        for (strata, hf, transpose) in table {
            guard let source = byName[hf], let shape = expected[strata] else { continue }
            let value = transpose && source.rank == 2 ? source.transposed(0, 1).copy() : source
            guard value.shape == shape else {
                problems.append("\(hf) \(source.shape) gives \(strata) shape \(value.shape), expected \(shape)")
                continue
            }
            state[strata] = value
        }
        return try HFImportSupport.finish(model, state: state, problems: problems, file: file)
    }

    /// Loads a GPT-2 directory (config.json, model.safetensors or a sharded index).
    public static func load(directory: URL) throws -> TransformerModel {
        let configURL = directory.appendingPathComponent("config.json")
        guard let root = try? StrataModels.JSONValue.parse(Data(contentsOf: configURL)).objectValue else {
            throw HFImportError(file: configURL.path, key: "", "cannot read as a JSON object")
        }
        let (tensors, file) = try HFConfigFile.weights(directory)
        return try load(spec: spec(config: root, file: configURL.path), tensors: tensors, file: file)
    }
}
