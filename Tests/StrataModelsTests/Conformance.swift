import Foundation
import XCTest
import StrataCore
import StrataKernels
import StrataNN
import StrataModels

/// The shared conformance suite. It walks every registry, so a new variant is covered by adding its registry
/// line: each id is placed into a tiny decoder (the baseline with only that component changed) and must pass
/// the same checks.
enum Conformance {
    /// One variant under test: which slot, which id, and the tiny spec that exercises it.
    struct Case: CustomStringConvertible {
        var slot: Slot
        var id: String
        var spec: ModelSpec
        var description: String { "\(slot.rawValue) \(id)" }
    }

    /// The tiny baseline every case starts from: 2 layers, width 16, 2 heads, context 12, vocabulary 32.
    static func baseline() -> ModelSpec {
        var s = ModelSpec()
        s.name = "conformance"
        s.vocabSize = 32; s.contextLength = 12; s.dim = 16; s.layers = 2; s.heads = 2
        return s
    }

    /// Every registered variant of every slot, each in its own tiny spec.
    static func allCases() -> [Case] {
        var cases: [Case] = []
        for id in Catalog.norms.ids {
            var s = baseline(); s.block.norm = ComponentSpec(id); s.finalNorm = ComponentSpec(id)
            cases.append(Case(slot: .norm, id: id, spec: s))
        }
        for id in Catalog.tokenMixers.ids {
            var s = baseline(); s.block.tokenMixer = ComponentSpec(id)
            cases.append(Case(slot: .tokenMixer, id: id, spec: s))
        }
        for id in Catalog.channelMixers.ids {
            var s = baseline(); s.block.channelMixer = ComponentSpec(id)
            cases.append(Case(slot: .channelMixer, id: id, spec: s))
        }
        for id in Catalog.residuals.ids {
            var s = baseline(); s.block.residual = ComponentSpec(id)
            cases.append(Case(slot: .residual, id: id, spec: s))
        }
        for id in Catalog.positional.ids {
            var s = baseline(); s.positional = ComponentSpec(id)
            cases.append(Case(slot: .positional, id: id, spec: s))
        }
        for placement in NormPlacement.allCases {
            var s = baseline(); s.block.placement = placement
            cases.append(Case(slot: .norm, id: "placement \(placement.rawValue)", spec: s))
        }
        for layout in BlockLayout.allCases where layout != .sequential {
            var s = baseline(); s.block.layout = layout
            cases.append(Case(slot: .channelMixer, id: "layout \(layout.rawValue)", spec: s))
        }
        return cases
    }

    /// Deterministic token ids in the vocabulary.
    static func tokens(_ count: Int, vocab: Int, seed: UInt64) -> [Int32] {
        var rng = RNG(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % UInt64(vocab)) }
    }

    /// L = Σ logits ∘ R in double precision (no graph).
    static func weightedSum(_ logits: Tensor, _ r: [Float]) -> Double {
        let y = logits.scalars
        var s = 0.0
        for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
        return s
    }
}
