import StrataCore
import XCTest

/// Finite-difference gradient checks of every differentiable op, on odd sizes and broadcasting shapes.
final class OpGradientTests: XCTestCase {
    let harness = GradCheck()
    /// Shape pairs exercising size 1, odd sizes and every broadcasting pattern.
    let broadcastPairs: [([Int], [Int])] = [
        ([1], [1]), ([3], [3]), ([17], [1]), ([1], [33]), ([257], [257]),
        ([3, 17], [17]), ([3, 1], [1, 17]), ([2, 3, 5], [3, 1]), ([1, 3, 1], [2, 1, 4]), ([33, 3], [1, 3]),
    ]

    func testBinaryOps() {
        var rng = RNG(seed: 1)
        for (sa, sb) in broadcastPairs {
            let a = rng.normal(sa), b = rng.normal(sb), pb = rng.positive(sb), pa = rng.positive(sa)
            harness.check("add \(sa) \(sb)", [a, b]) { $0[0] + $0[1] }
            harness.check("sub \(sa) \(sb)", [a, b]) { $0[0] - $0[1] }
            harness.check("mul \(sa) \(sb)", [a, b]) { $0[0] * $0[1] }
            harness.check("div \(sa) \(sb)", [a, pb]) { $0[0] / $0[1] }
            harness.check("pow \(sa) \(sb)", [pa, b]) { $0[0].pow($0[1]) }
            let c = rng.awayFromZero(sa, margin: 0.1), d = rng.normal(sb) * 0.01
            harness.check("maximum \(sa) \(sb)", [c, d]) { $0[0].maximum($0[1]) }
            harness.check("minimum \(sa) \(sb)", [c, d]) { $0[0].minimum($0[1]) }
        }
    }

    func testScalarOperandsAndNegation() {
        var rng = RNG(seed: 2)
        let x = rng.positive([3, 17])
        harness.check("scalar mix", [x]) { 2 * $0[0] + 1 - $0[0] / 3 - (-$0[0]) * 0.5 }
        harness.check("scalar / tensor", [x]) { 1 / $0[0] }
        harness.check("pow const", [x]) { $0[0].pow(3) }
        harness.check("pow 2", [x]) { $0[0].pow(2) }
        harness.check("pow -0.5", [x]) { $0[0].pow(-0.5) }
    }

    func testUnaryOps() {
        var rng = RNG(seed: 3)
        for shape in [[1], [3], [17], [33, 3], [257]] {
            let x = rng.normal(shape) * 2, p = rng.positive(shape), k = rng.awayFromZero(shape)
            harness.check("exp \(shape)", [x]) { $0[0].exp() }
            harness.check("log \(shape)", [p]) { $0[0].log() }
            harness.check("sqrt \(shape)", [p]) { $0[0].sqrt() }
            harness.check("rsqrt \(shape)", [p]) { $0[0].rsqrt() }
            harness.check("tanh \(shape)", [x]) { $0[0].tanh() }
            harness.check("sigmoid \(shape)", [x]) { $0[0].sigmoid() }
            harness.check("relu \(shape)", [k]) { $0[0].relu() }
            harness.check("gelu \(shape)", [x]) { $0[0].gelu() }
            harness.check("gelu_tanh \(shape)", [x]) { $0[0].geluTanh() }
            harness.check("silu \(shape)", [x]) { $0[0].silu() }
            harness.check("softplus \(shape)", [x]) { $0[0].softplus() }
            harness.check("abs \(shape)", [k]) { $0[0].abs() }
            harness.check("clamp \(shape)", [k * 2]) { $0[0].clamp(min: -1.05, max: 0.95) }
        }
    }

    func testWhereAndMaskedFill() {
        var rng = RNG(seed: 4)
        let cond = rng.uniform([3, 17]).map { $0 > 0.5 ? 1 : 0 }
        let a = rng.normal([3, 17]), b = rng.normal([17])
        harness.check("where", [a, b]) { Tensor.where(cond, $0[0], $0[1]) }
        harness.check("maskedFill", [a]) { $0[0].maskedFill(cond, -3) }
        let filled = Tensor.where(cond, Tensor(scalar: -.infinity), a)
        XCTAssertFalse(filled.scalars.contains { $0.isNaN }, "where must not turn -inf into NaN")
    }

