import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

final class PositionalTests: XCTestCase {
    private func dot(_ a: Tensor, _ b: Tensor) -> Float { zip(a.scalars, b.scalars).reduce(0) { $0 + $1.0 * $1.1 } }

    func testRopeDependsOnlyOnRelativePositionAndPreservesNorms() {
        let ctx = AttnKit.context(dim: 16, heads: 2, contextLength: 8)      // D = 8; positions ≥ 8 are computed on demand
        let rope = AttnKit.positional("rope", context: ctx)
        var rng = RNG(seed: 1)
        let q = rng.normal([1, 1, 1, 8]), k = rng.normal([1, 1, 1, 8])
        for (p, s) in [(3, 1), (5, 5), (2, 7)] {
            let base = dot(rope.rotate(q, offset: p), rope.rotate(k, offset: s))
            for shift in [1, 4, 30] {
                let moved = dot(rope.rotate(q, offset: p + shift), rope.rotate(k, offset: s + shift))
                XCTAssertEqual(moved, base, accuracy: 1e-5 * max(1, abs(base)), "positions \(p), \(s) shifted by \(shift)")
            }
        }
        for p in [0, 3, 100] {
            let r = rope.rotate(q, offset: p)
            XCTAssertEqual(dot(r, r), dot(q, q), accuracy: 1e-5 * dot(q, q))
        }
        // A block of T positions equals rotating each position on its own (tables and on-demand angles agree).
        let x = rng.normal([1, 2, 5, 8])
        let whole = rope.rotate(x, offset: 6)
        for t in 0..<5 {
            let one = rope.rotate(x.slice(axis: 2, t..<t + 1), offset: 6 + t)
            XCTAssertLessThan(AttnKit.maxDiff(one, whole.slice(axis: 2, t..<t + 1)), 1e-6)
        }
    }

    func testRopeRotatesInterleavedPairsByPositionTimesTheta() {
        let ctx = AttnKit.context(dim: 8, heads: 2, contextLength: 16)      // D = 4: θ_0 = 1, θ_1 = 10000^(−1/2) = 0.01
        let rope = AttnKit.positional("rope", context: ctx)
        let x = Tensor([1, 0, 1, 0], shape: [1, 1, 1, 4])
        let p = 3
        let y = rope.rotate(x, offset: p).scalars
        XCTAssertEqual(y[0], cos(3), accuracy: 1e-6); XCTAssertEqual(y[1], sin(3), accuracy: 1e-6)
        XCTAssertEqual(y[2], cos(0.03), accuracy: 1e-6); XCTAssertEqual(y[3], sin(0.03), accuracy: 1e-6)
        // Partial rotary: fraction 0.5 of D = 4 rotates one pair (dims 0, 1) with θ_0 = 1; dims 2, 3 pass through.
        let partial = AttnKit.positional("rope", ["fraction": .number(0.5)], context: ctx)
        let z = partial.rotate(Tensor([1, 0, 5, 6], shape: [1, 1, 1, 4]), offset: p).scalars
        XCTAssertEqual(z[0], cos(3), accuracy: 1e-6); XCTAssertEqual(z[1], sin(3), accuracy: 1e-6)
        XCTAssertEqual(Array(z[2...]), [5, 6])
        XCTAssertEqual(RotaryPositions.rotatedPairs(headDim: 64, fraction: 0.25), 8)
        XCTAssertEqual(AttnKit.positional("rope", ["fraction": .number(0)], context: ctx).rotate(x, offset: 5).scalars, x.scalars)
    }

    func testRopeGradientMatchesFiniteDifferences() {
        let ctx = AttnKit.context(dim: 8, heads: 2, contextLength: 4)
        let rope = AttnKit.positional("rope", ["fraction": .number(0.5)], context: ctx)
        var rng = RNG(seed: 2)
        AttnKit.gradCheck("rope", module: rope, input: rng.normal([1, 2, 3, 4])) { rope.rotate($0, offset: 2) }
    }

