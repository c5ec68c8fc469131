import Foundation
import XCTest
import StrataCore
import StrataModels

final class ModelSpecTests: XCTestCase {
    func testDefaultsRoundTripThroughJSON() throws {
        var spec = ModelSpec()
        spec.overrides = [LayerOverride(layers: [1])]
        spec.overrides[0].tokenMixer = ComponentSpec("softmax_attention", ["kv_heads": .number(2)])
        let data = Data(spec.json.jsonText().utf8)
        let back = try ModelSpec.parse(data)
        XCTAssertEqual(back, spec)
    }

    func testEveryProblemIsReportedWithItsPath() {
        let text = """
        {"dim": 100, "heads": 3, "colour": 1,
         "block": {"norm": "rms_nrm", "token_mixer": {"id": "softmax_attention", "kv_head": 2}, "placement": "middle"},
         "overrides": [{"layers": [9], "channel_mixer": "mlp"}]}
        """
        XCTAssertThrowsError(try ModelSpec.parse(Data(text.utf8), file: "bad.json")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("bad.json"), message)
            XCTAssertTrue(message.contains("colour: unknown key"), message)
            XCTAssertTrue(message.contains("block.placement: unknown value \"middle\""), message)
            XCTAssertTrue(message.contains("block.norm.id: unknown norm \"rms_nrm\"; valid: layer_norm, rms_norm"), message)
            XCTAssertTrue(message.contains("block.token_mixer.kv_head: unknown key; valid keys: kv_heads"), message)
            XCTAssertTrue(message.contains("heads: dim 100 is not divisible by heads 3"), message)
            XCTAssertTrue(message.contains("overrides.0.layers: layer 9 is out of range 0..<6"), message)
        }
    }

    func testSetOverridesApplyBeforeValidation() throws {
        let spec = try ModelSpec.parse(Data("{}".utf8), overrides: [("dim", "64"), ("heads", "4"),
                                                                    ("block.token_mixer.kv_heads", "2")])
        XCTAssertEqual(spec.dim, 64)
        XCTAssertEqual(spec.block.tokenMixer, ComponentSpec("softmax_attention", ["kv_heads": .number(2)]))
    }

    /// Token-type (segment) tables count in the parameter formula like the token table.
    func testTokenTypeTableIsCountedByTheFormula() throws {
        let text = #"{"model": "encoder", "dim": 32, "layers": 1, "heads": 2, "type_vocab_size": 2}"#
        let spec = try ModelSpec.parse(Data(text.utf8))
        let model = try TransformerModel(spec: spec, seed: 0)
        XCTAssertEqual(model.parameterCount, spec.expectedParameterCount)
        XCTAssertEqual(spec.expectedParameterCount - (try ModelSpec.parse(Data(text.replacingOccurrences(of: "2}", with: "0}").utf8))).expectedParameterCount, 64)
    }

    func testBaselineModelTrainsAStep() throws {
        var spec = ModelSpec()
        spec.dim = 32; spec.heads = 4; spec.layers = 2; spec.contextLength = 16
        let model = try TransformerModel(spec: spec, seed: 1)
        XCTAssertEqual(model.parameterCount, spec.expectedParameterCount)
        let ids = (0..<32).map { Int32($0 * 7 % 256) }
        let loss = model.loss(inputs: ids, targets: ids.map { ($0 + 1) % 256 }, batch: 2, length: 16)
        XCTAssertEqual(loss.item, log(256), accuracy: 0.2)
        loss.backward()
        XCTAssertNotNil(model.blocks[0].mixer.parameters().first?.grad)
    }
}

final class PresetFileTests: XCTestCase {
    /// Every spec under configs/ parses, validates and builds, and bench-char matches the built-in preset.
    func testEveryConfigFileBuilds() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let configs = root.appendingPathComponent("configs")
        let files = FileManager.default.enumerator(at: configs, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "json" }
        XCTAssertGreaterThan(files.count, 40)
        for file in files {
            do {
                var spec = try ModelSpec.load(file)
                spec.dim = min(spec.dim, 64); spec.layers = min(spec.layers, 4); spec.contextLength = min(spec.contextLength, 16)
                if spec.dim % spec.heads != 0 { spec.heads = 4 }
                _ = try TransformerModel(spec: spec.validated(), seed: 0)
            } catch {
                XCTFail("\(file.lastPathComponent): \(error)")
            }
        }
        XCTAssertEqual(try ModelSpec.load(configs.appendingPathComponent("bench-char.json")), Presets.benchChar)
        XCTAssertEqual(try ModelSpec.load(configs.appendingPathComponent("default.json")), Presets.mainJob)
    }
}
