import Foundation
import StrataCore
import StrataModels
import StrataNN

/// Writes a GPT-2-compatible Strata decoder as a Hugging Face GPT-2 directory (config.json + model.safetensors in
/// `transformer.*` names, Conv1D weights transposed to [in, out], head tied to `wte`).
public enum HFGPT2Export {
    /// Every way `spec` differs from what GPT-2 can express (empty when it can be exported).
    public static func incompatibilities(_ spec: ModelSpec) -> [String] {
        var p: [String] = []
        func only(_ c: ComponentSpec, _ path: String, id: String, allowed: [String: (StrataModels.JSONValue) -> Bool]) {
            guard c.id == id else { p.append("\(path): \(c.id) (GPT-2 needs \(id))"); return }
            for (k, v) in c.options where !(allowed[k]?(v) ?? false) { p.append("\(path).\(k) = \(v.scalarText ?? v.typeName) has no GPT-2 equivalent") }
        }
        let isTrue: (StrataModels.JSONValue) -> Bool = { $0 == .bool(true) }
        let any: (StrataModels.JSONValue) -> Bool = { _ in true }
        if spec.model != .decoder { p.append("model: \(spec.model.rawValue) (GPT-2 is a decoder)") }
        if spec.positional.id != "learned_abs_pe" { p.append("positional: \(spec.positional.id) (GPT-2 needs learned_abs_pe)") }
        if !spec.overrides.isEmpty { p.append("overrides: GPT-2 blocks are all alike") }
        if spec.block.placement != .pre { p.append("block.placement: \(spec.block.placement.rawValue) (GPT-2 is pre)") }
        if spec.block.layout != .sequential { p.append("block.layout: \(spec.block.layout.rawValue) (GPT-2 is sequential)") }
        only(spec.block.norm, "block.norm", id: "layer_norm", allowed: ["eps": any, "bias": isTrue])
        only(spec.block.tokenMixer, "block.token_mixer", id: "softmax_attention",
             allowed: ["bias": isTrue, "kv_heads": { $0 == .number(Double(spec.heads)) }])
        if spec.block.tokenMixer.options["bias"] != .bool(true) { p.append("block.token_mixer.bias must be true") }
        only(spec.block.channelMixer, "block.channel_mixer", id: "mlp",
             allowed: ["bias": isTrue, "hidden": any, "hidden_mult": any,
                       "activation": { ["gelu", "gelu_tanh", "relu"].contains($0.stringValue ?? "") }])
        if spec.block.channelMixer.options["bias"] != .bool(true) { p.append("block.channel_mixer.bias must be true") }
        only(spec.block.residual, "block.residual", id: "add", allowed: [:])
        if spec.effectiveEmbeddingNorm != nil { p.append("embedding_norm: GPT-2 has none") }
        if spec.effectiveFinalNorm != spec.block.norm { p.append("final_norm: GPT-2's ln_f is the block LayerNorm") }
        if !spec.tieEmbeddings { p.append("tie_embeddings: false (GPT-2 ties the head to wte)") }
        if spec.headDim != nil && spec.headDim != spec.dim / spec.heads { p.append("head_dim: GPT-2 needs dim / heads") }
        return p
    }

    /// Writes `model` to `directory` (created if needed), with `tokenizer` files when given; throws listing every
    /// incompatibility.
    public static func save(_ model: TransformerModel, to directory: URL, tokenizer: HFTokenizerExport.Source? = nil) throws {
        let spec = model.spec
        let problems = incompatibilities(spec)
        guard problems.isEmpty else {
            throw HFImportError(file: directory.path, key: "", "the model cannot be written as GPT-2: \(problems.joined(separator: "; "))")
        }
        let state = Dictionary(model.stateDict(), uniquingKeysWith: { a, _ in a })
        var eps = 1e-5
        if case .number(let n)? = spec.block.norm.options["eps"] { eps = n }
        let activations = ["gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu"]
        let activation = activations[spec.block.channelMixer.options["activation"]?.stringValue ?? "gelu"] ?? "gelu"
        let inner = state["blocks.0.channel.up.weight"]?.shape[0] ?? 4 * spec.dim
        let config: [String: StrataModels.JSONValue] = [
            "model_type": .string("gpt2"), "architectures": .array([.string("GPT2LMHeadModel")]),
            "vocab_size": .number(Double(spec.vocabSize)), "n_positions": .number(Double(spec.contextLength)),
            "n_embd": .number(Double(spec.dim)), "n_layer": .number(Double(spec.layers)), "n_head": .number(Double(spec.heads)),
            "n_inner": .number(Double(inner)), "activation_function": .string(activation), "layer_norm_epsilon": .number(eps),
            "resid_pdrop": .number(0), "embd_pdrop": .number(0), "attn_pdrop": .number(0), "tie_word_embeddings": .bool(true),
            // GPT2Config defaults BOS/EOS to 50256, which a Strata vocabulary need not have; the byte tokenizer has none.
            "bos_token_id": .null, "eos_token_id": .null,
        ]
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(StrataModels.JSONValue.object(config).jsonText().utf8).write(to: directory.appendingPathComponent("config.json"))
        var tensors: [(String, Tensor)] = []
        for (strata, hf, transpose) in HFGPT2Import.nameTable(layers: spec.layers) {
            guard let v = state[strata] else {
                throw HFImportError(file: directory.path, key: strata, "the model has no parameter \(strata) (needed for \(hf))")
            }
            tensors.append(("transformer." + hf, transpose && v.rank == 2 ? v.transposed(0, 1).copy() : v))
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        if let tokenizer { try HFTokenizerExport.write(tokenizer, contextLength: spec.contextLength, to: directory) }
    }
}
