import Foundation
import XCTest
import StrataKernels

/// Ties the fused attention kernels (every ISA this CPU runs) to the Double reference that materializes
/// the full score matrix, checks determinism across thread counts, masked-row semantics and, by finite
/// differences, the reference backward itself.
final class AttentionTests: XCTestCase {
    enum MaskKind { case none, shared, perHead }

    /// One attention problem with deterministic random inputs: buffers in the layouts of AttentionShape.
    struct Problem {
        var shape: AttentionShape
        var causal: Bool
        var scale: Float
        var q: [Float], k: [Float], v: [Float], dOut: [Float]
        var mask: [Float]?                      // [T, S] (shared) or [B, H, T, S] (per head)
        var maskStrides = (batch: 0, head: 0, row: 0)

        init(_ shape: AttentionShape, causal: Bool, mask kind: MaskKind, seed: UInt64) {
            var rng = SplitMix(seed)
            self.shape = shape; self.causal = causal; scale = 1 / Float(shape.headDim).squareRoot()
            q = rng.floats(shape.queryCount); k = rng.floats(shape.keyCount)
            v = rng.floats(shape.valueCount); dOut = rng.floats(shape.outputCount)
            let (T, S) = (shape.queries, shape.keys)
            switch kind {
            case .none: break
            case .shared:
                mask = rng.maskValues(T * S, rowLength: S, blockedRows: [1])
                maskStrides = (0, 0, S)
            case .perHead:
                let rows = shape.batch * shape.heads * T
                mask = rng.maskValues(rows * S, rowLength: S, blockedRows: Set(stride(from: 2, to: rows, by: 5)))
                maskStrides = (shape.heads * T * S, T * S, S)
            }
        }

        func withMask<R>(_ body: (AttentionMask?) -> R) -> R {
            guard let mask else { return body(nil) }
            return mask.withUnsafeBufferPointer { m in
                body(AttentionMask(pointer: m.baseAddress!, batchStride: maskStrides.batch,
                                   headStride: maskStrides.head, rowStride: maskStrides.row))
            }
        }

        /// Fast forward + backward: (out, lse, dQ, dK, dV).
        func runFast(isa: VectorISA, path: AttentionBackwardPath? = nil) -> [[Float]] {
            let s = shape
            var out = [Float](repeating: .nan, count: s.outputCount), lse = [Float](repeating: .nan, count: s.lseCount)
            var dQ = [Float](repeating: .nan, count: s.queryCount), dK = [Float](repeating: .nan, count: s.keyCount)
            var dV = [Float](repeating: .nan, count: s.valueCount)
            withMask { mask in
                attentionForward(s, q: q, k: k, v: v, mask: mask, causal: causal, scale: scale,
                                 out: &out, lse: &lse, isa: isa)
                attentionBackward(s, q: q, k: k, v: v, mask: mask, causal: causal, scale: scale, out: out,
                                  lse: lse, dOut: dOut, dQ: &dQ, dK: &dK, dV: &dV, isa: isa, path: path)
            }
            return [out, lse, dQ, dK, dV]
        }

        func referenceInputs() -> AttentionReferenceInputs {
            let m = mask, st = maskStrides
            let maskValue: ((Int, Int, Int, Int) -> Double)? = m.map { m in
                { b, h, t, s in Double(m[b * st.batch + h * st.head + t * st.row + s]) }
            }
            return AttentionReferenceInputs(q: q.map(Double.init), k: k.map(Double.init), v: v.map(Double.init),
                                            mask: maskValue, causal: causal, scale: Double(scale))
        }

        /// Reference forward + backward in Double: (out, lse, dQ, dK, dV).
        func runReference() -> [[Double]] {
            let x = referenceInputs()
            let (out, lse) = attentionForwardReference(shape, x)
            let g = attentionBackwardReference(shape, x, dOut: dOut.map(Double.init))
            return [out, lse, g.dQ, g.dK, g.dV]
        }
    }

    static let names = ["out", "lse", "dQ", "dK", "dV"]

    /// max |fast - ref| <= tolerance · max |ref| (+ a tiny floor); infinities must match exactly.
    func assertClose(_ fast: [Float], _ ref: [Double], tolerance: Double = 1e-4, _ what: String) {
        XCTAssertEqual(fast.count, ref.count, what)
        let scale = ref.lazy.filter(\.isFinite).map(abs).max() ?? 0
        var worst = 0.0
        for (a, r) in zip(fast, ref) {
            if r.isInfinite || a.isInfinite || a.isNaN {
                XCTAssertEqual(Double(a), r, "\(what): expected \(r), got \(a)")
                if Double(a) != r { return }
                continue
            }
            worst = max(worst, abs(Double(a) - r))
        }
        XCTAssertLessThanOrEqual(worst, tolerance * scale + 1e-7, "\(what): max error \(worst), max |ref| \(scale)")
    }

