import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

/// The materialized T×T mixing matrices of the linear-time mixers (catalog `mamba2` check: "materialized M
/// applied to x equals the recurrence (< 1e-5)"; what `mohawk` stage 1 compares against attention).
final class MixingMatrixTests: XCTestCase {
    static let ids = ["linear_attention", "retention", "gla", "deltanet", "gated_deltanet", "mamba2", "mamba", "sla"]

    func mixer(_ id: String, _ options: [String: JSONValue] = [:], causal: Bool = true) -> any TokenMixer {
        let ctx = BuildContext(dim: 16, heads: 2, headDim: 8, layer: 0, layers: 2, contextLength: 32, causal: causal,
                               initStd: 0.3)
        var issues: [SpecIssue] = []
        guard let (entry, parsed) = Catalog.tokenMixers.resolve(ComponentSpec(id, options), path: id, issues: &issues) else {
            fatalError("\(id): \(issues)")
        }
        var rng = RNG(seed: 11)
        return entry.build(parsed, context: ctx, rng: &rng)
    }

    /// max |a − b| / max |b|.
    func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        let (x, y) = (a.scalars, b.scalars)
        var num: Float = 0, den: Float = 0
        for i in 0..<y.count { num = max(num, abs(x[i] - y[i])); den = max(den, abs(y[i])) }
        return num / max(den, 1e-30)
    }

    func testMaterializedMatrixTimesValuesEqualsTheChunkedRecurrence() throws {
        let cases: [(String, [String: JSONValue])] = Self.ids.map { ($0, [:]) } + [
            ("linear_attention", ["feature_map": .string("identity"), "normalize": .bool(false)]),
            ("gated_deltanet", ["output_gate": .bool(false)]),
            ("mamba2", ["head_dim": .number(4), "state": .number(5)]),
        ]
        for (id, options) in cases {
            // Chunk 3 < T = 10, so the chunked fast path (intra-chunk matmuls plus state passing) is what is checked.
            let m = mixer(id, options.merging(["chunk": .number(3)]) { a, _ in a })
            var rng = RNG(seed: 7)
            let x = rng.normal([2, 10, 16])
            let capture = try XCTUnwrap(linearMixingCapture(of: m, x, positional: TestNoPositions()), id)
            let matrix = capture.matrix()
            let (b, h, t) = (capture.values.shape[0], capture.values.shape[1], capture.values.shape[2])
            XCTAssertEqual(matrix.shape, [b, h, t, t], id)
            let applied = matrix.matmul(capture.values)
            XCTAssertLessThan(relativeError(applied, capture.output), 1e-5, "\(id) \(options)")
            // Causal: nothing from the future.
            let w = matrix.scalars
            for i in 0..<w.count where (i % (t * t)) % t > (i % (t * t)) / t { XCTAssertEqual(w[i], 0, id) }
        }
    }

    func testRecordingTheMatrixDoesNotChangeTheMixerOutput() {
        for id in Self.ids {
            let m = mixer(id)
            var rng = RNG(seed: 8)
            let x = rng.normal([1, 6, 16])
            let plain = withNoGrad { m.forward(x, context: MixerContext(positional: TestNoPositions()), cache: nil) }
            let probes = ProbeRecorder()
            probes.wantsMixingMatrices = true
            let probed = withNoGrad { m.forward(x, context: MixerContext(positional: TestNoPositions(), probes: probes), cache: nil) }
            XCTAssertEqual(plain.scalars, probed.scalars, id)
            XCTAssertEqual(probes.mixingCaptures.count, 1, id)
            // Not asked for, nothing is recorded.
            let quiet = ProbeRecorder()
            _ = withNoGrad { m.forward(x, context: MixerContext(positional: TestNoPositions(), probes: quiet), cache: nil) }
            XCTAssertTrue(quiet.mixingCaptures.isEmpty, id)
        }
    }

    func testBidirectionalLinearAttentionMatrixIsDenseAndRowStochastic() throws {
        let m = mixer("linear_attention", causal: false)
        var rng = RNG(seed: 9)
        let x = rng.normal([1, 5, 16])
        let capture = try XCTUnwrap(linearMixingCapture(of: m, x, positional: TestNoPositions()))
        let matrix = capture.matrix()
        XCTAssertLessThan(relativeError(matrix.matmul(capture.values), capture.output), 1e-5)
        // elu+1 features are positive, so every entry is positive and (normalized) each row sums to ~1.
        XCTAssertTrue(matrix.scalars.allSatisfy { $0 > 0 })
        for s in matrix.sum(axis: -1).scalars { XCTAssertEqual(s, 1, accuracy: 1e-4) }
    }

    func assertClose(_ m: Tensor, _ expected: [Float], line: UInt = #line) {
        XCTAssertEqual(m.count, expected.count, line: line)
        for (a, b) in zip(m.scalars, expected) { XCTAssertEqual(a, b, accuracy: 1e-6, line: line) }
    }

    func testHandBuiltDecayAndDeltaRuleMatrices() {
        // One head, T = 2, Dk = 1, q = k = 1. Scalar decay a₂ = ½: M = [[1, 0], [½, 1]].
        let ones = Tensor.ones([1, 1, 2, 1])
        let decay = Tensor([0, Float(log(0.5))], shape: [1, 1, 2])
        let gated = MixingCapture(q: ones, k: ones, values: ones, decay: .scalar(decay), output: ones)
        assertClose(gated.matrix(), [1, 0, 0.5, 1])
        // Delta rule, β = ½, no decay: S₁ = ½v₁kᵀ; S₂ = S₁(1 − ½) + ½v₂ → M = [[½, 0], [¼, ½]].
        let delta = MixingCapture(q: ones, k: ones, values: ones, beta: Tensor([0.5, 0.5], shape: [1, 1, 2]), output: ones)
        assertClose(delta.matrix(), [0.5, 0, 0.25, 0.5])
        // Value scale Δ = [2, 3] multiplies columns; skip D = 1 adds the identity.
        let mamba = MixingCapture(q: ones, k: ones, values: ones, decay: .scalar(decay),
                                  valueScale: Tensor([2, 3], shape: [1, 1, 2]), skip: Tensor([1], shape: [1]), output: ones)
        assertClose(mamba.matrix(), [3, 0, 1, 4])
    }
}