    func testReductions() {
        var rng = RNG(seed: 5)
        for shape in [[1], [17], [3, 17], [2, 3, 5], [257, 3], [1, 33, 1]] {
            let x = rng.normal(shape)
            for axis in 0..<shape.count {
                for keep in [false, true] {
                    harness.check("sum \(shape) axis \(axis) keep \(keep)", [x]) { $0[0].sum(axis: axis, keepDims: keep) }
                    harness.check("mean \(shape) axis \(axis)", [x]) { $0[0].mean(axis: axis, keepDims: keep) }
                    harness.check("max \(shape) axis \(axis)", [x]) { $0[0].max(axis: axis, keepDims: keep) }
                    harness.check("logsumexp \(shape) axis \(axis)", [x]) { $0[0].logsumexp(axis: axis, keepDims: keep) }
                    if shape[axis] > 1 {
                        harness.check("variance \(shape) axis \(axis)", [x]) { $0[0].variance(axis: axis, keepDims: keep, correction: 1) }
                    }
                }
            }
            harness.check("sum all \(shape)", [x]) { $0[0].sum() }
            harness.check("mean all \(shape)", [x]) { $0[0].mean() }
        }
    }

    func testShapeOps() {
        var rng = RNG(seed: 6)
        let x = rng.normal([2, 3, 5])
        harness.check("reshape", [x]) { $0[0].reshaped([5, -1]) * 2 }
        harness.check("permute", [x]) { $0[0].permuted([2, 0, 1]) }
        harness.check("transpose", [x]) { $0[0].transposed(0, 2) }
        harness.check("expand", [rng.normal([3, 1])]) { $0[0].expanded(to: [2, 3, 17]) }
        for axis in 0..<3 {
            harness.check("slice axis \(axis)", [x]) { $0[0].slice(axis: axis, 1..<2) * 3 }
            harness.check("cumsum axis \(axis)", [x]) { $0[0].cumsum(axis: axis) }
            harness.check("cumsum reverse axis \(axis)", [x]) { $0[0].cumsum(axis: axis, reverse: true) }
            harness.check("indexSelect axis \(axis)", [x]) { $0[0].indexSelect(axis: axis, [1, 0, 1]) }
        }
        let y = rng.normal([2, 4, 5])
        harness.check("concat", [x, y]) { Tensor.concat([$0[0], $0[1], $0[0]], axis: 1) }
        harness.check("split", [y]) { v in
            let parts = v[0].split(axis: 1, sizes: [1, 3])
            return parts[0] * 2 + parts[1].sum(axis: 1, keepDims: true)
        }
        harness.check("chunk", [y]) { v in
            let parts = v[0].chunked(2, axis: 1)
            return parts[0] * parts[1]
        }
        harness.check("stack", [x, x * 2]) { Tensor.stack([$0[0], $0[1]], axis: 1) }
    }

    func testEmbedding() {
        var rng = RNG(seed: 7)
        let table = rng.normal([17, 3])
        let ids: [Int32] = [0, 5, 5, 16, 3, 0]
        harness.check("embedding", [table]) { embedding($0[0], ids: ids, shape: [2, 3]) }
    }

    func testMatmul() {
        var rng = RNG(seed: 8)
        let cases: [([Int], [Int], Bool, Bool)] = [
            ([1, 1], [1, 1], false, false), ([3, 17], [17, 5], false, false), ([3, 17], [5, 17], false, true),
            ([17, 3], [17, 5], true, false), ([17, 3], [5, 17], true, true),
            ([2, 3, 5], [5, 4], false, false), ([2, 3, 5], [4, 5], false, true),
            ([2, 3, 5], [2, 5, 4], false, false), ([2, 1, 3, 5], [3, 5, 4], false, false),
            ([5, 3], [2, 5, 4], true, false), ([2, 5, 3], [2, 4, 5], true, true), ([33, 1], [1, 33], false, false),
        ]
        for (sa, sb, ta, tb) in cases {
            let a = rng.normal(sa), b = rng.normal(sb)
            harness.check("matmul \(sa)\(ta ? "ᵀ" : "") × \(sb)\(tb ? "ᵀ" : "")", [a, b]) {
                $0[0].matmul($0[1], transposeA: ta, transposeB: tb)
            }
        }
    }

    func testMatmulMatchesNaiveProduct() {
        var rng = RNG(seed: 9)
        let a = rng.normal([2, 3, 4]), b = rng.normal([4, 5])
        let c = a.matmul(b).scalars, av = a.scalars, bv = b.scalars
        for batch in 0..<2 { for i in 0..<3 { for j in 0..<5 {
            var s: Float = 0
            for p in 0..<4 { s += av[batch * 12 + i * 4 + p] * bv[p * 5 + j] }
            XCTAssertEqual(c[batch * 15 + i * 5 + j], s, accuracy: 1e-5)
        } } }
    }
}
