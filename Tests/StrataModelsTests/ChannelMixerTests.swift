import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

final class ChannelMixerTests: XCTestCase {
    let ctx = VariantFixtures.context()

    func input(_ shape: [Int] = [2, 3, 8], seed: UInt64 = 31, scale: Float = 1) -> Tensor {
        var rng = RNG(seed: seed)
        return rng.normal(shape, std: scale)
    }

    func forward(_ m: any ChannelMixer, _ x: Tensor, probes: ProbeRecorder? = nil) -> Tensor {
        m.forward(x, context: VariantFixtures.mixerContext(probes: probes))
    }

    func testSwiGLUWidthAndParameterFormula() {
        var r = OptionReader([:], path: "swiglu")
        let options = SwiGLU.Options(&r)
        // 8·128/3 = 341.3 → 341 → 344 (multiple of 8); 8·48/3 = 128 exactly.
        XCTAssertEqual(options.width.width(128), 344)
        XCTAssertEqual(options.width.width(48), 128)
        let big = VariantFixtures.build(SwiGLU.self, context: VariantFixtures.context(dim: 128, heads: 4))
        XCTAssertEqual(big.parameterCount, 3 * 128 * 344)
        XCTAssertEqual(SwiGLU.parameterCount(options: options, context: VariantFixtures.context(dim: 128, heads: 4)),
                       3 * 128 * 344)
        let custom = VariantFixtures.build(SwiGLU.self, ["hidden": .number(20), "bias": .bool(true)])
        XCTAssertEqual(custom.parameterCount, 3 * 8 * 20 + 2 * 20 + 8)
        let rounded = VariantFixtures.build(SwiGLU.self, ["multiple_of": .number(16)])
        XCTAssertEqual(rounded.core.gate.outputs, 32)                   // 8·8/3 = 21.3 → 21 → 32
    }

    func testGatedFFNsMatchTheirFormulas() {
        let x = input()
        let swiglu = VariantFixtures.build(SwiGLU.self, seed: 4)
        func manual(_ core: GatedFFN, _ act: (Tensor) -> Tensor) -> Tensor {
            let g = x.matmul(core.gate.weight.value, transposeB: true)
            let u = x.matmul(core.up.weight.value, transposeB: true)
            return (act(g) * u).matmul(core.down.weight.value, transposeB: true)
        }
        XCTAssertLessThan(maxAbsDifference(forward(swiglu, x), manual(swiglu.core) { $0 * $0.sigmoid() }), 1e-6)
        let activations: [(String, (Tensor) -> Tensor)] = [("sigmoid", { $0.sigmoid() }), ("gelu", { $0.gelu() }),
                                                           ("relu", { $0.relu() }), ("silu", { $0.silu() })]
        for (name, act) in activations {
            let glu = VariantFixtures.build(GLU.self, ["activation": .string(name)], seed: 4)
            XCTAssertLessThan(maxAbsDifference(forward(glu, x), manual(glu.core, act)), 1e-6, name)
            if name == "silu" { XCTAssertEqual(forward(glu, x).scalars, forward(swiglu, x).scalars) }
        }
        VariantGradCheck().check("swiglu", parameters: swiglu.namedParameters(), inputs: [x]) { self.forward(swiglu, $0[0]) }
        let geglu = VariantFixtures.build(GLU.self, ["activation": .string("gelu"), "bias": .bool(true)])
        VariantGradCheck().check("geglu", parameters: geglu.namedParameters(), inputs: [x]) { self.forward(geglu, $0[0]) }
    }