    static let cases: [(AttentionShape, causal: Bool, mask: MaskKind)] = [
        (AttentionShape(batch: 1, heads: 1, kvHeads: 1, queries: 1, keys: 1, headDim: 1), false, .none),
        (AttentionShape(batch: 1, heads: 2, kvHeads: 1, queries: 3, keys: 17, headDim: 3, valueDim: 5), true, .none),
        (AttentionShape(batch: 2, heads: 4, kvHeads: 2, queries: 17, keys: 3, headDim: 17), true, .shared),
        (AttentionShape(batch: 1, heads: 3, kvHeads: 3, queries: 33, keys: 65, headDim: 64, valueDim: 33), false, .perHead),
        (AttentionShape(batch: 1, heads: 4, kvHeads: 2, queries: 65, keys: 33, headDim: 64), true, .perHead),
        (AttentionShape(batch: 1, heads: 2, kvHeads: 2, queries: 257, keys: 65, headDim: 17, valueDim: 3), true, .none),
        (AttentionShape(batch: 1, heads: 2, kvHeads: 1, queries: 65, keys: 257, headDim: 64), true, .shared),
        (AttentionShape(batch: 1, heads: 2, kvHeads: 2, queries: 257, keys: 257, headDim: 64), false, .none),
        (AttentionShape(batch: 1, heads: 1, kvHeads: 1, queries: 1, keys: 257, headDim: 64), true, .none),
        (AttentionShape(batch: 2, heads: 6, kvHeads: 2, queries: 33, keys: 1, headDim: 3, valueDim: 1), false, .perHead),
        (AttentionShape(batch: 1, heads: 3, kvHeads: 1, queries: 17, keys: 257, headDim: 1, valueDim: 17), false, .shared),
        (AttentionShape(batch: 1, heads: 2, kvHeads: 2, queries: 130, keys: 129, headDim: 80, valueDim: 72), true, .perHead),
    ]

    func testForwardAndBackwardMatchReferenceOnOddShapes() {
        for (index, c) in Self.cases.enumerated() {
            let problem = Problem(c.0, causal: c.causal, mask: c.mask, seed: UInt64(index + 1))
            let ref = problem.runReference()
            for isa in VectorISA.runnable {
                let fast = problem.runFast(isa: isa, path: .twoPass)
                for i in 0..<5 {
                    assertClose(fast[i], ref[i], "case \(index) \(c.0) causal \(c.causal) mask \(c.mask) \(isa) \(Self.names[i])")
                }
                let fused = problem.runFast(isa: isa, path: .fused)
                for i in 0..<5 {
                    XCTAssertTrue(Self.sameBits(fast[i], fused[i]), "case \(index) \(isa): fused \(Self.names[i]) differs")
                }
            }
        }
    }

    static func sameBits(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }

    func testBitIdenticalAcrossThreadCounts() {
        // B·K = 4 takes the fused backward at 1 and 2 threads; B·K = 1 (MQA) switches to two passes at 2.
        let shapes = [AttentionShape(batch: 2, heads: 4, kvHeads: 2, queries: 200, keys: 230, headDim: 64, valueDim: 48),
                      AttentionShape(batch: 1, heads: 3, kvHeads: 1, queries: 150, keys: 129, headDim: 33)]
        for shape in shapes {
            for (causal, mask) in [(true, MaskKind.perHead), (false, MaskKind.none)] {
                let problem = Problem(shape, causal: causal, mask: mask, seed: 7)
                let one = Threads.$limit.withValue(1) { problem.runFast(isa: .detected) }
                let two = Threads.$limit.withValue(2) { problem.runFast(isa: .detected) }
                for i in 0..<5 {
                    XCTAssertTrue(Self.sameBits(one[i], two[i]),
                                  "\(shape) \(Self.names[i]) differs between 1 and 2 threads (causal \(causal))")
                }
            }
        }
    }

    func testRowsWithNoVisibleKeyGiveZerosNeverNaN() {
        // Causal with T > S: queries t < T - S see no key; per-head mask blocks every 5th row from 2.
        let shape = AttentionShape(batch: 1, heads: 2, kvHeads: 1, queries: 70, keys: 20, headDim: 8)
        let problem = Problem(shape, causal: true, mask: .perHead, seed: 11)
        for isa in VectorISA.runnable {
            let r = problem.runFast(isa: isa)
            for i in 0..<5 { XCTAssertFalse(r[i].contains { $0.isNaN }, "\(isa) \(Self.names[i]) has NaN") }
            for row in 0..<shape.lseCount {
                let t = row % shape.queries
                guard t < shape.queries - shape.keys || row % 5 == 2 else { continue }
                XCTAssertEqual(r[1][row], -.infinity, "\(isa) lse row \(row)")
                XCTAssertTrue(r[0][(row * 8)..<(row * 8 + 8)].allSatisfy { $0 == 0 }, "\(isa) out row \(row)")
                XCTAssertTrue(r[2][(row * 8)..<(row * 8 + 8)].allSatisfy { $0 == 0 }, "\(isa) dQ row \(row)")
            }
        }
        // No keys at all: every row is empty.
        let empty = Problem(AttentionShape(batch: 1, heads: 1, kvHeads: 1, queries: 3, keys: 0, headDim: 4),
                            causal: false, mask: .none, seed: 12).runFast(isa: .detected)
        XCTAssertEqual(empty[0], [Float](repeating: 0, count: 12))
        XCTAssertEqual(empty[1], [Float](repeating: -.infinity, count: 3))
        XCTAssertEqual(empty[2], [Float](repeating: 0, count: 12))
    }

