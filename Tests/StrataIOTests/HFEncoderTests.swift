import Foundation
import StrataCore
import StrataIO
import StrataModels
import StrataNN
import XCTest

/// The packed inference path against its padded twin, token types (BERT sentence pairs) and RoBERTa position
/// offsets against transformers' BertModel / RobertaModel outputs (Tests/Fixtures/hf-tiny, made by
/// tools/make_bert_family_fixtures.py).
final class HFEncoderTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hf-tiny")

    struct FixtureError: Error { var message: String }

    /// ids, mask, types [B][T] and transformers' last hidden states [B][T][C] of a fixture directory.
    struct Expected { var ids: [[Int32]]; var mask: [[Int32]]; var types: [[Int32]]?; var hidden: [[[Float]]] }

    func expected(_ name: String) throws -> Expected {
        let url = Self.fixtures.appendingPathComponent(name).appendingPathComponent("expected.json")
        guard let o = try StrataModels.JSONValue.parse(Data(contentsOf: url)).objectValue,
              case .array(let h)? = o["hidden"] else {
            throw FixtureError(message: "\(url.path): expected an object with ids, mask, types and hidden")
        }
        func numbers(_ v: StrataModels.JSONValue?) -> [Double] {
            guard case .array(let a)? = v else { return [] }
            return a.map { if case .number(let n) = $0 { n } else { .nan } }
        }
        func rows(_ v: StrataModels.JSONValue?) -> [[Int32]]? {
            guard case .array(let a)? = v else { return nil }
            return a.map { numbers($0).map { Int32($0) } }
        }
        let hidden = h.map { seq -> [[Float]] in
            guard case .array(let toks) = seq else { return [] }
            return toks.map { numbers($0).map(Float.init) }
        }
        return Expected(ids: rows(o["ids"])!, mask: rows(o["mask"])!, types: rows(o["types"]), hidden: hidden)
    }

    /// Largest |a − b| over the unmasked tokens of `got` [B, T, C] (padded layout) against transformers.
    func maxDiffPadded(_ got: Tensor, _ e: Expected) -> Float {
        let (b, t, c) = (got.shape[0], got.shape[1], got.shape[2])
        let g = got.scalars
        var worst: Float = 0
        for i in 0..<b { for j in 0..<t where e.mask[i][j] == 1 { for k in 0..<c {
            worst = max(worst, abs(g[(i * t + j) * c + k] - e.hidden[i][j][k]))
        } } }
        return worst
    }

    /// Largest |a − b| of packed rows [N, C] (unmasked tokens in order) against transformers.
    func maxDiffPacked(_ got: Tensor, _ e: Expected) -> Float {
        let c = got.shape[1], g = got.scalars
        var row = 0, worst: Float = 0
        for i in e.ids.indices { for j in e.ids[i].indices where e.mask[i][j] == 1 {
            for k in 0..<c { worst = max(worst, abs(g[row * c + k] - e.hidden[i][j][k])) }
            row += 1
        } }
        XCTAssertEqual(row, got.shape[0])
        return worst
    }

    func unpadded(_ rows: [[Int32]], _ mask: [[Int32]]) -> [[Int32]] {
        zip(rows, mask).map { r, m in zip(r, m).filter { $0.1 == 1 }.map(\.0) }
    }

    func testBertSentencePairTokenTypesMatchTransformers() throws {
        let e = try expected("bert-pair")
        let model = try HFBertImport.load(directory: Self.fixtures.appendingPathComponent("bert-pair"))
        XCTAssertEqual(model.spec.typeVocabSize, 2)
        let (b, t) = (e.ids.count, e.ids[0].count)
        let padded = withNoGrad {
            model.hiddenStates(e.ids.flatMap { $0 }, batch: b, length: t, attentionMask: e.mask.flatMap { $0 },
                               tokenTypes: e.types!.flatMap { $0 })
        }
        XCTAssertLessThanOrEqual(maxDiffPadded(padded, e), 1e-4)
        let packed = try HFPackedEncoder(model: model)
            .hiddenStates(unpadded(e.ids, e.mask), tokenTypes: unpadded(e.types!, e.mask))
        XCTAssertLessThanOrEqual(maxDiffPacked(packed, e), 1e-4)
        // Segment B must matter: all-zero types give different states for the type-1 tokens.
        let typeless = try HFPackedEncoder(model: model).hiddenStates(unpadded(e.ids, e.mask))
        XCTAssertGreaterThan(maxDiffPacked(typeless, e), 1e-2)
    }

    func testRobertaPositionOffsetMatchesTransformers() throws {
        let e = try expected("roberta")
        let dir = Self.fixtures.appendingPathComponent("roberta")
        let config = try HFBertConfig.load(from: dir.appendingPathComponent("config.json"))
        XCTAssertEqual(config.positionOffset, 2)
        XCTAssertEqual(config.contextLength, 12)
        let model = try HFBertImport.load(directory: dir)
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        let table = try file.tensor("roberta.embeddings.position_embeddings.weight")
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: model.stateDict())["positional.weight"]!.scalars,
                       table.slice(axis: 0, 2..<14).scalars)
        let (b, t) = (e.ids.count, e.ids[0].count)
        let padded = withNoGrad {
            model.hiddenStates(e.ids.flatMap { $0 }, batch: b, length: t, attentionMask: e.mask.flatMap { $0 })
        }
        XCTAssertLessThanOrEqual(maxDiffPadded(padded, e), 1e-4)
        let packed = try HFPackedEncoder(model: model).hiddenStates(unpadded(e.ids, e.mask))
        XCTAssertLessThanOrEqual(maxDiffPacked(packed, e), 1e-4)
    }

    /// Packed and padded paths agree on sequences of mixed and repeated lengths, for mean and cls pooling.
    func testPackedPathMatchesPaddedTwin() throws {
        let dir = Self.fixtures.appendingPathComponent("bert-pair")
        let config = try HFBertConfig.load(from: dir.appendingPathComponent("config.json"))
        var rng = RNG(seed: 3)
        let lengths = [5, 1, 16, 5, 5, 9, 2, 16, 7]
        let sequences = lengths.map { n in (0..<n).map { _ in Int32(rng.next() % 40) } }
        let types = lengths.map { n in (0..<n).map { Int32($0 >= n / 2 ? 1 : 0) } }
        for pooling in ["mean", "cls"] {
            var spec = config.spec
            spec.encoder.pooling = pooling
            let model = try HFBertImport.load(config: config, spec: spec,
                                              weights: SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors")))
            let encoder = HFSentenceEncoder(model: model, normalize: true)
            XCTAssertNotNil(encoder.packed)
            let packed = encoder.embed(sequences: sequences, tokenTypes: types)
            let t = lengths.max()!
            var ids: [Int32] = [], mask: [Int32] = [], flatTypes: [Int32] = []
            for (s, ty) in zip(sequences, types) {
                let pad = [Int32](repeating: 0, count: t - s.count)
                ids += s + pad
                mask += [Int32](repeating: 1, count: s.count) + pad
                flatTypes += ty + pad
            }
            let padded = encoder.embedPadded(ids: ids, attentionMask: mask, batch: lengths.count, length: t, tokenTypes: flatTypes)
            XCTAssertEqual(packed.shape, [lengths.count, 16])
            XCTAssertEqual(padded.shape, packed.shape)
            for (a, b) in zip(packed.scalars, padded.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5, pooling) }
            // The padded-batch entry point routes right-padded masks through the packed path: same result.
            let routed = encoder.embed(ids: ids, attentionMask: mask, batch: lengths.count, length: t, tokenTypes: flatTypes)
            for (a, b) in zip(routed.scalars, packed.scalars) { XCTAssertEqual(a, b, accuracy: 1e-6, pooling) }
        }
    }

    func testPackedPathNamesWhatItDoesNotSupport() throws {
        var spec = ModelSpec()
        spec.model = .encoder
        spec.dim = 8
        spec.heads = 2
        spec.layers = 1
        spec.vocabSize = 10
        spec.contextLength = 4
        XCTAssertThrowsError(try HFPackedEncoder(model: TransformerModel(spec: spec))) { error in
            XCTAssertEqual((error as? HFImportError)?.key, "final_norm", "\(error)")  // pre-LN: a final norm
        }
        XCTAssertNil(HFSentenceEncoder(model: try TransformerModel(spec: spec), normalize: false).packed)
    }

    func testTypeVocabSizeSpecKey() throws {
        var spec = ModelSpec()
        spec.model = .encoder
        spec.typeVocabSize = 2
        let json = spec.json
        XCTAssertEqual(json.objectValue?["type_vocab_size"], .number(2))
        XCTAssertEqual(ModelSpec.read(json).0.typeVocabSize, 2)
        XCTAssertNil(ModelSpec().json.objectValue?["type_vocab_size"], "specs without token types keep their JSON")
        XCTAssertEqual(try TransformerModel(spec: spec).tokenTypeEmbedding?.weight.shape, [2, 384])
        var decoder = ModelSpec()
        decoder.typeVocabSize = 2
        XCTAssertTrue(decoder.validate().contains { $0.path == "type_vocab_size" })
    }
}
