import Foundation
import StrataCore
import StrataModels
import StrataNN

/// Imports LLaMA-style decoders (config.json + model.safetensors; `model_type` llama, or mistral without a
/// sliding window) into Strata: pre-RMSNorm, rotary positions, grouped-query softmax attention without biases,
/// SwiGLU FFN, final RMSNorm, tied or untied head.
///
/// Rotary layout: Strata's `rope` rotates interleaved pairs (2i, 2i+1) of each head, HF LLaMA rotates half-split
/// pairs (i, i + D/2), both with frequency θ_i = base^(−2i/D). Reordering each head's q and k channels by
/// `ropePermutation` (Strata channel 2i ← HF channel i, 2i+1 ← i + D/2) maps one onto the other: the rotation then
/// acts on the same pairs at the same frequencies, and q·k is unchanged because q and k are permuted alike. V and
/// the output projection are untouched. Export applies the inverse permutation, so a round trip is bit-identical.
public enum HFLlamaImport {
    /// `model_type` values read as LLaMA (same field names, same architecture).
    public static let modelTypes = ["llama", "mistral"]

    /// The Strata spec for a LLaMA-style `config.json` object; throws naming the key at fault.
    public static func spec(config root: [String: StrataModels.JSONValue], file: String) throws -> ModelSpec {
        func fail(_ key: String, _ message: String) -> HFImportError { HFImportError(file: file, key: key, message) }
        func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
            if case .number(let n)? = root[key], n >= 1, n <= 1e9, n == n.rounded() { return Int(n) }
            if root[key] == nil || root[key] == .null, let fallback { return fallback }
            throw fail(key, "expected a positive integer, got \(root[key]?.scalarText ?? "nothing")")
        }
        func number(_ value: StrataModels.JSONValue?, _ key: String, _ fallback: Double) throws -> Double {
            guard let value, value != .null else { return fallback }
            guard case .number(let n) = value, n > 0 else { throw fail(key, "expected a positive number, got \(value.scalarText ?? value.typeName)") }
            return n
        }
        func mustBeFalse(_ key: String, _ why: String) throws {
            guard let v = root[key], v != .null, v != .bool(false) else { return }
            throw fail(key, "\(v.scalarText ?? v.typeName) is not supported: \(why); expected false")
        }
        if let t = root["model_type"]?.stringValue, !modelTypes.contains(t) {
            let hint = t == "qwen2" ? " (qwen2 has q/k/v biases without an output bias, which softmax_attention cannot express)" : ""
            throw fail("model_type", "\"\(t)\" is not a LLaMA-style decoder\(hint); expected one of \(modelTypes)")
        }
        let act = root["hidden_act"]?.stringValue ?? "silu"
        guard act == "silu" || act == "swish" else {
            throw fail("hidden_act", "\"\(act)\" is not supported; the SwiGLU FFN needs \"silu\"")
        }
        try mustBeFalse("attention_bias", "Strata's LLaMA mapping has no q/k/v/o biases")
        try mustBeFalse("mlp_bias", "Strata's LLaMA mapping has no FFN biases")
        let theta = try ropeTheta(config: root, file: file)
        var s = ModelSpec()
        s.name = root["model_type"]?.stringValue ?? "llama"
        s.model = .decoder
        s.vocabSize = try int("vocab_size")
        s.contextLength = try int("max_position_embeddings", 2048)
        s.dim = try int("hidden_size")
        s.layers = try int("num_hidden_layers")
        s.heads = try int("num_attention_heads")
        let kvHeads = try int("num_key_value_heads", s.heads)
        guard s.heads % kvHeads == 0 else {
            throw fail("num_key_value_heads", "\(kvHeads) does not divide num_attention_heads \(s.heads)")
        }
        let headDim = try int("head_dim", s.dim / s.heads)
        guard headDim % 2 == 0 else { throw fail("head_dim", "\(headDim) is odd; rotary positions rotate pairs of channels") }
        if headDim != s.dim / s.heads || s.dim % s.heads != 0 { s.headDim = headDim }
        if case .number(let w)? = root["sliding_window"], w < Double(s.contextLength) {
            throw fail("sliding_window", "\(root["sliding_window"]?.scalarText ?? "") is not supported (below max_position_embeddings \(s.contextLength)); expected null")
        }
        let eps = try number(root["rms_norm_eps"], "rms_norm_eps", 1e-6)
        s.positional = ComponentSpec("rope", ["base": .number(theta)])
        s.block.placement = .pre
        s.block.norm = ComponentSpec("rms_norm", ["eps": .number(eps)])
        s.block.tokenMixer = ComponentSpec("softmax_attention", ["kv_heads": .number(Double(kvHeads))])
        s.block.channelMixer = ComponentSpec("swiglu", ["hidden": .number(Double(try int("intermediate_size")))])
        s.tieEmbeddings = root["tie_word_embeddings"] == .bool(true)
        s.dropout = 0
        return s
    }

    /// The rotary base: `rope_theta`, or `rope_parameters.rope_theta` (transformers 5), default 10000; any scaling
    /// or partial rotary is refused, naming the key.
    static func ropeTheta(config root: [String: StrataModels.JSONValue], file: String) throws -> Double {
        func fail(_ key: String, _ message: String) -> HFImportError { HFImportError(file: file, key: key, message) }
        func number(_ value: StrataModels.JSONValue?, _ key: String, _ fallback: Double) throws -> Double {
            guard let value, value != .null else { return fallback }
            guard case .number(let n) = value, n > 1 else { throw fail(key, "expected a number above 1, got \(value.scalarText ?? value.typeName)") }
            return n
        }
        if let v = root["rope_scaling"], v != .null {
            throw fail("rope_scaling", "\(v.jsonText(pretty: false)) is not supported; only unscaled rotary positions (null)")
        }
        var theta = try number(root["rope_theta"], "rope_theta", 10000)
        if let p = root["rope_parameters"], p != .null {
            guard let o = p.objectValue else { throw fail("rope_parameters", "expected an object") }
            if let t = o["rope_type"]?.stringValue, t != "default" {
                throw fail("rope_parameters.rope_type", "\"\(t)\" is not supported; expected \"default\" (no scaling)")
            }
            for (k, v) in o where !["rope_type", "rope_theta"].contains(k) && v != .null {
                throw fail("rope_parameters.\(k)", "\(v.scalarText ?? v.typeName) is not supported; only rope_type and rope_theta")
            }
            theta = try number(o["rope_theta"], "rope_parameters.rope_theta", theta)
        }
        if let f = root["partial_rotary_factor"], f != .null, f != .number(1) {
            throw fail("partial_rotary_factor", "\(f.scalarText ?? f.typeName) is not supported; expected 1 (HF's partial rotary keeps the half-split layout over the first channels)")
        }
        return theta
    }

    /// How an HF tensor becomes (part of) a Strata tensor.
    public enum Part: Sendable, Equatable {
        /// Copied as is.
        case whole
        /// Rows of the fused `mixer.qkv`, in table order q | k | v; q and k rows are reordered by `ropePermutation`.
        case query, key, value
    }

    /// Strata name ← HF name (without the `model.` prefix, except `lm_head.weight`), one row per HF tensor;
    /// q_proj, k_proj and v_proj all feed `mixer.qkv.weight` (Strata fuses them, rows q | k | v).
    public static func nameTable(layers: Int, tied: Bool) -> [(strata: String, hf: String, part: Part)] {
        var t: [(String, String, Part)] = [("tokenEmbedding.weight", "embed_tokens.weight", .whole)]
        for i in 0..<layers {
            let h = "layers.\(i).", b = "blocks.\(i)."
            t += [(b + "mixerSite.inputNorm.weight", h + "input_layernorm.weight", .whole),
                  (b + "mixer.qkv.weight", h + "self_attn.q_proj.weight", .query),
                  (b + "mixer.qkv.weight", h + "self_attn.k_proj.weight", .key),
                  (b + "mixer.qkv.weight", h + "self_attn.v_proj.weight", .value),
                  (b + "mixer.out.weight", h + "self_attn.o_proj.weight", .whole),
                  (b + "channelSite.inputNorm.weight", h + "post_attention_layernorm.weight", .whole),
                  (b + "channel.core.gate.weight", h + "mlp.gate_proj.weight", .whole),
                  (b + "channel.core.up.weight", h + "mlp.up_proj.weight", .whole),
                  (b + "channel.core.down.weight", h + "mlp.down_proj.weight", .whole)]
        }
        t.append(("finalNorm.weight", "norm.weight", .whole))
        if !tied { t.append(("head.weight", "lm_head.weight", .whole)) }
        return t
    }

    /// For one head of width D: Strata channel c takes HF channel `perm[c]` (2i ← i, 2i+1 ← i + D/2).
    public static func ropePermutation(headDim d: Int) -> [Int] {
        (0..<d).map { $0 % 2 == 0 ? $0 / 2 : $0 / 2 + d / 2 }
    }

    /// Rows of a [heads·D, C] projection reordered head by head: `inverse` false maps HF → Strata, true Strata → HF.
    public static func permuteRotaryRows(_ w: Tensor, headDim d: Int, inverse: Bool) -> Tensor {
        let perm = ropePermutation(headDim: d)
        var rows = [Int32](repeating: 0, count: w.shape[0])
        for r in 0..<w.shape[0] {
            let (head, c) = (r / d, r % d)
            if inverse { rows[head * d + perm[c]] = Int32(r) } else { rows[r] = Int32(head * d + perm[c]) }
        }
        return w.indexSelect(axis: 0, rows).copy()
    }

    /// Builds the decoder of `spec` from HF-named tensors (a `model.` prefix is stripped; a tied model's
    /// `lm_head.weight` and rotary `inv_freq` buffers are ignored); every missing, unexpected or misshapen tensor
    /// is reported at once.
    public static func load(spec: ModelSpec, tensors: [String: Tensor], file: String) throws -> TransformerModel {
        let model = try TransformerModel(spec: spec)
        let expected = Dictionary(model.stateDict().map { ($0.0, $0.1.shape) }, uniquingKeysWith: { a, _ in a })
        var byName: [String: Tensor] = [:]
        for (n, v) in tensors { byName[n.hasPrefix("model.") ? String(n.dropFirst(6)) : n] = v }
        let table = nameTable(layers: spec.layers, tied: spec.tieEmbeddings)
        var problems = HFImportSupport.coverageProblems(names: Set(byName.keys), table: table.map(\.hf), family: "LLaMA") {
            $0.hasSuffix("rotary_emb.inv_freq") || (spec.tieEmbeddings && $0 == "lm_head.weight")
        }
        let d = spec.effectiveHeadDim
        var parts: [String: [Tensor]] = [:]
        for (strata, hf, part) in table {
            guard let source = byName[hf] else { continue }
            let rows = part == .query ? spec.heads * d : part == .key || part == .value ? kvHeads(spec) * d : nil
            if let rows, source.shape != [rows, spec.dim] {
                problems.append("\(hf) has shape \(source.shape), expected \([rows, spec.dim]) for \(strata)")
                continue
            }
            let value = part == .query || part == .key ? permuteRotaryRows(source, headDim: d, inverse: false) : source
            parts[strata, default: []].append(value)
        }
        var state: [String: Tensor] = [:]
        for (strata, pieces) in parts {
            guard pieces.count == (strata.hasSuffix("mixer.qkv.weight") ? 3 : 1) else { continue }  // reported as missing
            guard let shape = expected[strata] else { problems.append("the Strata model has no parameter \(strata)"); continue }
            let value = pieces.count == 1 ? pieces[0] : Tensor.concat(pieces, axis: 0)
            guard value.shape == shape else {
                let names = table.filter { $0.strata == strata }.map(\.hf).joined(separator: " + ")
                problems.append("\(names) \(value.shape) gives \(strata), expected \(shape)")
                continue
            }
            state[strata] = value
        }
        return try HFImportSupport.finish(model, state: state, problems: problems, file: file)
    }

    /// K of `spec`'s attention (kv_heads, default H).
    static func kvHeads(_ spec: ModelSpec) -> Int {
        if case .number(let k)? = spec.block.tokenMixer.options["kv_heads"] { return Int(k) }
        return spec.heads
    }

    /// Loads a LLaMA-style directory (config.json, model.safetensors or a sharded index).
    public static func load(directory: URL) throws -> TransformerModel {
        let configURL = directory.appendingPathComponent("config.json")
        let root = try HFConfigFile.read(configURL)
        let (tensors, file) = try HFConfigFile.weights(directory)
        return try load(spec: spec(config: root, file: configURL.path), tensors: tensors, file: file)
    }
}