    func testPolyReLUActivation() {
        let m = VariantFixtures.build(PolyReLUFFN.self)
        XCTAssertEqual(m.mlp.coefficients.value.scalars, [0, 1.0 / 3, 1.0 / 3, 1.0 / 3])
        XCTAssertEqual(m.parameterCount, 2 * 8 * 32 + 4)
        m.mlp.coefficients.assign(Tensor([0.5, -1, 2, 0.25], shape: [4]))
        let u = Tensor([-2, -0.5, 0, 0.5, 1, 3], shape: [1, 6])
        let phi = m.activation(u).scalars
        for (i, v) in u.scalars.enumerated() {
            let r = max(v, 0)
            XCTAssertEqual(phi[i], 0.5 - r + 2 * r * r + 0.25 * r * r * r, accuracy: 1e-5)
        }
        // Pre-activations away from the ReLU kink, so finite differences do not straddle it: W₁ maps each
        // hidden unit to ±(1 + j/32)·x_{j mod 8}, and every |x| ≥ 0.3.
        var rng = RNG(seed: 32)
        let x = rng.normal([2, 2, 8]).map { $0 >= 0 ? $0 + 0.3 : $0 - 0.3 }
        m.mlp.up.weight.assign(Tensor((0..<32).flatMap { j in
            (0..<8).map { i -> Float in i == j % 8 ? (j < 16 ? 1 : -1) * (1 + Float(j) / 32) : 0 }
        }, shape: [32, 8]))
        VariantGradCheck().check("poly_relu", parameters: [("coefficients", m.mlp.coefficients), ("down", m.mlp.down.weight)],
                                 inputs: [x]) { self.forward(m, $0[0]) }
    }

    func testPolyNormActivationNormalizesEachPower() {
        let m = VariantFixtures.build(PolyNormFFN.self)
        m.mlp.coefficients.assign(Tensor([0.2, 0.7, -0.4, 0.9], shape: [4]))
        var rng = RNG(seed: 33)
        let u = rng.normal([3, 32])
        // The paper's form: Σ aᵢ·uⁱ/RMS(uⁱ) over the hidden axis, powers of u itself.
        func norm(_ z: Tensor) -> Tensor { z.rmsNorm(weight: nil, eps: 1e-6) }
        let a = m.mlp.coefficients.value.scalars
        let expected = norm(u) * a[1] + norm(u * u) * a[2] + norm(u * u * u) * a[3] + a[0]
        XCTAssertLessThan(maxAbsDifference(m.activation(u), expected), 1e-4)
        // Finite for inputs with large norms (u³ of 1e8 would overflow Float32).
        let huge = m.activation(u * 1e8).scalars
        XCTAssertTrue(huge.allSatisfy(\.isFinite))
        XCTAssertLessThan(maxAbsDifference(m.activation(u * 1e8), expected), 1e-3)
        let x = input(seed: 34)
        VariantGradCheck().check("poly_norm", parameters: m.namedParameters(), inputs: [x]) { self.forward(m, $0[0]) }
    }

    func testHourglassIsASumOfResidualBottleneckUpdates() {
        for norm in [false, true] {
            let m = VariantFixtures.build(HourglassFFN.self, ["stages": .number(3), "bottleneck_ratio": .number(0.25),
                                                              "norm": .bool(norm)])
            XCTAssertEqual(m.parameterCount, 3 * (2 * 8 * 2 + (norm ? 8 : 0)))
            XCTAssertEqual(m.downs[0].outputs, 2)
            if norm { for (k, p) in m.norms.enumerated() { p.assign(input([8], seed: UInt64(40 + k)) * 0.3 + 1) } }
            let x = input(seed: 35)
            var z = x
            for k in 0..<3 {
                let n = norm ? z.rmsNorm(weight: m.norms[k].value, eps: 1e-5) : z
                z = z + n.matmul(m.downs[k].weight.value, transposeB: true).gelu()
                    .matmul(m.ups[k].weight.value, transposeB: true)
            }
            XCTAssertLessThan(maxAbsDifference(forward(m, x), z - x), 1e-5)
            VariantGradCheck().check("hourglass_ffn", parameters: m.namedParameters(), inputs: [x]) { self.forward(m, $0[0]) }
        }
        let defaults = VariantFixtures.build(HourglassFFN.self, context: VariantFixtures.context(dim: 128, heads: 4))
        XCTAssertEqual(defaults.parameterCount, 4 * 2 * 128 * 64)
    }

