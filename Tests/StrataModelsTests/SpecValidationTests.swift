import Foundation
import XCTest
import StrataCore
import StrataModels

/// Validation that sees the whole spec (component constraints per effective block, model-level ranges) and the
/// cost and memory model.
final class SpecValidationTests: XCTestCase {
    static let softmaxFamily = ["softmax_attention", "sliding_window_attention", "sigmoid_attention", "clipped_softmax",
                                "gated_attention", "power_softmax", "topk_attention"]

    func issues(_ text: String, overrides: [(String, String)] = []) -> [SpecIssue] {
        do { _ = try ModelSpec.parse(Data(text.utf8), overrides: overrides); return [] }
        catch let e as SpecError { return e.issues }
        catch { XCTFail("\(error)"); return [] }
    }

    func testKVHeadsOfEverySoftmaxMixerAreCheckedAgainstHeads() throws {
        for id in SpecValidationTests.softmaxFamily {
            let bad2 = issues(#"{"dim": 96, "heads": 3, "block": {"token_mixer": {"id": "\#(id)", "kv_heads": 2}}}"#)
            XCTAssertEqual(bad2, [SpecIssue(path: "block.token_mixer.kv_heads",
                                            message: "heads (3) must be a multiple of kv_heads (2); valid kv_heads: 1, 3")], id)
            let bad4 = issues(#"{"dim": 96, "heads": 3, "block": {"token_mixer": {"id": "\#(id)", "kv_heads": 4}}}"#)
            XCTAssertEqual(bad4.map(\.path), ["block.token_mixer.kv_heads"], id)
            XCTAssertTrue(bad4.first?.message.contains("exceed") == true, "\(bad4)")
            let set = issues("{}", overrides: [("block.token_mixer.id", id), ("block.token_mixer.kv_heads", "5")])
            XCTAssertEqual(set.map(\.path), ["block.token_mixer.kv_heads"], id)
            XCTAssertEqual(issues("{}", overrides: [("block.token_mixer.id", id), ("block.token_mixer.kv_heads", "2")]), [], id)
            // A spec built in code reaches the model constructor directly: it throws instead of trapping.
            var spec = ModelSpec()
            spec.dim = 96; spec.heads = 3; spec.layers = 1
            spec.block.tokenMixer = ComponentSpec(id, ["kv_heads": .number(2)])
            XCTAssertThrowsError(try TransformerModel(spec: spec), id)
        }
    }

    func testOverridesAreCheckedPerLayerWithTheirOwnPath() {
        let text = #"""
        {"dim": 32, "heads": 4, "layers": 4,
         "overrides": [{"layers": [1, 3], "token_mixer": {"id": "gated_attention", "kv_heads": 3}},
                       {"layers": [2], "token_mixer": {"id": "topk_attention", "kv_heads": 8}}]}
        """#
        let found = issues(text)
        XCTAssertEqual(found.map(\.path), ["overrides.0.token_mixer.kv_heads", "overrides.1.token_mixer.kv_heads"], "\(found)")
        // The default block's constraint, seen at every layer, is reported once under `block`.
        let block = issues(#"{"dim": 32, "heads": 4, "layers": 3, "block": {"token_mixer": {"id": "softmax_attention", "kv_heads": 3}}}"#)
        XCTAssertEqual(block.map(\.path), ["block.token_mixer.kv_heads"])
        // An override that replaces the offending mixer at every layer leaves nothing to report.
        let replaced = issues(#"""
        {"dim": 32, "heads": 4, "layers": 2, "block": {"token_mixer": {"id": "softmax_attention", "kv_heads": 3}},
         "overrides": [{"layers": [0, 1], "token_mixer": "gla"}]}
        """#)
        XCTAssertEqual(replaced, [])
    }

    func testHeadGateNeedsDimDivisibleByHeads() {
        let found = issues(#"{"dim": 30, "heads": 4, "head_dim": 8, "block": {"token_mixer": "gated_attention"}}"#)
        XCTAssertEqual(found.map(\.path), ["block.token_mixer.gate"])
        XCTAssertEqual(issues(#"{"dim": 30, "heads": 4, "head_dim": 8, "block": {"token_mixer": {"id": "gated_attention", "gate": "all_heads"}}}"#), [])
    }

    func testModelLevelSizesGiveOneErrorEach() {
        XCTAssertEqual(issues(#"{"heads": 0}"#), [SpecIssue(path: "heads", message: "0 is out of range 1...4096 (at least 1)")])
        XCTAssertEqual(issues(#"{"heads": 0, "block": {"token_mixer": {"id": "softmax_attention", "kv_heads": 4}}}"#).map(\.path), ["heads"])
        XCTAssertEqual(issues(#"{"dim": 0, "heads": 5}"#).map(\.path), ["dim"])
        XCTAssertEqual(issues(#"{"layers": 0}"#), [SpecIssue(path: "layers", message: "0 is out of range 1...4096 (at least 1)")])
        XCTAssertEqual(issues(#"{"layers": -3}"#).map(\.path), ["layers"])
        XCTAssertEqual(issues("{}", overrides: [("layers", "0")]).map(\.path), ["layers"])
        XCTAssertEqual(issues(#"{"head_dim": 0}"#).map(\.path), ["head_dim"])
        XCTAssertEqual(issues(#"{"context_length": 0}"#).map(\.path), ["context_length"])
        XCTAssertEqual(issues(#"{"vocab_size": 1}"#).map(\.path), ["vocab_size"])
        XCTAssertEqual(issues(#"{"overrides": [{"layers": [1e300]}]}"#).map(\.path), ["overrides.0.layers"])
        // A spec built in code with layers 0 is refused by validate(), naming layers.
        var spec = ModelSpec()
        spec.layers = 0
        XCTAssertEqual(spec.validate().map(\.path), ["layers"])
        XCTAssertTrue(spec.validate().first?.message.contains("at least 1") == true)
    }

    func testContextLengthOneBuildsStepsAndDecodesWithEveryMixer() throws {
        for e in Catalog.tokenMixers.entries {
            var spec = ModelSpec()
            spec.contextLength = 1; spec.dim = 16; spec.heads = 2; spec.layers = 1
            spec.block.tokenMixer = ComponentSpec(e.info.id)
            let model = try TransformerModel(spec: spec)
            XCTAssertTrue(model.smokeStep(batch: 2, length: 1).isFinite, e.info.id)
        }
    }

    func testCostOfBenchCharMatchesTheDesignFigures() {
        let cost = Presets.benchChar.cost()
        XCTAssertEqual(cost.parameters, Presets.benchChar.expectedParameterCount)
        XCTAssertEqual(Double(cost.parameters), 10.8e6, accuracy: 0.1e6)
        XCTAssertEqual(cost.trainingFlopsPerToken, 68e6, accuracy: 1e6)      // design.md §6
        XCTAssertEqual(cost.trainingFlopsPerToken, 3 * cost.forwardFlopsPerToken)
        // Linear mixers cost no more per token at a longer context; softmax attention costs more.
        var long = Presets.mainJob
        long.contextLength = 4096
        XCTAssertGreaterThan(long.cost().forwardFlopsPerToken, Presets.mainJob.cost().forwardFlopsPerToken)
        var gla = Presets.mainJob, glaLong = Presets.mainJob
        gla.block.tokenMixer = "gla"; glaLong.block.tokenMixer = "gla"; glaLong.contextLength = 4096
        XCTAssertEqual(gla.cost().forwardFlopsPerToken, glaLong.cost().forwardFlopsPerToken, accuracy: 1)
    }

    func testMemoryEstimateRefusesWhatTheMachineCannotHold() throws {
        let small = Presets.mainJob.trainingMemory(batch: 8)
        XCTAssertEqual(small.weights, 4 * Double(Presets.mainJob.expectedParameterCount))
        XCTAssertEqual(small.optimizerState, 2 * small.weights)
        XCTAssertLessThan(small.total, 1e9)
        XCTAssertNoThrow(try Presets.mainJob.requireTrainingFits(batch: 8))
        var wide = Presets.mainJob
        wide.dim = 65536
        XCTAssertTrue(wide.validate().isEmpty)
        XCTAssertThrowsError(try wide.requireTrainingFits(batch: 8)) { error in
            let message = "\(error)"
            XCTAssertTrue(error is MemoryLimitError && message.contains(" GB") && message.contains("batch 8"), message)
        }
        XCTAssertThrowsError(try wide.requireInferenceFits())
        XCTAssertGreaterThan(wide.modelMemory.total, MemoryBudget.physicalBytes)
        XCTAssertThrowsError(try MemoryBudget.require(wide.modelMemory, for: "building the model"))
        XCTAssertThrowsError(try Presets.mainJob.requireTrainingFits(batch: 100_000))
        // Memory grows with the batch; a limit given explicitly is honoured.
        XCTAssertGreaterThan(Presets.mainJob.trainingMemory(batch: 16).activations, small.activations)
        XCTAssertThrowsError(try Presets.mainJob.requireTrainingFits(batch: 8, limit: small.total / 2))
        // Materialized attention grows as T²; the fused softmax kernel does not.
        var sigmoid = Presets.mainJob
        sigmoid.block.tokenMixer = "sigmoid_attention"
        XCTAssertGreaterThan(sigmoid.trainingMemory(batch: 8).attentionAndState, 0)
        XCTAssertEqual(Presets.mainJob.trainingMemory(batch: 8).attentionAndState, 0)
    }

    func testResolvedJSONWritesEveryDefault() throws {
        let resolved = Presets.mainJob.resolvedJSON
        guard case .object(let top) = resolved, case .object(let block)? = top["block"],
              case .object(let mixer)? = block["token_mixer"] else { return XCTFail("\(resolved)") }
        XCTAssertEqual(mixer["id"], .string("softmax_attention"))
        XCTAssertEqual(mixer["qk_norm"], .string("none"))
        XCTAssertNil(mixer["kv_heads"])
        // The resolved spec parses back to the same model (its options now written out).
        let back = try ModelSpec.parse(Data(resolved.jsonText().utf8))
        XCTAssertEqual(back.cost(), Presets.mainJob.cost())
        XCTAssertEqual(back.block.tokenMixer.id, "softmax_attention")
        XCTAssertEqual(back.block.tokenMixer.options["qk_norm"], .string("none"))
    }

    func testMalformedJSONNamesLineAndColumnAndADirectoryIsNamed() throws {
        let found = issues("{\"dim\": 16,\n  \"heads\": 2\n  \"layers\": 1}")
        XCTAssertEqual(found.count, 1)
        XCTAssertTrue(found.first?.message.hasPrefix("not valid JSON at line 3, column 3") == true, "\(found)")
        XCTAssertEqual(issues("  \n").first?.message, "not valid JSON: the file is empty")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spec-dir-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try ModelSpec.load(dir)) { error in
            XCTAssertTrue("\(error)".contains("is a directory, not a spec file"), "\(error)")
        }
    }
}
