import StrataCore
import StrataKernels
import XCTest

/// The fused ops (norms, softmax, cross-entropy, attention, dropout): finite-difference gradients, and
/// values and gradients against their composed twins built from primitive ops.
final class FusedOpTests: XCTestCase {
    let harness = GradCheck()

    // Composed twins.
    func composedLayerNorm(_ x: Tensor, _ w: Tensor, _ b: Tensor, eps: Float = 1e-5) -> Tensor {
        let mu = x.mean(axis: -1, keepDims: true)
        return (x - mu) * (x.variance(axis: -1, keepDims: true) + eps).rsqrt() * w + b
    }
    func composedRMSNorm(_ x: Tensor, _ w: Tensor, eps: Float = 1e-6) -> Tensor {
        x * ((x * x).mean(axis: -1, keepDims: true) + eps).rsqrt() * w
    }
    func composedSoftmax(_ x: Tensor, axis: Int) -> Tensor {
        let e = (x - withNoGrad { x.max(axis: axis, keepDims: true) }).exp()
        return e / e.sum(axis: axis, keepDims: true)
    }
    /// Attention with the full score matrix and kv heads repeated for grouped queries.
    func composedAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: Tensor?, causal: Bool) -> Tensor {
        let (h, kvh, t, s) = (q.shape[1], k.shape[1], q.shape[2], k.shape[2])
        let group = h / kvh
        let heads = (0..<h).map { Int32($0 / group) }
        let kk = k.indexSelect(axis: 1, heads), vv = v.indexSelect(axis: 1, heads)
        var scores = q.matmul(kk, transposeB: true) * (1 / Float(q.shape[3]).squareRoot())
        if let mask { scores = scores + mask }
        if causal {
            let c = Tensor((0..<(t * s)).map { i in Float(i % s <= i / s + s - t ? 0 : 1) }, shape: [t, s])
            scores = scores.maskedFill(c, -.infinity)
        }
        return composedSoftmax(scores, axis: -1).matmul(vv)
    }

    func assertClose(_ a: Tensor, _ b: Tensor, _ tol: Float = 1e-4, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
        let scale = max(1, b.scalars.map(abs).max() ?? 1)
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tol * scale, "\(what): max difference \(worst)", file: file, line: line)
    }

    /// Values and every input gradient of `fused` and `composed` agree.
    func assertTwins(_ what: String, _ inputs: [Tensor], _ fused: ([Tensor]) -> Tensor,
                     _ composed: ([Tensor]) -> Tensor, tol: Float = 1e-4,
                     file: StaticString = #filePath, line: UInt = #line) {
        var rng = RNG(seed: 99)
        let a = inputs.map { $0.requiringGrad() }, b = inputs.map { $0.requiringGrad() }
        let ya = fused(a), yb = composed(b)
        assertClose(ya, yb, tol, "\(what) value", file: file, line: line)
        let r = rng.normal(ya.shape)
        ya.backward(r); yb.backward(r)
        for i in 0..<inputs.count {
            assertClose(a[i].grad!, b[i].grad!, tol * 3, "\(what) gradient \(i)", file: file, line: line)
        }
    }

    func testLinearMatchesMatmulPlusBias() {
        var rng = RNG(seed: 4)
        for (lead, i, o) in [([1], 1, 1), ([3], 17, 5), ([2, 3], 33, 17), ([2], 257, 3)] {
            let x = rng.normal(lead + [i]), w = rng.normal([o, i]), b = rng.normal([o])
            harness.check("linear \(lead) \(i)→\(o)", [x, w, b]) { linear($0[0], weight: $0[1], bias: $0[2]) }
            harness.check("linear without bias", [x, w]) { linear($0[0], weight: $0[1], bias: nil) }
            assertTwins("linear \(lead) \(i)→\(o)", [x, w, b], { linear($0[0], weight: $0[1], bias: $0[2]) },
                        { $0[0].matmul($0[1], transposeB: true) + $0[2] })
        }
    }

    /// Without gradients `linear` reuses a packed copy of the weight: the bits must equal the recording path's,
    /// and an in-place write to the weight (an optimizer step) must be seen by the next call.
    func testInferenceLinearReusesItsPackingAndSeesWeightUpdates() {
        var rng = RNG(seed: 9)
        let x = rng.normal([3, 70, 45]), w = rng.normal([130, 45]), b = rng.normal([130])
        let recorded = linear(x.requiringGrad(), weight: w.requiringGrad(), bias: b).scalars
        let first = withNoGrad { linear(x, weight: w, bias: b) }.scalars
        let again = withNoGrad { linear(x, weight: w, bias: b) }.scalars
        XCTAssertEqual(first, recorded)
        XCTAssertEqual(again, recorded)
        w.withUnsafeMutablePointer { p in for i in 0..<w.count { p[i] = p[i] * 0.5 - 0.25 } }
        let updated = withNoGrad { linear(x, weight: w, bias: b) }.scalars
        XCTAssertEqual(updated, linear(x.requiringGrad(), weight: w.copy().requiringGrad(), bias: b).scalars)
        XCTAssertNotEqual(updated, first)
    }

    func testNorms() {
        var rng = RNG(seed: 1)
        for shape in [[1, 1], [3, 17], [2, 3, 33], [5, 257]] {
            let c = shape.last!
            let x = rng.normal(shape) * 2 + 0.5, w = rng.normal([c]), b = rng.normal([c])
            harness.check("layerNorm \(shape)", [x, w, b]) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
            harness.check("rmsNorm \(shape)", [x, w]) { $0[0].rmsNorm(weight: $0[1]) }
            if c > 1 {
                assertTwins("layerNorm \(shape)", [x, w, b], { $0[0].layerNorm(weight: $0[1], bias: $0[2]) },
                            { self.composedLayerNorm($0[0], $0[1], $0[2]) })
            }
            assertTwins("rmsNorm \(shape)", [x, w], { $0[0].rmsNorm(weight: $0[1]) },
                        { self.composedRMSNorm($0[0], $0[1]) })
        }
        let x = rng.normal([4, 9])
        harness.check("layerNorm without affine", [x]) { $0[0].layerNorm(weight: nil, bias: nil) }
        harness.check("rmsNorm without weight", [x]) { $0[0].rmsNorm(weight: nil) }
    }

    func testSoftmaxFamily() {
        var rng = RNG(seed: 2)
        for shape in [[1], [17], [3, 33], [2, 3, 5], [2, 257]] {
            let x = rng.normal(shape) * 3
            for axis in 0..<shape.count {
                harness.check("softmax \(shape) axis \(axis)", [x]) { $0[0].softmax(axis: axis) }
                harness.check("logSoftmax \(shape) axis \(axis)", [x]) { $0[0].logSoftmax(axis: axis) }
                assertTwins("softmax \(shape) axis \(axis)", [x], { $0[0].softmax(axis: axis) },
                            { self.composedSoftmax($0[0], axis: axis) })
                assertTwins("logSoftmax \(shape) axis \(axis)", [x], { $0[0].logSoftmax(axis: axis) },
                            { $0[0] - $0[0].logsumexp(axis: axis, keepDims: true) })
            }
        }
        let masked = Tensor([0, -.infinity, 1, -.infinity], shape: [2, 2])
        XCTAssertEqual(masked.softmax().scalars[1], 0)
        XCTAssertFalse(Tensor(repeating: -.infinity, shape: [1, 3]).softmax().scalars.contains { $0.isNaN })
    }

    func testCrossEntropy() {
        var rng = RNG(seed: 3)
        for (rows, vocab) in [(1, 1), (3, 17), (5, 33), (4, 257)] {
            let logits = rng.normal([rows, vocab]) * 2
            var targets = (0..<rows).map { Int32($0 * 7 % vocab) }
            if rows > 2 { targets[1] = -100 }
            for smoothing: Float in [0, 0.1] {
                harness.check("crossEntropy \(rows)×\(vocab) ε=\(smoothing)", [logits]) {
                    crossEntropy(logits: $0[0], targets: targets, labelSmoothing: smoothing)
                }
                assertTwins("crossEntropy \(rows)×\(vocab) ε=\(smoothing)", [logits],
                            { crossEntropy(logits: $0[0], targets: targets, labelSmoothing: smoothing, reduction: .none) },
                            { l in
                                let logp = l[0].logSoftmax()
                                let onehot = Tensor((0..<(rows * vocab)).map { i -> Float in
                                    let t = targets[i / vocab]
                                    if t == -100 { return 0 }
                                    return (Int32(i % vocab) == t ? 1 - smoothing : 0) + smoothing / Float(vocab)
                                }, shape: [rows, vocab])
                                return -(logp * onehot).sum(axis: -1)
                            })
            }
        }
        let loss = crossEntropy(logits: Tensor([0, 0, 0, 0], shape: [1, 4]), targets: [2])
        XCTAssertEqual(loss.item, Foundation.log(4), accuracy: 1e-6)
    }

    func testAttentionMatchesComposedAndGradients() {
        var rng = RNG(seed: 4)
        let cases: [(b: Int, h: Int, kvh: Int, t: Int, s: Int, d: Int, causal: Bool, masked: Bool)] = [
            (1, 1, 1, 1, 1, 1, false, false), (1, 2, 2, 3, 3, 4, true, false), (2, 4, 2, 17, 17, 8, true, false),
            (1, 3, 1, 5, 9, 3, false, true), (1, 2, 1, 33, 33, 16, true, true), (1, 2, 2, 1, 17, 8, true, false),
        ]
        for c in cases {
            let q = rng.normal([c.b, c.h, c.t, c.d]), k = rng.normal([c.b, c.kvh, c.s, c.d])
            let v = rng.normal([c.b, c.kvh, c.s, c.d])
            let mask: Tensor? = c.masked ? rng.normal([c.t, c.s]) : nil
            let name = "attention \(c)"
            assertTwins(name, [q, k, v],
                        { scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], mask: mask, causal: c.causal) },
                        { self.composedAttention($0[0], $0[1], $0[2], mask: mask, causal: c.causal) })
            harness.check(name, [q, k, v]) {
                scaledDotProductAttention(q: $0[0], k: $0[1], v: $0[2], mask: mask, causal: c.causal)
            }
        }
    }

    func testDropoutGradientUsesTheSameMask() {
        let x = Tensor.ones([64]).requiringGrad()
        var rng = RNG(seed: 5)
        let y = x.dropout(0.5, rng: &rng)
        y.sum().backward()
        XCTAssertEqual(x.grad!.scalars, y.scalars)
    }
}

import Foundation