    func testTopKKeepsTheKLargestActivationsAndRoutesGradientOnlyThroughThem() {
        let mask = TopKFFN.topKMask(Tensor([3, 1, 4, 1, 5, 9, 0, 0, 5, 0, 0, 0], shape: [2, 6]), k: 2).scalars
        XCTAssertEqual(mask, [0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0])   // row 2: 5, then the lowest-index 0 (tie)
        // Against a sort-based reference, on rows with many ties (ReLU zeros, repeated values).
        var rng = RNG(seed: 38)
        let noisy = (rng.normal([40, 37]) * 2).map { ($0.rounded() / 2) }.relu()
        for k in [1, 2, 5, 19, 36] {
            let fast = TopKFFN.topKMask(noisy, k: k).scalars, v = noisy.scalars
            for row in 0..<40 {
                let order = (0..<37).sorted { a, b in
                    v[row * 37 + a] != v[row * 37 + b] ? v[row * 37 + a] > v[row * 37 + b] : a < b
                }
                let keep = Set(order.prefix(k))
                for j in 0..<37 { XCTAssertEqual(fast[row * 37 + j], keep.contains(j) ? 1 : 0, "k \(k) row \(row)") }
            }
        }
        let m = VariantFixtures.build(TopKFFN.self, ["k": .number(3), "hidden": .number(16)], seed: 6)
        let x = input(seed: 36)
        let h = x.matmul(m.up.weight.value, transposeB: true).relu()
        let kept = h * TopKFFN.topKMask(h, k: 3)
        XCTAssertTrue(TopKFFN.topKMask(h, k: 3).reshaped([6, 16]).sum(axis: 1).scalars.allSatisfy { $0 == 3 })
        XCTAssertLessThan(maxAbsDifference(forward(m, x), kept.matmul(m.down.weight.value, transposeB: true)), 1e-6)
        // Gradient of the pre-activation is zero outside the kept set.
        let u = x.matmul(m.up.weight.value, transposeB: true).requiringGrad()
        let r = u.relu()
        (r * TopKFFN.topKMask(r, k: 3)).sum().backward()
        let keptMask = TopKFFN.topKMask(r, k: 3).scalars, us = u.scalars
        for (i, g) in u.grad!.scalars.enumerated() { XCTAssertEqual(g, keptMask[i] * (us[i] > 0 ? 1 : 0)) }
        // The down projection's columns of never-kept units get no gradient through the model either.
        m.zeroGrad()
        forward(m, x).sum().backward()
        let unitKept = (0..<16).map { j in (0..<6).contains { keptMask[$0 * 16 + j] > 0 } }
        let gd = m.down.weight.grad!.scalars
        for j in 0..<16 where !unitKept[j] { for o in 0..<8 { XCTAssertEqual(gd[o * 16 + j], 0) } }
        // k ≥ F is the plain ReLU MLP.
        let all = VariantFixtures.build(TopKFFN.self, ["k": .number(64), "hidden": .number(16)], seed: 6)
        XCTAssertEqual(forward(all, x).scalars, h.matmul(all.down.weight.value, transposeB: true).scalars)
        // Finite differences with the selection stable: only the down projection moves the output linearly.
        VariantGradCheck().check("topk_ffn", parameters: [("down", m.down.weight)], inputs: []) { _ in self.forward(m, x) }
    }

    func testEveryFFNRecordsSparsityAndWorksInATinyModel() throws {
        let ids = ["swiglu", "glu", "poly_relu", "poly_norm", "hourglass_ffn", "topk_ffn"]
        let x = input(seed: 37)
        for id in ids {
            let entry = Catalog.channelMixers.entry(id)!
            var reader = OptionReader([:], path: id)
            var rng = RNG(seed: 1)
            let m = entry.build(entry.parse(&reader), context: ctx, rng: &rng)
            let probes = ProbeRecorder()
            _ = forward(m, x, probes: probes)
            XCTAssertNotNil(probes.value(layer: 0, name: "ffn_sparsity"), id)
            try VariantFixtures.checkModel(VariantFixtures.spec(channel: ComponentSpec(id)),
                                           gradientFilter: { $0.hasPrefix("blocks.1.channel.") })
        }
        // With a small k the ReLU FFN is at least (F − k)/F sparse.
        let topk = VariantFixtures.build(TopKFFN.self, ["k": .number(4)])
        let probes = ProbeRecorder()
        _ = forward(topk, x, probes: probes)
        XCTAssertGreaterThanOrEqual(probes.value(layer: 0, name: "ffn_sparsity")!, 28.0 / 32 - 1e-9)
    }
}
