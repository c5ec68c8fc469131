import Foundation
import StrataCore
import StrataModels
import StrataNN

/// Writes a LLaMA-compatible Strata decoder as a Hugging Face `LlamaForCausalLM` directory (config.json +
/// model.safetensors in `model.*` names, the fused qkv split into q_proj / k_proj / v_proj with the q and k rows put
/// back in HF's half-split rotary order, `lm_head.weight` only when the head is untied).
public enum HFLlamaExport {
    /// Every way `spec` differs from what `LlamaForCausalLM` can express (empty when it can be exported).
    public static func incompatibilities(_ spec: ModelSpec) -> [String] {
        var p: [String] = []
        typealias Check = (StrataModels.JSONValue) -> Bool
        func only(_ c: ComponentSpec, _ path: String, id: String, allowed: [String: Check]) {
            guard c.id == id else { p.append("\(path): \(c.id) (LLaMA needs \(id))"); return }
            for (k, v) in c.options.sorted(by: { $0.key < $1.key }) where !(allowed[k]?(v) ?? false) {
                p.append("\(path).\(k) = \(v.scalarText ?? v.typeName) has no LLaMA equivalent")
            }
        }
        let isFalse: Check = { $0 == .bool(false) }
        let any: Check = { _ in true }
        if spec.model != .decoder { p.append("model: \(spec.model.rawValue) (LLaMA is a decoder)") }
        only(spec.positional, "positional", id: "rope", allowed: ["base": any, "fraction": { $0 == .number(1) }])
        if spec.effectiveHeadDim % 2 != 0 { p.append("head_dim: \(spec.effectiveHeadDim) is odd (rotary pairs need an even width)") }
        if !spec.overrides.isEmpty { p.append("overrides: LLaMA blocks are all alike") }
        if spec.block.placement != .pre { p.append("block.placement: \(spec.block.placement.rawValue) (LLaMA is pre)") }
        if spec.block.layout != .sequential { p.append("block.layout: \(spec.block.layout.rawValue) (LLaMA is sequential)") }
        only(spec.block.norm, "block.norm", id: "rms_norm", allowed: ["eps": any])
        only(spec.block.tokenMixer, "block.token_mixer", id: "softmax_attention",
             allowed: ["kv_heads": any, "bias": isFalse, "qk_norm": { $0 == .string("none") }, "gate": { $0 == .string("none") },
                       "gate_init": any, "sigma_reparam": isFalse])
        only(spec.block.channelMixer, "block.channel_mixer", id: "swiglu", allowed: ["hidden": any, "multiple_of": any, "bias": isFalse])
        only(spec.block.residual, "block.residual", id: "add", allowed: [:])
        if spec.effectiveEmbeddingNorm != nil { p.append("embedding_norm: LLaMA has none") }
        if spec.effectiveFinalNorm != spec.block.norm { p.append("final_norm: LLaMA's final norm is the block RMSNorm (same eps)") }
        if spec.headBias { p.append("head_bias: LLaMA's lm_head has no bias") }
        return p
    }

    /// The `config.json` object for `model` (which must be compatible).
    public static func config(_ model: TransformerModel) -> [String: StrataModels.JSONValue] {
        let spec = model.spec
        let state = Dictionary(model.stateDict(), uniquingKeysWith: { a, _ in a })
        func num(_ x: Int) -> StrataModels.JSONValue { .number(Double(x)) }
        var eps = 1e-5, theta = 10000.0
        if case .number(let n)? = spec.block.norm.options["eps"] { eps = n }
        if case .number(let n)? = spec.positional.options["base"] { theta = n }
        let inner = state["blocks.0.channel.core.gate.weight"]?.shape[0] ?? 0
        return [
            "architectures": .array([.string("LlamaForCausalLM")]), "model_type": .string("llama"),
            "vocab_size": num(spec.vocabSize), "max_position_embeddings": num(spec.contextLength),
            "hidden_size": num(spec.dim), "intermediate_size": num(inner), "num_hidden_layers": num(spec.layers),
            "num_attention_heads": num(spec.heads), "num_key_value_heads": num(HFLlamaImport.kvHeads(spec)),
            "head_dim": num(spec.effectiveHeadDim), "hidden_act": .string("silu"), "rms_norm_eps": .number(eps),
            // rope_theta for transformers 4.x, rope_parameters for 5.x; both say "unscaled, this base".
            "rope_theta": .number(theta),
            "rope_parameters": .object(["rope_type": .string("default"), "rope_theta": .number(theta)]),
            "tie_word_embeddings": .bool(spec.tieEmbeddings), "attention_bias": .bool(false), "mlp_bias": .bool(false),
            "attention_dropout": .number(0), "initializer_range": .number(Double("\(spec.initStd)") ?? 0.02),
            // The byte tokenizer has no special tokens: no BOS/EOS ids that generation would treat specially.
            "bos_token_id": .null, "eos_token_id": .null, "pad_token_id": .null, "dtype": .string("float32"),
        ]
    }

    /// HF-named tensors for `model` (which must be compatible), in name-table order.
    public static func tensors(_ model: TransformerModel, file: String) throws -> [(String, Tensor)] {
        let spec = model.spec
        let state = Dictionary(model.stateDict(), uniquingKeysWith: { a, _ in a })
        let d = spec.effectiveHeadDim
        let (h, k) = (spec.heads, HFLlamaImport.kvHeads(spec))
        var out: [(String, Tensor)] = []
        for (strata, hf, part) in HFLlamaImport.nameTable(layers: spec.layers, tied: spec.tieEmbeddings) {
            guard let v = state[strata] else {
                throw HFImportError(file: file, key: strata, "the model has no parameter \(strata) (needed for \(hf))")
            }
            let value: Tensor
            switch part {
            case .whole: value = v
            case .query: value = HFLlamaImport.permuteRotaryRows(v.slice(axis: 0, 0..<h * d), headDim: d, inverse: true)
            case .key: value = HFLlamaImport.permuteRotaryRows(v.slice(axis: 0, h * d..<(h + k) * d), headDim: d, inverse: true)
            case .value: value = v.slice(axis: 0, (h + k) * d..<(h + 2 * k) * d).copy()
            }
            out.append((hf == "lm_head.weight" ? hf : "model." + hf, value))
        }
        return out
    }

    /// Writes `model` to `directory` (created if needed), with `tokenizer` files when given; throws listing every
    /// incompatibility.
    public static func save(_ model: TransformerModel, to directory: URL, tokenizer: HFTokenizerExport.Source? = nil) throws {
        let problems = incompatibilities(model.spec)
        guard problems.isEmpty else {
            throw HFImportError(file: directory.path, key: "", "the model cannot be written as LLaMA: \(problems.joined(separator: "; "))")
        }
        let tensors = try tensors(model, file: directory.path)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(StrataModels.JSONValue.object(config(model)).jsonText().utf8).write(to: directory.appendingPathComponent("config.json"))
        let generation: [String: StrataModels.JSONValue] = ["bos_token_id": .null, "eos_token_id": .null, "do_sample": .bool(false)]
        try Data(StrataModels.JSONValue.object(generation).jsonText().utf8)
            .write(to: directory.appendingPathComponent("generation_config.json"))
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        if let tokenizer { try HFTokenizerExport.write(tokenizer, contextLength: model.spec.contextLength, to: directory) }
    }
}