    func testALiBiSlopesAndBiasMatrix() {
        XCTAssertEqual(ALiBiPositions.slopes(heads: 4), [0.25, 0.0625, 0.015625, 0.00390625])
        XCTAssertEqual(ALiBiPositions.slopes(heads: 8).first, 0.5)
        XCTAssertEqual(ALiBiPositions.slopes(heads: 8).last, 1 / 256)
        // Non-power-of-two H = 6: the 4 slopes of H = 4, then slopes 1 and 3 of H = 8 (2^−1, 2^−3).
        XCTAssertEqual(ALiBiPositions.slopes(heads: 6), [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
        let causal = AttnKit.positional("alibi", context: AttnKit.context(dim: 8, heads: 4))
        let bias = causal.attentionBias(heads: 4, queries: 2, keys: 5)!      // queries at key indices 3 and 4
        XCTAssertEqual(bias.shape, [1, 4, 2, 5])
        let b = bias.scalars, m = ALiBiPositions.slopes(heads: 4)
        for h in 0..<4 {
            for t in 0..<2 {
                let i = 3 + t
                for j in 0..<5 {
                    let expected = j <= i ? -m[h] * Float(i - j) : 0
                    XCTAssertEqual(b[(h * 2 + t) * 5 + j], expected, "h \(h) i \(i) j \(j)")
                }
            }
        }
        let bidirectional = AttnKit.positional("alibi", context: AttnKit.context(dim: 8, heads: 4, causal: false))
        let bb = bidirectional.attentionBias(heads: 4, queries: 3, keys: 3)!.scalars
        XCTAssertEqual(bb[(1 * 3 + 0) * 3 + 2], -m[1] * 2)
        XCTAssertEqual(bb[(1 * 3 + 2) * 3 + 0], -m[1] * 2)
    }

    func testSinusoidalTableMatchesFormula() {
        let ctx = AttnKit.context(dim: 6, heads: 2, contextLength: 4)
        let pe = AttnKit.positional("sinusoidal", context: ctx) as! SinusoidalPositions
        let e = pe.embedding(offset: 2, count: 5).scalars      // positions 2…6, beyond the 4-row table too
        for (row, p) in (2...6).enumerated() {
            for c in 0..<6 {
                let angle = Double(p) / pow(10000, Double(c - c % 2) / 6)
                let expected = Float(c % 2 == 0 ? sin(angle) : cos(angle))
                XCTAssertEqual(e[row * 6 + c], expected, accuracy: 1e-6, "p \(p) c \(c)")
            }
        }
        let x = Tensor.ones([2, 3, 6])
        let y = pe.embed(x, offset: 1)
        XCTAssertLessThan(AttnKit.maxDiff(y, x + pe.embedding(offset: 1, count: 3)), 1e-7)
        XCTAssertEqual(pe.parameterCount, 0)
    }

    func testModelDecodingWithEachSchemeEqualsFullForward() throws {
        for positional in ["rope", "alibi", "sinusoidal", "nope", "learned_abs_pe"] {
            var spec = ModelSpec()
            spec.dim = 16; spec.heads = 2; spec.layers = 2; spec.contextLength = 8; spec.vocabSize = 20
            spec.positional = ComponentSpec(positional)
            let model = try TransformerModel(spec: spec, seed: 3)
            model.train(false)
            let ids: [Int32] = [3, 7, 1, 19, 4, 4, 12, 0]
            let full = withNoGrad { model.logits(ids, batch: 1, length: 8) }
            let state = model.makeDecodeState(batch: 1)
            var steps: [Tensor] = []
            for (start, n) in [(0, 3), (3, 1), (4, 1), (5, 3)] {
                steps.append(withNoGrad { model.logits(Array(ids[start..<start + n]), batch: 1, length: n, state: state) })
            }
            XCTAssertLessThan(AttnKit.maxDiff(full, Tensor.concat(steps, axis: 1)), 1e-5, positional)
        }
    }

    func testBidirectionalNoPEEncoderIsPermutationEquivariant() throws {
        var spec = ModelSpec()
        spec.model = .encoder
        spec.dim = 16; spec.heads = 2; spec.layers = 2; spec.contextLength = 6; spec.vocabSize = 20
        spec.positional = "nope"
        let model = try TransformerModel(spec: spec, seed: 5)
        let ids: [Int32] = [3, 7, 1, 19, 4, 12]
        let perm = [4, 0, 5, 2, 1, 3]
        let h = withNoGrad { model.hiddenStates(ids, batch: 1, length: 6) }
        let hp = withNoGrad { model.hiddenStates(perm.map { ids[$0] }, batch: 1, length: 6) }
        XCTAssertLessThan(AttnKit.maxDiff(h.indexSelect(axis: 1, perm.map(Int32.init)), hp), 1e-5)
    }
}

/// The fused rotary op against its composed twin, values and gradients, full and partial rotation.
final class FusedRotaryTests: XCTestCase {
    func testFusedRotaryMatchesComposed() throws {
        for fraction in [1.0, 0.5] {
            var s = ModelSpec()
            s.dim = 24; s.heads = 2; s.contextLength = 40
            s.positional = ComponentSpec("rope", ["fraction": .number(fraction)])
            let rope = try XCTUnwrap(TransformerModel(spec: s, seed: 0).positional as? RotaryPositions)
            var rng = RNG(seed: 9)
            let x = rng.normal([2, 3, 7, 12])
            let a = x.requiringGrad(), b = x.requiringGrad()
            let ya = rope.rotate(a, offset: 5), yb = rope.rotateComposed(b, offset: 5)
            let r = rng.normal(ya.shape)
            ya.backward(r); yb.backward(r)
            for (u, v) in zip(ya.scalars, yb.scalars) { XCTAssertEqual(u, v, accuracy: 1e-5) }
            for (u, v) in zip(a.grad!.scalars, b.grad!.scalars) { XCTAssertEqual(u, v, accuracy: 1e-5) }
        }
    }
}
