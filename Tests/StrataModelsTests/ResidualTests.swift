import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

final class ResidualTests: XCTestCase {
    func input(_ shape: [Int] = [2, 4, 8], seed: UInt64 = 51, scale: Float = 1) -> Tensor {
        var rng = RNG(seed: seed)
        return rng.normal(shape, std: scale)
    }

    /// A 1-layer model whose norm gains and shifts are random, so that swapping two norms would show.
    func model(_ spec: ModelSpec) throws -> TransformerModel {
        let m = try TransformerModel(spec: spec, seed: 7)
        var rng = RNG(seed: 8)
        for (_, p) in m.namedParameters() where p.role == .norm { p.assign(rng.normal(p.shape, mean: 1, std: 0.3)) }
        return m
    }

    // MARK: residual variants

    func testLayerScaleScalesTheBranchPerChannelAndStartsNearIdentity() throws {
        let ls = VariantFixtures.build(LayerScale.self, ["init": .number(0.1)])
        XCTAssertEqual(ls.parameterCount, 8)
        ls.scale.assign(input([8], seed: 52))
        let (x, y) = (input(seed: 53), input(seed: 54))
        let lambda = ls.scale.value.scalars, xs = x.scalars, ys = y.scalars
        let out = ls.combine(x, y).scalars
        for i in 0..<xs.count { XCTAssertEqual(out[i], xs[i] + lambda[i % 8] * ys[i], accuracy: 1e-6) }
        VariantGradCheck().check("layer_scale", parameters: ls.namedParameters(), inputs: [x, y]) { ls.combine($0[0], $0[1]) }
        // At the default init (1e-5) every block is within ~1e-5 relative of the identity.
        let m = try TransformerModel(spec: VariantFixtures.spec(residual: "layer_scale"), seed: 1)
        let ctx = MixerContext(positional: m.positional)
        let h = input(seed: 55)
        for block in m.blocks {
            let out = block.forward(h, context: ctx, cache: nil)
            let rel = (out - h).pow(2).sum().item.squareRoot() / h.pow(2).sum().item.squareRoot()
            XCTAssertLessThan(rel, 1e-4)
        }
    }

    func testGTrXLGateMatchesTheGRUFormula() {
        for relu in [true, false] {
            let g = VariantFixtures.build(GTrXLGate.self, ["relu": .bool(relu), "gate_bias": .number(1.5)])
            XCTAssertEqual(g.parameterCount, 6 * 64)
            let (x, y) = (input(seed: 56), input(seed: 57))
            func lin(_ w: Tensor, _ v: Tensor) -> Tensor { v.matmul(w, transposeB: true) }
            let wy = g.fromOutput.weight.value, ux = g.fromStream.weight.value
            let (wr, wz, wg) = (wy.slice(axis: 0, 0..<8), wy.slice(axis: 0, 8..<16), wy.slice(axis: 0, 16..<24))
            let (ur, uz) = (ux.slice(axis: 0, 0..<8), ux.slice(axis: 0, 8..<16))
            let yy = relu ? y.relu() : y
            let r = (lin(wr, yy) + lin(ur, x)).sigmoid()
            let z = (lin(wz, yy) + lin(uz, x) - 1.5).sigmoid()
            let hHat = (lin(wg, yy) + lin(g.reset.weight.value, r * x)).tanh()
            let expected = (1 - z) * x + z * hHat
            XCTAssertLessThan(maxAbsDifference(g.combine(x, y), expected), 1e-5)
            var rng = RNG(seed: 58)
            let yAway = rng.normal([2, 4, 8]).map { $0 >= 0 ? $0 + 0.3 : $0 - 0.3 }     // away from the ReLU kink
            VariantGradCheck().check("gtrxl_gate", parameters: g.namedParameters(), inputs: [x, yAway]) {
                g.combine($0[0], $0[1])
            }
        }
    }

    /// Catalog check (a): at initialization with b_g = 2 each gated residual moves the stream by < 0.2 relative.
    /// (Per gate: the update gate z ≈ σ(−2) ≈ 0.12 shrinks x toward ĥ ≈ 0 at each of a block's two sublayers.)
    func testGTrXLGateIsNearIdentityAtInitialization() throws {
        var spec = VariantFixtures.spec(residual: "gtrxl_gate")
        spec.dim = 32; spec.heads = 4; spec.initStd = 0.02
        let m = try TransformerModel(spec: spec, seed: 2)
        let ctx = MixerContext(positional: m.positional)
        var h = input([2, 6, 32], seed: 59)
        for block in m.blocks {
            let scratch = BlockScratch()
            let y = block.mixer.forward(block.mixerSite.inputNorm!.normalize(h, site: .mixerInput, scratch: scratch),
                                        context: ctx, cache: nil)
            let a = block.mixerSite.residual.combine(h, y)
            let f = block.channel!.forward(block.channelSite!.inputNorm!.normalize(a, site: .channelInput, scratch: scratch),
                                           context: ctx)
            let out = block.channelSite!.residual.combine(a, f)
            for (before, after) in [(h, a), (a, out)] {
                let rel = (after - before).pow(2).sum().item.squareRoot() / before.pow(2).sum().item.squareRoot()
                XCTAssertLessThan(rel, 0.2)
            }
            XCTAssertLessThan(maxAbsDifference(block.forward(h, context: ctx, cache: nil), out), 1e-6)
            h = out
        }
    }

