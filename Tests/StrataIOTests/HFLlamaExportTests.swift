import Foundation
import StrataCore
import StrataIO
import StrataModels
import XCTest

/// LLaMA export: a LLaMA-shaped Strata decoder written as an HF directory and read back is bit-identical; the
/// fixture directory survives import then export tensor for tensor; other specs are refused with every reason.
final class HFLlamaExportTests: XCTestCase {
    func temporaryDirectory(_ tag: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-\(UUID().uuidString)")
    }

    static func llamaSpec(tied: Bool) -> ModelSpec {
        var spec = ModelSpec()
        spec.vocabSize = 29
        spec.contextLength = 16
        spec.dim = 24
        spec.layers = 2
        spec.heads = 4
        spec.positional = ComponentSpec("rope", ["base": .number(500)])
        spec.block.norm = ComponentSpec("rms_norm", ["eps": .number(1e-6)])
        spec.block.tokenMixer = ComponentSpec("softmax_attention", ["kv_heads": .number(2)])
        spec.block.channelMixer = ComponentSpec("swiglu", ["hidden": .number(40)])
        spec.tieEmbeddings = tied
        return spec
    }

    func testExportImportRoundTripIsBitIdentical() throws {
        for tied in [false, true] {
            let model = try TransformerModel(spec: Self.llamaSpec(tied: tied), seed: 5)
            let dir = temporaryDirectory("llama-rt")
            defer { try? FileManager.default.removeItem(at: dir) }
            try HFLlamaExport.save(model, to: dir, tokenizer: .byte)
            for file in ["config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), file)
            }
            let config = try HFConfigFile.read(dir.appendingPathComponent("config.json"))
            XCTAssertEqual(config["architectures"], .array([.string("LlamaForCausalLM")]))
            XCTAssertEqual(config["num_key_value_heads"], .number(2))
            XCTAssertEqual(config["intermediate_size"], .number(40))
            XCTAssertEqual(try HFConfigFile.family(config, file: "config.json"), "llama")
            let names = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors")).names
            XCTAssertEqual(names.contains("lm_head.weight"), !tied)
            let back = try HFLlamaImport.load(directory: dir)
            XCTAssertEqual(back.spec.tieEmbeddings, tied)
            for ((n, a), (m, b)) in zip(model.stateDict(), back.stateDict()) {
                XCTAssertEqual(n, m)
                XCTAssertEqual(a.scalars, b.scalars, n)
            }
            let ids: [Int32] = [1, 5, 28, 0, 7, 7, 3, 11, 19]
            let a = withNoGrad { model.logits(ids, batch: 1, length: ids.count) }.scalars
            let b = withNoGrad { back.logits(ids, batch: 1, length: ids.count) }.scalars
            XCTAssertEqual(a, b)
        }
    }

    /// Importing the transformers fixture and exporting it again gives back every tensor bit for bit (the q/k
    /// rotary permutation is undone exactly; q, k and v are split out of the fused qkv).
    func testFixtureSurvivesImportThenExport() throws {
        let source = HFLlamaImportTests.fixtures.appendingPathComponent("gqa_untied")
        let model = try HFLlamaImport.load(directory: source)
        let dir = temporaryDirectory("llama-fixture")
        defer { try? FileManager.default.removeItem(at: dir) }
        try HFLlamaExport.save(model, to: dir)
        let original = Dictionary(uniqueKeysWithValues: try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors")).tensors())
        let written = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors")).tensors()
        XCTAssertEqual(Set(written.map(\.0)), Set(original.keys))
        for (name, t) in written {
            XCTAssertEqual(t.shape, original[name]?.shape, name)
            XCTAssertEqual(t.scalars, original[name]?.scalars, name)
        }
    }

    func testIncompatibleSpecListsEveryReason() throws {
        var spec = Self.llamaSpec(tied: true)
        XCTAssertEqual(HFLlamaExport.incompatibilities(spec), [])
        spec.positional = "learned_abs_pe"
        spec.block.norm = "layer_norm"
        spec.block.tokenMixer = ComponentSpec("softmax_attention", ["bias": .bool(true), "qk_norm": .string("rms")])
        spec.block.channelMixer = "mlp"
        spec.block.placement = .post
        let reasons = HFLlamaExport.incompatibilities(spec)
        for expected in ["positional: learned_abs_pe", "block.norm: layer_norm", "block.token_mixer.bias = true",
                         "block.token_mixer.qk_norm = rms", "block.channel_mixer: mlp", "block.placement: post"] {
            XCTAssertTrue(reasons.contains { $0.contains(expected) }, "\(expected) not in \(reasons)")
        }
        let model = try TransformerModel(spec: spec, seed: 1)
        XCTAssertThrowsError(try HFLlamaExport.save(model, to: temporaryDirectory("llama-bad"))) {
            XCTAssertTrue("\($0)".contains("cannot be written as LLaMA: positional: learned_abs_pe"), "\($0)")
        }
        var partial = Self.llamaSpec(tied: true)
        partial.positional = ComponentSpec("rope", ["fraction": .number(0.5)])
        XCTAssertTrue(HFLlamaExport.incompatibilities(partial).contains { $0.contains("positional.fraction = 0.5") })
    }

    /// The byte tokenizer's tokenizer.json maps the 256 ByteLevel characters to ids 0…255 and is recognized as such.
    func testByteTokenizerJSON() throws {
        let json = Data(HFTokenizerExport.byteTokenizerJSON().utf8)
        XCTAssertTrue(HFTokenizerExport.isByteTokenizer(json))
        XCTAssertEqual(Set(HFTokenizerExport.byteLevelAlphabet).count, 256)
        XCTAssertEqual(HFTokenizerExport.byteLevelAlphabet[0x20], "Ġ")
        XCTAssertEqual(HFTokenizerExport.byteLevelAlphabet[0x41], "A")
        guard let vocab = try StrataModels.JSONValue.parse(json).objectValue?["model"]?.objectValue?["vocab"]?.objectValue else {
            return XCTFail("tokenizer.json has no model.vocab")
        }
        XCTAssertEqual(vocab["Ġ"], .number(32))
        XCTAssertEqual(vocab["ÿ"], .number(255))
        let merged = try StrataModels.JSONValue.parse(json).setting(["model", "merges"], to: .array([.string("a b")]))
        XCTAssertFalse(HFTokenizerExport.isByteTokenizer(Data(merged.jsonText().utf8)))
        let prefixed = try StrataModels.JSONValue.parse(json).setting(["pre_tokenizer", "add_prefix_space"], to: .bool(true))
        XCTAssertFalse(HFTokenizerExport.isByteTokenizer(Data(prefixed.jsonText().utf8)))
    }
}
