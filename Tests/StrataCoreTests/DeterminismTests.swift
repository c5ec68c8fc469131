import StrataCore
import StrataKernels
import XCTest

/// Same seed, same bits, whatever the thread count.
final class DeterminismTests: XCTestCase {
    /// A small transformer-shaped forward and backward: embedding, layer norm, attention, MLP, loss.
    func forwardBackward() -> [[Float]] {
        var rng = RNG(seed: 42)
        let (b, t, c, h, v) = (2, 33, 32, 4, 61)
        let table = rng.normal([v, c]).requiringGrad()
        let wqkv = (rng.normal([3 * c, c]) * 0.2).requiringGrad()
        let w1 = (rng.normal([4 * c, c]) * 0.2).requiringGrad(), w2 = (rng.normal([c, 4 * c]) * 0.1).requiringGrad()
        let gamma = Tensor.ones([c]).requiringGrad(), beta = Tensor.zeros([c]).requiringGrad()
        let ids = (0..<(b * t)).map { _ in Int32(rng.next() % UInt64(v)) }
        var x = embedding(table, ids: ids, shape: [b, t])
        let qkv = x.layerNorm(weight: gamma, bias: beta).matmul(wqkv, transposeB: true)
            .reshaped([b, t, 3, h, c / h]).permuted([2, 0, 3, 1, 4])
        let parts = qkv.chunked(3, axis: 0).map { $0.reshaped([b, h, t, c / h]) }
        let att = scaledDotProductAttention(q: parts[0], k: parts[1], v: parts[2], causal: true)
        x = x + att.permuted([0, 2, 1, 3]).reshaped([b, t, c])
        x = x + x.rmsNorm(weight: gamma).matmul(w1, transposeB: true).gelu().matmul(w2, transposeB: true)
        let logits = x.matmul(table, transposeB: true)
        let loss = crossEntropy(logits: logits, targets: ids.map { ($0 + 1) % Int32(v) })
        loss.backward()
        return [[loss.item]] + [table, wqkv, w1, w2, gamma, beta].map { $0.grad!.scalars }
    }

    func testForwardBackwardBitIdenticalAcrossThreadCounts() {
        let one = Threads.$limit.withValue(1) { forwardBackward() }
        let two = Threads.$limit.withValue(2) { forwardBackward() }
        XCTAssertEqual(one.count, two.count)
        for (i, (a, b)) in zip(one, two).enumerated() {
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "tensor \(i) differs between 1 and 2 threads")
        }
        XCTAssertTrue(one[0][0].isFinite)
    }

    func testRNGStreamsAreReproducible() {
        var a = RNG(seed: 7), b = RNG(seed: 7), c = RNG(seed: 8)
        XCTAssertEqual(a.normal([100]).scalars, b.normal([100]).scalars)
        XCTAssertNotEqual(a.uniform([10]).scalars, c.uniform([10]).scalars)
        var g1 = RNG(seed: 1)
        let tn = g1.truncatedNormal([10_000], std: 1, low: -2, high: 2).scalars
        XCTAssertTrue(tn.allSatisfy { $0 >= -2 && $0 <= 2 })
        var g = RNG(seed: 3)
        let n = g.normal([20_000]).scalars
        let mean = n.reduce(0, +) / Float(n.count)
        let varc = n.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(n.count)
        XCTAssertEqual(mean, 0, accuracy: 0.03)
        XCTAssertEqual(varc, 1, accuracy: 0.05)
    }

    func testNoGradModeRecordsNothing() {
        let x = Tensor.ones([3]).requiringGrad()
        let y = withNoGrad { (x * 2).exp() }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue((x * 2).requiresGrad)
    }
}
