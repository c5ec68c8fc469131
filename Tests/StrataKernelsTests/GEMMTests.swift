import Foundation
import XCTest
import StrataKernels

/// Ties the fast GEMM paths (every ISA this CPU runs, direct and packed, any thread count) to the naive
/// reference, and checks bit-identity across thread counts.
final class GEMMTests: XCTestCase {
    /// Deterministic values in [-1, 1) (a fixed LCG, so failures reproduce).
    struct Filler {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
        mutating func array(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
    }

    /// One GEMM case: sizes, transposes, leading dimensions (padded past the minimum by `pad`).
    struct Case: CustomStringConvertible {
        var transA: Bool, transB: Bool, m: Int, n: Int, k: Int
        var alpha: Float = 1, beta: Float = 0, pad = 0
        var lda: Int { max(1, transA ? m : k) + pad }
        var ldb: Int { max(1, transB ? k : n) + pad }
        var ldc: Int { max(1, n) + pad }
        var aCount: Int { max(1, (transA ? k : m) * lda) }
        var bCount: Int { max(1, (transB ? n : k) * ldb) }
        var cCount: Int { max(1, m * ldc) }
        var description: String {
            "\(transA ? "T" : "N")\(transB ? "T" : "N") m=\(m) n=\(n) k=\(k) alpha=\(alpha) beta=\(beta) pad=\(pad)"
        }
    }

