import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

/// σReparam on the FFN projections (catalog `sigma_reparam`: every linear layer, not only attention's).
final class SigmaReparamTests: XCTestCase {
    let ctx = BuildContext(dim: 8, heads: 2, headDim: 4, layer: 0, layers: 2, contextLength: 8, causal: true, initStd: 0.3)

    func channelMixer(_ id: String, reparam: Bool, seed: UInt64 = 2) throws -> any ChannelMixer {
        var issues: [SpecIssue] = []
        let (entry, options) = try XCTUnwrap(Catalog.channelMixers.resolve(
            ComponentSpec(id, ["sigma_reparam": .bool(reparam)]), path: "channel_mixer", issues: &issues), "\(issues)")
        var rng = RNG(seed: seed)
        let m = entry.build(options, context: ctx, rng: &rng)
        XCTAssertEqual(m.parameterCount, entry.parameterCount(options, context: ctx), "\(id) parameter formula")
        return m
    }

    /// The projections of an FFN, in order, with their σReparam state.
    func layers(_ m: any ChannelMixer) -> [(Linear, SigmaReparam?)] {
        if let mlp = m as? MLP { return [(mlp.up, mlp.upReparam), (mlp.down, mlp.downReparam)] }
        let core = (m as? SwiGLU)?.core ?? (m as! GLU).core
        let r = core.reparams
        return [core.gate, core.up, core.down].enumerated().map { ($0.element, r.isEmpty ? nil : r[$0.offset]) }
    }

    func testFFNProjectionsAreReparameterizedAndInitUnchanged() throws {
        for id in ["mlp", "swiglu", "glu"] {
            let plain = try channelMixer(id, reparam: false), reparam = try channelMixer(id, reparam: true)
            for ((a, ra), (b, rb)) in zip(layers(plain), layers(reparam)) {
                XCTAssertNil(ra, id)
                XCTAssertNotNil(rb, id)
                XCTAssertEqual(a.weight.value.scalars, b.weight.value.scalars, "\(id): σReparam changed the initial weights")
            }
            // In evaluation mode u, v stay put, and each layer uses Ŵ = (γ/σ̂)·W with σ̂ = uᵀWv: scaling every
            // weight by 3 leaves the output unchanged (σ̂ scales too), which a plain FFN would not.
            reparam.train(false)
            var rng = RNG(seed: 3)
            let x = rng.normal([1, 4, 8])
            let mctx = MixerContext(positional: TestNoPositions())
            let before = reparam.forward(x, context: mctx)
            for (l, _) in layers(reparam) { l.weight.assign(l.weight.value * 3) }
            let after = reparam.forward(x, context: mctx)
            for (p, q) in zip(before.scalars, after.scalars) { XCTAssertEqual(p, q, accuracy: 1e-4 * max(1, abs(p)), id) }
        }
    }

    func testPowerIterationOnFFNLayersConvergesToTheSpectralNorm() throws {
        // catalog check (a): after 20 power-iteration steps σ̂ is within 1% of σ_max.
        for id in ["mlp", "swiglu"] {
            let m = try channelMixer(id, reparam: true)
            m.train(true)
            // A rank-one spike separates σ₁ from σ₂ as in trained weights (plain noise needs many more steps).
            var rng = RNG(seed: 5)
            for (l, _) in layers(m) {
                let (o, i) = (l.outputs, l.inputs)
                l.weight.assign(rng.normal([o, i]) * 0.3 + rng.normal([o, 1]).matmul(rng.normal([1, i])) * 0.5)
            }
            let x = rng.normal([1, 3, 8])
            for _ in 0..<20 { _ = withNoGrad { m.forward(x, context: MixerContext(positional: TestNoPositions())) } }
            for (l, r) in layers(m) {
                let reference = spectralNorm(l.weight.value)
                XCTAssertEqual(Double(r!.sigmaEstimates(l.weight.value)[0]), reference, accuracy: 0.01 * reference, id)
            }
        }
    }

    func testGradientsThroughReparameterizedFFNMatchFiniteDifferences() throws {
        for id in ["mlp", "swiglu"] {
            let m = try channelMixer(id, reparam: true)
            m.train(false)
            var rng = RNG(seed: 6)
            let x = rng.normal([1, 3, 8])
            let chosen = m.namedParameters().filter { $0.1.role != .other }
            VariantGradCheck().check("\(id) sigma_reparam", parameters: chosen, inputs: [x]) {
                m.forward($0[0], context: MixerContext(positional: TestNoPositions()))
            }
        }
    }

    /// σ_max of w [o, i] by a long power iteration on WᵀW in double precision.
    func spectralNorm(_ w: Tensor) -> Double {
        let (o, i) = (w.shape[0], w.shape[1])
        let a = w.scalars.map(Double.init)
        var v = [Double](repeating: 1, count: i), sigma = 0.0
        for _ in 0..<3000 {
            var u = [Double](repeating: 0, count: o)
            for r in 0..<o { for c in 0..<i { u[r] += a[r * i + c] * v[c] } }
            var nv = [Double](repeating: 0, count: i)
            for r in 0..<o { for c in 0..<i { nv[c] += a[r * i + c] * u[r] } }
            let norm = nv.reduce(0) { $0 + $1 * $1 }.squareRoot()
            sigma = norm.squareRoot()
            v = nv.map { $0 / norm }
        }
        return sigma
    }
}
