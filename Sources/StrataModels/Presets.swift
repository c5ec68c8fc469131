import Foundation

/// Built-in specs, available without the repository's `configs/` folder. `configs/bench-char.json` and
/// `configs/default.json` are the same specs as `Presets.benchChar` and `Presets.mainJob` (a test keeps them equal).
public enum Presets {
    /// The nanoGPT character-level reference workload (design.md §6): vocab 256, C 384, 6 layers, 6 heads,
    /// context 256, pre-LayerNorm with bias, biased linears, exact GELU MLP 4×, learned positions, tied head.
    public static var benchChar: ModelSpec {
        var s = ModelSpec()
        s.name = "bench-char"
        s.vocabSize = 256; s.contextLength = 256; s.dim = 384; s.layers = 6; s.heads = 6
        s.positional = "learned_abs_pe"
        s.block.placement = .pre
        s.block.norm = ComponentSpec("layer_norm", ["bias": .bool(true)])
        s.block.tokenMixer = ComponentSpec("softmax_attention", ["bias": .bool(true)])
        s.block.channelMixer = ComponentSpec("mlp", ["activation": .string("gelu"), "hidden_mult": .number(4), "bias": .bool(true)])
        s.tieEmbeddings = true
        return s
    }

    /// The main job's spec (`configs/default.json`): 4 layers × 128, RMSNorm, RoPE, SwiGLU, tied head — chosen by
    /// 5-minute training runs on the bundled corpus (see README).
    public static var mainJob: ModelSpec {
        var s = ModelSpec()
        s.name = "default"
        s.vocabSize = 256; s.contextLength = 256; s.dim = 128; s.layers = 4; s.heads = 4
        s.positional = "rope"
        s.block.placement = .pre
        s.block.norm = "rms_norm"
        s.block.tokenMixer = "softmax_attention"
        s.block.channelMixer = "swiglu"
        s.tieEmbeddings = true
        return s
    }

    /// Built-in presets by name.
    public static var all: [String: ModelSpec] { ["bench-char": benchChar, "default": mainJob] }

    /// Resolves a spec argument: an existing file path, else `configs/<name>.json` under `root`, else a built-in
    /// preset. `overrides` are `key.path=value` settings.
    public static func resolve(_ argument: String, root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                               overrides: [(String, String)] = []) throws -> ModelSpec {
        let fm = FileManager.default
        let direct = URL(fileURLWithPath: argument, relativeTo: root)
        if fm.fileExists(atPath: direct.path) { return try ModelSpec.load(direct, overrides: overrides) }
        let named = root.appendingPathComponent("configs").appendingPathComponent(argument + ".json")
        if fm.fileExists(atPath: named.path) { return try ModelSpec.load(named, overrides: overrides) }
        if let preset = all[argument] {
            let data = Data(preset.json.jsonText().utf8)
            return try ModelSpec.parse(data, file: "preset \(argument)", overrides: overrides)
        }
        throw SpecError([SpecIssue(path: "", message: "no spec file \(argument), no configs/\(argument).json and no built-in preset of that name (built-in: \(all.keys.sorted().joined(separator: ", ")))")])
    }
}
