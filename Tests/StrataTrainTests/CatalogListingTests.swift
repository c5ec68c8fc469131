import Foundation
import StrataModels
import XCTest

/// `strata catalog` lists every component and the spec keys that are not components; the docs that count or
/// name registered ids agree with the registries.
final class CatalogListingTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The model-level key list matches what a fully populated spec writes, in both directions, so a new spec
    /// key cannot be left out of `strata catalog`.
    func testModelKeyDocsCoverEverySpecKey() throws {
        var spec = ModelSpec()
        spec.model = .encoder; spec.headDim = 8; spec.headBias = true; spec.typeVocabSize = 2
        spec.embeddingNorm = "layer_norm"; spec.finalNorm = "layer_norm"; spec.overrides = [LayerOverride(layers: [0])]
        guard case .object(let o) = spec.json else { return XCTFail("spec JSON is not an object") }
        var written = Set(o.keys)
        written.remove("block"); written.remove("encoder")
        if case .object(let e)? = o["encoder"] { written.formUnion(e.keys.map { "encoder.\($0)" }) }
        if case .object(let b)? = o["block"] { written.formUnion(b.keys.map { "block.\($0)" }) }
        let listed = Set((ModelSpec.modelKeyDocs + ModelSpec.blockKeyDocs).map(\.key))
        XCTAssertEqual(listed, written, "listed but not written: \(listed.subtracting(written)); "
                       + "written but not listed: \(written.subtracting(listed))")
        let placement = try XCTUnwrap(ModelSpec.blockKeyDocs.first { $0.key == "block.placement" })
        XCTAssertEqual(placement.choices.map(\.value), NormPlacement.allCases.map(\.rawValue))
        XCTAssertEqual(ModelSpec.modelKeyDocs.first { $0.key == "z_loss" }?.defaultValue, "0.0")
    }

    func testCatalogCommandListsPlacementsLayoutsAndModelKeys() throws {
        let dir = FileManager.default.temporaryDirectory
        let text = try StrataExecutable.run(["catalog"], in: dir)
        for needle in ["block.placement = pre", "peri — ", "block.layout = sequential", "macaron — ", "z_loss = 0.0",
                       "tie_embeddings = true", "init_std = 0.02", "layer_norm_scaling — "] {
            XCTAssertTrue(text.contains(needle), "strata catalog does not list \(needle)")
        }
        let json = try StrataExecutable.run(["catalog", "--json"], in: dir)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let components = try XCTUnwrap(parsed?["components"] as? [[String: Any]])
        XCTAssertEqual(components.count, Catalog.tokenMixers.ids.count + Catalog.norms.ids.count
                       + Catalog.channelMixers.ids.count + Catalog.residuals.ids.count + Catalog.positional.ids.count)
        let keys = try XCTUnwrap(parsed?["spec_keys"] as? [[String: Any]]).compactMap { $0["key"] as? String }
        for key in ["block.placement", "block.layout", "z_loss", "tie_embeddings", "init_std", "head_bias"] {
            XCTAssertTrue(keys.contains(key), "catalog --json has no spec key \(key)")
        }
        let mixersOnly = try StrataExecutable.run(["catalog", "--slot", "token_mixer"], in: dir)
        XCTAssertFalse(mixersOnly.contains("block.placement"), "--slot lists one slot only")
    }

    /// README's sentence about what is registered carries the registry's counts.
    func testReadmeCountsTheRegisteredVariants() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
            .replacingOccurrences(of: "\n", with: " ")
        let total = Catalog.norms.ids.count + Catalog.tokenMixers.ids.count + Catalog.channelMixers.ids.count
            + Catalog.residuals.ids.count + Catalog.positional.ids.count
        let sentence = "each of the \(total) variants registered today (\(Catalog.norms.ids.count) norms, "
            + "\(Catalog.tokenMixers.ids.count) token mixers, \(Catalog.channelMixers.ids.count) channel mixers, "
            + "\(Catalog.residuals.ids.count) residual schemes, \(Catalog.positional.ids.count) positional schemes"
        XCTAssertTrue(readme.contains(sentence), "README should say: \(sentence)")
    }

    /// docs/tasks.md must not call a registered token mixer unregistered (it once said so of `lmu`).
    func testTaskDocsDoNotCallRegisteredMixersUnregistered() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/tasks.md"), encoding: .utf8)
            .replacingOccurrences(of: "\n", with: " ")
        XCTAssertTrue(Catalog.tokenMixers.ids.contains("lmu"))
        for phrase in ["not in the token-mixer registry", "is unregistered", "not registered"] {
            XCTAssertFalse(text.contains(phrase), "docs/tasks.md says \"\(phrase)\"")
        }
    }
}