    func testBackwardMatchesFiniteDifferences() {
        // f = Σ out ∘ R in Double; central differences of the reference forward against both backwards.
        let shape = AttentionShape(batch: 1, heads: 2, kvHeads: 1, queries: 3, keys: 4, headDim: 3, valueDim: 2)
        let problem = Problem(shape, causal: true, mask: .shared, seed: 5)
        var x = problem.referenceInputs()
        x.mask = { _, _, t, s in Double(t * 4 + s % 3) * -0.25 }  // finite everywhere: f is smooth
        let r = problem.dOut.map(Double.init)
        func f(_ x: AttentionReferenceInputs) -> Double {
            zip(attentionForwardReference(shape, x).out, r).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let h = 1e-6
        func numeric(_ path: WritableKeyPath<AttentionReferenceInputs, [Double]>) -> [Double] {
            (0..<x[keyPath: path].count).map { i in
                var plus = x, minus = x
                plus[keyPath: path][i] += h
                minus[keyPath: path][i] -= h
                return (f(plus) - f(minus)) / (2 * h)
            }
        }
        let ref = attentionBackwardReference(shape, x, dOut: r)
        let numericGrads = [numeric(\.q), numeric(\.k), numeric(\.v)]
        for (i, analytic) in [ref.dQ, ref.dK, ref.dV].enumerated() {
            for (a, n) in zip(analytic, numericGrads[i]) { XCTAssertEqual(a, n, accuracy: 1e-7) }
        }
        // The fast kernels with the same (Float) mask.
        let maskValues: [Float] = (0..<12).map { (i: Int) -> Float in
            let (t, s) = (i / 4, i % 4)
            return Float(t * 4 + s % 3) * -0.25
        }
        var fastProblem = problem
        fastProblem.mask = maskValues
        fastProblem.maskStrides = (0, 0, 4)
        let fast = fastProblem.runFast(isa: .detected)
        for i in 0..<3 { assertClose(fast[2 + i], numericGrads[i], tolerance: 1e-4, "finite differences \(i)") }
    }

    func testBenchmarkReportsSpeedAndMemory() {
        let r = AttentionBenchmark.run(t: 64, d: 16, heads: 2, threads: 1)
        XCTAssertEqual(r.name, "attention_fwd_bwd")
        XCTAssertEqual(r.n, 64)
        XCTAssertGreaterThan(r.gflops, 0)
        XCTAssertEqual(r.tokensPerS ?? 0, 64 / r.seconds, accuracy: 1e-6 * 64 / r.seconds)
        XCTAssertGreaterThan(r.peakRSSMB ?? 0, 0)
    }

    func testVectorExpAccuracy() {
        let xs: [Float] = stride(from: -87.0, to: 88.0, by: 0.0137).map { Float($0) }
        for isa in VectorISA.runnable {
            let ys = attentionExp(xs, isa: isa)
            var worst = 0.0
            for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) / Foundation.exp(Double(x)) - 1)) }
            XCTAssertLessThan(worst, 3e-7, "\(isa) exp relative error")
            let special = attentionExp([-.infinity, -200, 0, .nan], isa: isa)
            XCTAssertEqual(special[0], 0, "\(isa) exp(-inf)")
            XCTAssertEqual(special[1], 0, "\(isa) exp(-200)")
            XCTAssertEqual(special[2], 1, "\(isa) exp(0)")
            XCTAssertTrue(special[3].isNaN, "\(isa) exp(nan)")
        }
    }
}

/// SplitMix64: a tiny deterministic generator for test inputs.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
    /// Mask values in [-2, 0] with ~10% -inf, and the listed rows fully -inf.
    mutating func maskValues(_ n: Int, rowLength: Int, blockedRows: Set<Int>) -> [Float] {
        (0..<n).map { i in
            let u = float()
            if blockedRows.contains(i / max(rowLength, 1)) || u > 0.8 { return -.infinity }
            return u - 1
        }
    }
}