    func testResidualVariantsInTinyModels() throws {
        for residual in ["layer_scale", "gtrxl_gate"] {
            for layout in BlockLayout.allCases {
                let r: ComponentSpec = residual == "layer_scale" ? ComponentSpec(residual, ["init": .number(0.5)]) : "gtrxl_gate"
                try VariantFixtures.checkModel(VariantFixtures.spec(residual: r, layout: layout),
                                               gradientFilter: { $0.contains("residual") || $0.hasPrefix("blocks.1.mixer.") })
            }
        }
    }

    // MARK: block layouts and placements (Models/Block.swift), recomputed by hand

    struct Parts {
        let block: Block
        let ctx: MixerContext
        func attn(_ h: Tensor) -> Tensor { block.mixer.forward(h, context: ctx, cache: nil) }
        func ffn(_ h: Tensor) -> Tensor { block.channel!.forward(h, context: ctx) }
        func ffn1(_ h: Tensor) -> Tensor { block.preChannel!.forward(h, context: ctx) }
        func norm(_ n: (any NormLayer)?, _ h: Tensor) -> Tensor { n!.normalize(h, site: .final, scratch: BlockScratch()) }
    }

    func parts(_ spec: ModelSpec) throws -> (TransformerModel, Parts) {
        let m = try model(spec)
        return (m, Parts(block: m.blocks[0], ctx: MixerContext(positional: m.positional)))
    }

    func testPrePostPeriPlacementsFollowTheirFormulas() throws {
        let x = input()
        for placement in [NormPlacement.pre, .post, .peri, .none] {
            let (m, p) = try parts(VariantFixtures.spec(placement: placement, layers: 1))
            let (ms, cs) = (p.block.mixerSite, p.block.channelSite!)
            let expected: Tensor
            switch placement {
            case .pre:
                let h = x + p.attn(p.norm(ms.inputNorm, x))
                expected = h + p.ffn(p.norm(cs.inputNorm, h))
            case .post:
                let h = p.norm(ms.inputNorm, x + p.attn(x))
                expected = p.norm(cs.inputNorm, h + p.ffn(h))
            case .peri:
                let h = x + p.norm(ms.outputNorm, p.attn(p.norm(ms.inputNorm, x)))
                expected = h + p.norm(cs.outputNorm, p.ffn(p.norm(cs.inputNorm, h)))
            case .none:
                let h = x + p.attn(x)
                expected = h + p.ffn(h)
            }
            XCTAssertLessThan(maxAbsDifference(p.block.forward(x, context: p.ctx, cache: nil), expected), 1e-5, "\(placement)")
            // Model level: the embedding norm (peri) before the block, the final norm (pre, peri) after it.
            let ids = VariantFixtures.ids(8)
            var h = m.positional.embed(m.tokenEmbedding(ids, shape: [2, 4]), offset: 0)
            XCTAssertEqual(m.embeddingNorm != nil, placement == .peri)
            XCTAssertEqual(m.finalNorm != nil, placement == .pre || placement == .peri)
            if let n = m.embeddingNorm { h = p.norm(n, h) }
            h = p.block.forward(h, context: p.ctx, cache: nil)
            if let n = m.finalNorm { h = p.norm(n, h) }
            XCTAssertLessThan(maxAbsDifference(m.hiddenStates(ids, batch: 2, length: 4), h), 1e-6, "\(placement)")
        }
    }

    func testParallelBlockEqualsTheSumOfItsBranches() throws {
        let x = input(seed: 60)
        for placement in [NormPlacement.pre, .post, .peri] {
            let (_, p) = try parts(VariantFixtures.spec(placement: placement, layout: .parallel, layers: 1))
            let (ms, cs) = (p.block.mixerSite, p.block.channelSite!)
            let expected: Tensor
            switch placement {
            case .pre: expected = x + p.attn(p.norm(ms.inputNorm, x)) + p.ffn(p.norm(cs.inputNorm, x))
            case .post: expected = p.norm(ms.inputNorm, x + p.attn(x) + p.ffn(x))
            default:
                expected = x + p.norm(ms.outputNorm, p.attn(p.norm(ms.inputNorm, x)))
                    + p.norm(cs.outputNorm, p.ffn(p.norm(cs.inputNorm, x)))
            }
            XCTAssertLessThan(maxAbsDifference(p.block.forward(x, context: p.ctx, cache: nil), expected), 1e-6, "\(placement)")
        }
    }

    func testMacaronWithAZeroSecondFFNIsHalfFFNThenAttention() throws {
        let x = input(seed: 61)
        let (_, p) = try parts(VariantFixtures.spec(layout: .macaron, layers: 1))
        let (pre, ms, cs) = (p.block.preChannelSite!, p.block.mixerSite, p.block.channelSite!)
        // Both FFNs present: x ← x + ½FFN₁; x ← x + Attn; x ← x + ½FFN₂.
        let h1 = x + p.ffn1(p.norm(pre.inputNorm, x)) * 0.5
        let h2 = h1 + p.attn(p.norm(ms.inputNorm, h1))
        let full = h2 + p.ffn(p.norm(cs.inputNorm, h2)) * 0.5
        XCTAssertLessThan(maxAbsDifference(p.block.forward(x, context: p.ctx, cache: nil), full), 1e-6)
        // FFN₂ ≡ 0: exactly the FFN-then-attention order with FFN₁ at half scale.
        let second = p.block.channel as! MLP
        second.down.weight.assign(.zeros(second.down.weight.shape))
        XCTAssertLessThan(maxAbsDifference(p.block.forward(x, context: p.ctx, cache: nil), h2), 1e-6)
        XCTAssertTrue(p.block.preChannel !== p.block.channel)
    }
}