    /// Runs `body(c)` on fresh C and compares with the reference within k·|a||b|·eps-scaled tolerance.
    func check(_ t: Case, seed: UInt64 = 7, _ label: String,
               _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void,
               file: StaticString = #filePath, line: UInt = #line) {
        var fill = Filler(state: seed)
        let a = fill.array(t.aCount), b = fill.array(t.bCount), c0 = fill.array(t.cCount)
        var got = c0, want = c0
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                got.withUnsafeMutableBufferPointer { body(a.baseAddress!, b.baseAddress!, $0.baseAddress!) }
                want.withUnsafeMutableBufferPointer {
                    sgemmReference(transA: t.transA, transB: t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha,
                                   a: a.baseAddress!, lda: t.lda, b: b.baseAddress!, ldb: t.ldb,
                                   beta: t.beta, c: $0.baseAddress!, ldc: t.ldc)
                }
            }
        }
        // Values are in [-1, 1), so Σ|a||b| ≤ k; the padding between rows of C must be untouched.
        let eps = Float.ulpOfOne
        for i in 0..<t.m {
            for j in 0..<t.ldc {
                let idx = i * t.ldc + j
                if j >= t.n {
                    if got[idx].bitPattern != c0[idx].bitPattern {
                        XCTFail("\(label) \(t): wrote padding at (\(i), \(j))", file: file, line: line); return
                    }
                    continue
                }
                let tol = 2 * eps * (Float(t.k + 2) * abs(t.alpha) + abs(t.beta) * abs(c0[idx]) + 1)
                if !(abs(got[idx] - want[idx]) <= tol) {
                    XCTFail("\(label) \(t): C[\(i), \(j)] = \(got[idx]), want \(want[idx]) (tol \(tol))",
                            file: file, line: line)
                    return
                }
            }
        }
    }

    func configs() -> [GEMMConfig] {
        var out: [GEMMConfig] = []
        for isa in GEMMConfig.available {
            out.append(GEMMConfig(isa: isa))
            var packedOnly = GEMMConfig(isa: isa)  // every size through the packed path, with small blocks
            packedOnly.directFlops = 0; packedOnly.directRows = 0
            packedOnly.kc = 40; packedOnly.mc = 3 * packedOnly.mr; packedOnly.nc = 2 * packedOnly.nr
            packedOnly.packedAFloats = 0  // one mc block of rows per packed chunk
            out.append(packedOnly)
            var directOnly = GEMMConfig(isa: isa)
            directOnly.directFlops = .max
            out.append(directOnly)
        }
        return out
    }

    func testAllTransposesISAsAndOddShapes() {
        let shapes: [(Int, Int, Int)] = [(1, 1, 1), (3, 17, 33), (17, 3, 1), (33, 33, 17), (1, 257, 3),
                                         (29, 65, 257), (15, 33, 64), (70, 45, 81)]
        for cfg in configs() {
            for (m, n, k) in shapes {
                for transA in [false, true] {
                    for transB in [false, true] {
                        for (alpha, beta, pad) in [(Float(1), Float(0), 0), (0.5, -1.5, 3)] {
                            let t = Case(transA: transA, transB: transB, m: m, n: n, k: k,
                                         alpha: alpha, beta: beta, pad: pad)
                            check(t, "\(cfg.isa) kc=\(cfg.kc) direct≤\(cfg.directFlops)") { a, b, c in
                                sgemm(transA: t.transA, transB: t.transB, m: m, n: n, k: k, alpha: alpha,
                                      a: a, lda: t.lda, b: b, ldb: t.ldb, beta: beta, c: c, ldc: t.ldc,
                                      config: cfg)
                            }
                        }
                    }
                }
            }
        }
    }

    func testLargerShapesEveryISA() {
        // Several K blocks, several row chunks and column panels, edge tiles in both directions.
        for isa in GEMMConfig.available {
            let cfg = GEMMConfig(isa: isa)
            for (tA, tB) in [(false, false), (false, true), (true, false), (true, true)] {
                let t = Case(transA: tA, transB: tB, m: 203, n: 301, k: 517, alpha: 1.25, beta: 0.5, pad: 5)
                check(t, "\(isa)") { a, b, c in
                    sgemm(transA: tA, transB: tB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: t.lda,
                          b: b, ldb: t.ldb, beta: t.beta, c: c, ldc: t.ldc, config: cfg)
                }
            }
        }
    }

    /// A B operand packed once gives the same bits as packing it on every call, on every ISA, with default and
    /// with small cache blocks (many K blocks and column panels), on the packed and the direct path, and at 1
    /// and 2 threads.
    func testPrepackedOperandGivesTheSameBitsAsThePlainProduct() {
        for isa in GEMMConfig.available {
            var small = GEMMConfig(isa: isa)
            small.kc = 40; small.nc = small.nr * 3
            for cfg in [GEMMConfig(isa: isa), small] {
                for tB in [false, true] {
                    for (m, n, k) in [(203, 301, 517), (37, 130, 83), (2, 70, 9), (1, 301, 517), (16, 5, 3)] {
                        let t = Case(transA: false, transB: tB, m: m, n: n, k: k, alpha: 1.25, beta: 0.5, pad: 3)
                        var fill = Filler(state: UInt64(m * 1000 + n))
                        let a = fill.array(t.aCount), b = fill.array(t.bCount), c0 = fill.array(t.cCount)
                        var plain = c0
                        sgemm(transA: false, transB: tB, m: m, n: n, k: k, alpha: 1.25, a: a, lda: t.lda, b: b, ldb: t.ldb,
                              beta: 0.5, c: &plain, ldc: t.ldc, config: cfg)
                        let packed = b.withUnsafeBufferPointer {
                            PackedGEMMOperand(b: $0.baseAddress!, ldb: t.ldb, transposed: tB, k: k, n: n, config: cfg)
                        }
                        for threads in [1, 2] {
                            var viaPack = c0
                            Threads.$limit.withValue(threads) {
                                sgemm(transA: false, m: m, alpha: 1.25, a: a, lda: t.lda, packed: packed, b: b, beta: 0.5,
                                      c: &viaPack, ldc: t.ldc)
                            }
                            XCTAssertEqual(viaPack, plain, "\(isa) \(t) kc=\(cfg.kc) nc=\(cfg.nc) threads=\(threads)")
                        }
                    }
                }
            }
        }
    }

    func testDegenerateSizes() {
        for (m, n, k) in [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0)] {
            for beta in [Float(0), 2] {
                let t = Case(transA: false, transB: true, m: m, n: n, k: k, alpha: 3, beta: beta)
                check(t, "degenerate") { a, b, c in
                    sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 3, a: a, lda: t.lda,
                          b: b, ldb: t.ldb, beta: beta, c: c, ldc: t.ldc)
                }
            }
        }
    }

    func testBetaZeroIgnoresNaNInC() {
        for cfg in configs() {
            for (m, n, k) in [(2, 3, 4), (40, 50, 60)] {
                let a = [Float](repeating: 1, count: m * k), b = [Float](repeating: 1, count: k * n)
                var c = [Float](repeating: .nan, count: m * n)
                sgemm(transA: false, transB: false, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n,
                      beta: 0, c: &c, ldc: n, config: cfg)
                XCTAssertTrue(c.allSatisfy { $0 == Float(k) }, "\(cfg.isa) \(m)×\(n)×\(k): NaN leaked")
            }
        }
        var c = [Float](repeating: .nan, count: 6)
        let a: [Float] = [], b: [Float] = []
        sgemm(transA: false, transB: false, m: 2, n: 3, k: 0, a: a, lda: 1, b: b, ldb: 3, c: &c, ldc: 3)
        XCTAssertEqual(c, [Float](repeating: 0, count: 6))
    }

    func testBatchedWithBroadcastMatchesReference() {
        let (batch, m, n, k) = (5, 19, 37, 23)
        for (strideA, strideB) in [(m * k, k * n), (0, k * n), (m * k, 0)] {
            for transB in [false, true] {
                var fill = Filler(state: 11)
                let a = fill.array(max(1, strideA) * batch + m * k), b = fill.array(max(1, strideB) * batch + k * n)
                let c0 = fill.array(batch * m * n)
                var got = c0, want = c0
                let ldb = transB ? k : n
                sgemmBatched(batch: batch, transA: false, transB: transB, m: m, n: n, k: k, alpha: 0.75,
                             a: a, lda: k, strideA: strideA, b: b, ldb: ldb, strideB: strideB,
                             beta: 0.25, c: &got, ldc: n, strideC: m * n)
                sgemmBatchedReference(batch: batch, transA: false, transB: transB, m: m, n: n, k: k, alpha: 0.75,
                                      a: a, lda: k, strideA: strideA, b: b, ldb: ldb, strideB: strideB,
                                      beta: 0.25, c: &want, ldc: n, strideC: m * n)
                let worst = zip(got, want).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-4, "strideA=\(strideA) strideB=\(strideB) transB=\(transB)")
            }
        }
    }

    /// Same bits at 1 and 2 threads, for plain and batched calls (whose split differs with the count).
    func testBitIdenticalAcrossThreadCounts() {
        var fill = Filler(state: 3)
        let shapes: [(Int, Int, Int)] = [(1, 3000, 700), (2, 700, 900), (97, 131, 301), (301, 67, 259),
                                         (13, 515, 300), (150, 150, 150), (250, 260, 270)]
        for (m, n, k) in shapes {
            for (tA, tB, batch) in [(false, false, 3), (false, true, 4), (true, false, 3), (true, true, 4)] {
                // batch 3 splits each matrix over threads, batch 4 gives each thread whole matrices.
                let a = fill.array(batch * m * k), b = fill.array(batch * k * n)
                func run(_ threads: Int) -> [Float] {
                    var c = [Float](repeating: 0, count: batch * m * n)
                    Threads.$limit.withValue(threads) {
                        sgemmBatched(batch: batch, transA: tA, transB: tB, m: m, n: n, k: k, alpha: 1.5,
                                     a: a, lda: tA ? m : k, strideA: m * k, b: b, ldb: tB ? k : n, strideB: k * n,
                                     c: &c, ldc: n, strideC: m * n)
                        sgemm(transA: tA, transB: tB, m: m, n: n, k: k, alpha: 1.5, a: a, lda: tA ? m : k,
                              b: b, ldb: tB ? k : n, beta: -1, c: &c, ldc: n)
                    }
                    return c
                }
                let one = run(1), two = run(2)
                XCTAssertTrue(zip(one, two).allSatisfy { $0.bitPattern == $1.bitPattern },
                              "\(tA ? "T" : "N")\(tB ? "T" : "N") \(m)×\(n)×\(k): bits differ between 1 and 2 threads")
            }
        }
    }

    func testThreadGridBalancesWork() {
        XCTAssertEqual(threadGrid(threads: 2, rowPanels: 74, colPanels: 32, mr: 14, nr: 32).rows, 2)
        XCTAssertEqual(threadGrid(threads: 2, rowPanels: 1, colPanels: 32, mr: 14, nr: 32).cols, 2)
        XCTAssertEqual(threadGrid(threads: 1, rowPanels: 5, colPanels: 5, mr: 14, nr: 32).rows, 1)
    }
}