/// Reading `config.json` the same way for every family.
public enum HFConfigFile {
    /// The JSON object in `url`; throws naming the file when it is unreadable or not an object.
    public static func read(_ url: URL) throws -> [String: StrataModels.JSONValue] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw HFImportError(file: url.path, key: "", "cannot read: \(fileErrorReason(error, path: url.path))")
        }
        guard let root = try? StrataModels.JSONValue.parse(data).objectValue else {
            throw HFImportError(file: url.path, key: "", "cannot read as a JSON object")
        }
        return root
    }

    /// Every tensor of a model directory, from `model.safetensors` or, for sharded checkpoints, from the files
    /// `model.safetensors.index.json`'s `weight_map` names; returns them with the file(s) to name in errors.
    public static func weights(_ directory: URL) throws -> ([String: Tensor], String) {
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        guard !FileManager.default.fileExists(atPath: single.path), FileManager.default.fileExists(atPath: index.path) else {
            return (Dictionary(try SafeTensorsFile(url: single).tensors(), uniquingKeysWith: { a, _ in a }), single.path)
        }
        guard case .object(let map)? = try read(index)["weight_map"] else {
            throw HFImportError(file: index.path, key: "weight_map", "missing or not an object of tensor name → shard file")
        }
        var tensors: [String: Tensor] = [:]
        for shard in Set(map.values.compactMap(\.stringValue)).sorted() {
            guard !shard.contains("/") else { throw HFImportError(file: index.path, key: "weight_map", "shard \(shard) is not a file name") }
            for (name, t) in try SafeTensorsFile(url: directory.appendingPathComponent(shard)).tensors() { tensors[name] = t }
        }
        return (tensors, index.path)
    }

    /// The family of a model directory's config (`gpt2` or `llama`), from `model_type`, else `architectures`.
    public static func family(_ root: [String: StrataModels.JSONValue], file: String) throws -> String {
        if let t = root["model_type"]?.stringValue {
            if t == "gpt2" { return "gpt2" }
            if HFLlamaImport.modelTypes.contains(t) || t == "qwen2" { return "llama" }
            throw HFImportError(file: file, key: "model_type", "\"\(t)\" is not supported; expected gpt2 or one of \(HFLlamaImport.modelTypes)")
        }
        if case .array(let a)? = root["architectures"] {
            if a.contains(.string("GPT2LMHeadModel")) { return "gpt2" }
            if a.contains(.string("LlamaForCausalLM")) || a.contains(.string("MistralForCausalLM")) { return "llama" }
        }
        throw HFImportError(file: file, key: "model_type", "missing; expected \"gpt2\" or \"llama\" (or architectures naming GPT2LMHeadModel / LlamaForCausalLM)")
    }
}
