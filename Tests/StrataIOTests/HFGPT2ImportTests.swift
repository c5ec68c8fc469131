import Foundation
import StrataCore
import StrataIO
import StrataModels
import XCTest

/// GPT-2 import against a tiny random transformers GPT2LMHeadModel (Tests/Fixtures/minilm/gpt2_tiny.json, made by
/// tools/make_gpt2_fixture.py): same logits for the fixture's token ids.
final class HFGPT2ImportTests: XCTestCase {
    func testTinyGPT2LogitsMatchTransformers() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/minilm/gpt2_tiny.json")
        guard let doc = try StrataModels.JSONValue.parse(Data(contentsOf: url)).objectValue,
              let config = doc["config"], let tensorObject = doc["tensors"]?.objectValue,
              case .array(let idValues)? = doc["ids"], case .array(let rows)? = doc["logits"] else {
            return XCTFail("\(url.path): expected config, tensors, ids and logits")
        }
        func numbers(_ v: StrataModels.JSONValue?) -> [Double] {
            guard case .array(let a)? = v else { return [] }
            return a.map { if case .number(let n) = $0 { n } else { .nan } }
        }
        var tensors: [(String, Tensor)] = []
        for (name, t) in tensorObject.sorted(by: { $0.key < $1.key }) {
            let shape = numbers(t.objectValue?["shape"]).map { Int($0) }
            tensors.append((name, Tensor(numbers(t.objectValue?["data"]).map { Float($0) }, shape: shape)))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(config.jsonText().utf8).write(to: dir.appendingPathComponent("config.json"))
        try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        let model = try HFGPT2Import.load(directory: dir)
        let ids = numbers(.array(idValues)).map { Int32($0) }
        let logits = withNoGrad { model.logits(ids, batch: 1, length: ids.count) }.scalars
        let expected = rows.flatMap { numbers($0) }
        XCTAssertEqual(logits.count, expected.count)
        let diff = zip(logits, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
        print("GPT-2 tiny fixture: max |logit diff| \(diff)")
        XCTAssertLessThanOrEqual(diff, 1e-4)

        // A missing tensor is named.
        try SafeTensorsWriter.write(tensors.filter { $0.0 != "transformer.h.1.mlp.c_fc.bias" },
                                    to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try HFGPT2Import.load(directory: dir)) {
            XCTAssertTrue("\($0)".contains("missing tensors: h.1.mlp.c_fc.bias"), "\($0)")
        }
    }

    /// A GPT-2-shaped Strata decoder written as an HF directory and read back gives the same logits; other
    /// specs are refused with the reasons.
    func testExportImportRoundTrip() throws {
        var spec = ModelSpec()
        spec.vocabSize = 23
        spec.contextLength = 8
        spec.dim = 12
        spec.layers = 2
        spec.heads = 3
        spec.block.tokenMixer = ComponentSpec("softmax_attention", ["bias": .bool(true)])
        spec.block.channelMixer = ComponentSpec("mlp", ["bias": .bool(true), "activation": .string("gelu_tanh")])
        let model = try TransformerModel(spec: spec, seed: 3)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gpt2-rt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try HFGPT2Export.save(model, to: dir)
        let back = try HFGPT2Import.load(directory: dir)
        let ids: [Int32] = [1, 5, 22, 0, 7, 7]
        let a = withNoGrad { model.logits(ids, batch: 1, length: 6) }.scalars
        let b = withNoGrad { back.logits(ids, batch: 1, length: 6) }.scalars
        XCTAssertEqual(a, b)
        var rms = spec
        rms.block.norm = "rms_norm"
        rms.positional = "rope"
        let reasons = HFGPT2Export.incompatibilities(rms)
        XCTAssertTrue(reasons.contains { $0.contains("block.norm: rms_norm") } && reasons.contains { $0.contains("positional: rope") }, "\(reasons)")
    }
}
