import Foundation
import StrataCore
import StrataIO
import StrataModels
import XCTest

/// LLaMA import against tiny random transformers `LlamaForCausalLM` / `MistralForCausalLM` directories (Tests/Fixtures/llama, made by
/// tools/make_llama_fixture.py): same logits as transformers for every fixture sequence; config errors name the key.
final class HFLlamaImportTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/llama")

    /// Max |Strata − transformers| over the logits of every sequence in logits.json[`name`].
    func maxLogitDifference(_ model: TransformerModel, fixture name: String) throws -> Double {
        let doc = try StrataModels.JSONValue.parse(Data(contentsOf: Self.fixtures.appendingPathComponent("logits.json")))
        guard case .array(let sequences)? = doc.objectValue?[name]?.objectValue?["ids"],
              case .array(let expected)? = doc.objectValue?[name]?.objectValue?["logits"], sequences.count == expected.count else {
            XCTFail("logits.json: expected \(name).ids and \(name).logits")
            return .infinity
        }
        func numbers(_ v: StrataModels.JSONValue) -> [Double] {
            guard case .array(let a) = v else { return [] }
            return a.flatMap { item -> [Double] in
                if case .number(let n) = item { return [n] }
                return numbers(item)
            }
        }
        var worst = 0.0
        for (ids, rows) in zip(sequences, expected) {
            let tokens = numbers(ids).map { Int32($0) }
            let logits = withNoGrad { model.logits(tokens, batch: 1, length: tokens.count) }.scalars
            let reference = numbers(rows)
            XCTAssertEqual(logits.count, reference.count)
            worst = max(worst, zip(logits, reference).map { abs(Double($0) - $1) }.max() ?? .infinity)
        }
        return worst
    }

    func testGQAUntiedLogitsMatchTransformers() throws {
        let model = try HFLlamaImport.load(directory: Self.fixtures.appendingPathComponent("gqa_untied"))
        XCTAssertEqual(model.spec.block.tokenMixer.options["kv_heads"], .number(2))
        XCTAssertFalse(model.spec.tieEmbeddings)
        XCTAssertEqual(model.spec.positional.options["base"], .number(5000))
        let diff = try maxLogitDifference(model, fixture: "gqa_untied")
        print("LLaMA gqa_untied fixture: max |logit diff| \(diff)")
        XCTAssertLessThanOrEqual(diff, 1e-4)
    }

    func testTiedMHALogitsMatchTransformers() throws {
        let model = try HFLlamaImport.load(directory: Self.fixtures.appendingPathComponent("tied_mha"))
        XCTAssertTrue(model.spec.tieEmbeddings)
        let diff = try maxLogitDifference(model, fixture: "tied_mha")
        print("LLaMA tied_mha fixture: max |logit diff| \(diff)")
        XCTAssertLessThanOrEqual(diff, 1e-4)
    }

    /// A MistralForCausalLM (same architecture; sliding window longer than the context) with one kv head.
    func testMistralMQALogitsMatchTransformers() throws {
        let model = try HFLlamaImport.load(directory: Self.fixtures.appendingPathComponent("mistral_mqa"))
        XCTAssertEqual(model.spec.block.tokenMixer.options["kv_heads"], .number(1))
        let diff = try maxLogitDifference(model, fixture: "mistral_mqa")
        print("LLaMA mistral_mqa fixture: max |logit diff| \(diff)")
        XCTAssertLessThanOrEqual(diff, 1e-4)
    }

    /// Unsupported config values are refused, naming the key.
    func testUnsupportedConfigNamesTheKey() throws {
        let base = try HFConfigFile.read(Self.fixtures.appendingPathComponent("gqa_untied/config.json"))
        XCTAssertNoThrow(try HFLlamaImport.spec(config: base, file: "config.json"))
        let cases: [(String, StrataModels.JSONValue, String)] = [
            ("rope_scaling", .object(["rope_type": .string("linear"), "factor": .number(2)]), "rope_scaling"),
            ("rope_parameters", .object(["rope_type": .string("yarn"), "rope_theta": .number(1e4)]), "rope_parameters.rope_type"),
            ("hidden_act", .string("gelu"), "hidden_act"),
            ("attention_bias", .bool(true), "attention_bias"),
            ("mlp_bias", .bool(true), "mlp_bias"),
            ("model_type", .string("qwen2"), "model_type"),
            ("num_key_value_heads", .number(3), "num_key_value_heads"),
            ("sliding_window", .number(16), "sliding_window"),
        ]
        for (key, value, named) in cases {
            var config = base
            config[key] = value
            XCTAssertThrowsError(try HFLlamaImport.spec(config: config, file: "config.json"), key) { error in
                XCTAssertEqual((error as? HFImportError)?.key, named, "\(error)")
            }
        }
    }

    /// A missing or misshapen tensor is named with its HF name.
    func testMissingAndMisshapenTensorsAreNamed() throws {
        let source = Self.fixtures.appendingPathComponent("gqa_untied")
        let spec = try HFLlamaImport.spec(config: HFConfigFile.read(source.appendingPathComponent("config.json")), file: "config.json")
        var tensors = Dictionary(uniqueKeysWithValues: try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors")).tensors())
        tensors["model.layers.1.self_attn.k_proj.weight"] = nil
        tensors["model.layers.0.mlp.up_proj.weight"] = Tensor.zeros([7, 64])
        tensors["model.extra.weight"] = Tensor.zeros([2])
        XCTAssertThrowsError(try HFLlamaImport.load(spec: spec, tensors: tensors, file: "model.safetensors")) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("missing tensors: layers.1.self_attn.k_proj.weight"), text)
            XCTAssertTrue(text.contains("layers.0.mlp.up_proj.weight [7, 64]"), text)
            XCTAssertTrue(text.contains("unexpected tensors (not in the LLaMA name table): extra.weight"), text)
        }
    }

    /// A sharded checkpoint (model.safetensors.index.json + shard files) loads like the single file.
    func testShardedCheckpoint() throws {
        let source = Self.fixtures.appendingPathComponent("tied_mha")
        let tensors = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors")).tensors()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("llama-shards-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        var map: [String: StrataModels.JSONValue] = [:]
        for (k, shard) in [tensors.prefix(7), tensors.dropFirst(7)].enumerated() {
            let name = "model-0000\(k + 1)-of-00002.safetensors"
            try SafeTensorsWriter.write(Array(shard), to: dir.appendingPathComponent(name))
            for (n, _) in shard { map[n] = .string(name) }
        }
        let index = StrataModels.JSONValue.object(["metadata": .object([:]), "weight_map": .object(map)])
        try Data(index.jsonText().utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let diff = try maxLogitDifference(try HFLlamaImport.load(directory: dir), fixture: "tied_mha")
        XCTAssertLessThanOrEqual(diff, 1e-4)
    }

    /// Strata channel 2i takes HF channel i and 2i+1 takes i + D/2; the inverse undoes it.
    func testRotaryPermutation() {
        XCTAssertEqual(HFLlamaImport.ropePermutation(headDim: 6), [0, 3, 1, 4, 2, 5])
        let w = Tensor((0..<24).map(Float.init), shape: [12, 2])                  // 2 heads of D = 6, C = 2
        let strata = HFLlamaImport.permuteRotaryRows(w, headDim: 6, inverse: false)
        XCTAssertEqual(Array(strata.scalars.prefix(12)), [0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11])
        XCTAssertEqual(HFLlamaImport.permuteRotaryRows(strata, headDim: 6, inverse: true).scalars, w.scalars)
    }
}
