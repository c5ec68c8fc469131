import StrataKernels
import XCTest

/// Ties every fused row kernel and vector-math kernel to its slow twin (on every ISA this CPU runs),
/// checks every backward by finite differences, and checks thread-count independence bit for bit.
final class FusedKernelTests: XCTestCase {
    static let sizes = [1, 3, 17, 33, 257, 1000]

    // MARK: - Helpers

    /// SplitMix64: deterministic test data.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float {
            lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
        }
        mutating func normal() -> Float {
            let u = max(Double(next() >> 11) / Double(1 << 53), 1e-300), v = Double(next() >> 11) / Double(1 << 53)
            return Float((-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v))
        }
        mutating func array(_ n: Int, scale: Float = 1, offset: Float = 0) -> [Float] {
            (0..<n).map { _ in offset + scale * normal() }
        }
    }

    /// |a − e| ≤ atol + rtol·|e| everywhere; equal infinities and NaN pairs count as equal.
    func assertClose(_ a: [Float], _ e: [Float], atol: Float, rtol: Float, _ what: @autoclosure () -> String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, e.count, what(), file: file, line: line)
        for i in 0..<min(a.count, e.count) {
            if a[i] == e[i] || (a[i].isNaN && e[i].isNaN) { continue }
            let err = abs(a[i] - e[i])
            if !(err <= atol + rtol * abs(e[i])) {
                XCTFail("\(what()): index \(i): got \(a[i]), expected \(e[i]) (err \(err))", file: file, line: line)
                return
            }
        }
    }

    func maxAbs(_ a: [Float]) -> Float { a.reduce(0) { max($0, abs($1)) } }

    /// Runs body once per ISA this machine supports, with the vecmath kernels forced onto it.
    func forEachISA(_ body: (VectorISA) -> Void) {
        for isa in VecMath.supportedISAs { VecMath.$isa.withValue(isa) { body(isa) } }
    }

    // MARK: - Norms

    /// Inputs for a norm test: spread rows with a large common offset, plus an all-zero first row.
    func normInputs(_ rows: Int, _ cols: Int, seed: UInt64) -> (x: [Float], w: [Float], b: [Float], dy: [Float]) {
        var rng = Rng(state: seed)
        var x = rng.array(rows * cols, scale: 2, offset: 50)
        if rows > 1 { for c in 0..<cols { x[c] = 0 } }
        return (x, rng.array(cols, offset: 1), rng.array(cols), rng.array(rows * cols))
    }

    func testLayerNormMatchesReference() {
        for rows in Self.sizes { for cols in Self.sizes {
            let (x, w, b, dy) = normInputs(rows, cols, seed: UInt64(rows * 7919 + cols))
            for affine in [true, false] where affine || rows == 17 {
                let run: (Bool) -> [[Float]] = { reference in
                    var y = [Float](repeating: 0, count: rows * cols), mean = [Float](repeating: 0, count: rows)
                    var rstd = mean, dx = y, dW = [Float](repeating: 0.5, count: cols), dB = dW
                    let f = reference ? NormKernels.layerNormForwardReference : NormKernels.layerNormForward
                    let g = reference ? NormKernels.layerNormBackwardReference : NormKernels.layerNormBackward
                    if affine {
                        f(x, w, b, rows, cols, 1e-5, &y, &mean, &rstd)
                        g(x, w, mean, rstd, dy, rows, cols, &dx, &dW, &dB)
                    } else {
                        f(x, nil, nil, rows, cols, 1e-5, &y, &mean, &rstd)
                        g(x, nil, mean, rstd, dy, rows, cols, &dx, &dW, &dB)
                    }
                    return [y, mean, rstd, dx, dW, dB]
                }
                let ref = run(true)
                forEachISA { isa in
                    let got = run(false), tag = "layerNorm \(isa) \(rows)x\(cols) affine \(affine)"
                    for (k, name) in ["y", "mean", "rstd", "dx", "dW", "dB"].enumerated() {
                        assertClose(got[k], ref[k], atol: 2e-5 * max(1, maxAbs(ref[k])), rtol: 2e-5, "\(tag) \(name)")
                    }
                }
            }
        } }
    }

    func testRMSNormMatchesReference() {
        for rows in Self.sizes { for cols in Self.sizes {
            let (x, w, _, dy) = normInputs(rows, cols, seed: UInt64(rows * 31 + cols))
            let run: (Bool) -> [[Float]] = { reference in
                var y = [Float](repeating: 0, count: rows * cols), rstd = [Float](repeating: 0, count: rows)
                var dx = y, dW = [Float](repeating: 0.5, count: cols)
                let f = reference ? NormKernels.rmsNormForwardReference : NormKernels.rmsNormForward
                let g = reference ? NormKernels.rmsNormBackwardReference : NormKernels.rmsNormBackward
                f(x, w, rows, cols, 1e-6, &y, &rstd)
                g(x, w, rstd, dy, rows, cols, &dx, &dW)
                return [y, rstd, dx, dW]
            }
            let ref = run(true)
            forEachISA { isa in
                let got = run(false)
                for (k, name) in ["y", "rstd", "dx", "dW"].enumerated() {
                    assertClose(got[k], ref[k], atol: 2e-5 * max(1, maxAbs(ref[k])), rtol: 2e-5,
                                "rmsNorm \(isa) \(rows)x\(cols) \(name)")
                }
            }
        } }
    }

    // MARK: - Softmax

    /// Logits with extremes: a ±1e4 row, a row with −inf masked entries, and a fully masked row.
    func softmaxInputs(_ rows: Int, _ cols: Int, seed: UInt64) -> [Float] {
        var rng = Rng(state: seed)
        var x = rng.array(rows * cols, scale: 3)
        for c in 0..<cols { x[c] = (c % 2 == 0 ? 1e4 : -1e4) + rng.uniform() }
        if rows > 1 { for c in stride(from: 0, to: cols, by: 3) where c > 0 || cols == 1 { x[cols + c] = -.infinity } }
        if rows > 2 { for c in 0..<cols { x[2 * cols + c] = -.infinity } }
        return x
    }

    func testSoftmaxAndLogSoftmaxMatchReference() {
        for rows in Self.sizes { for cols in Self.sizes {
            let x = softmaxInputs(rows, cols, seed: UInt64(rows * 131 + cols))
            var rng = Rng(state: 99)
            let dy = rng.array(rows * cols)
            let run: (Bool) -> [[Float]] = { reference in
                var y = [Float](repeating: 0, count: rows * cols), ly = y, dx = y, ldx = y
                if reference {
                    SoftmaxKernels.softmaxForwardReference(x: x, rows: rows, cols: cols, y: &y)
                    SoftmaxKernels.logSoftmaxForwardReference(x: x, rows: rows, cols: cols, y: &ly)
                } else {
                    SoftmaxKernels.softmaxForward(x: x, rows: rows, cols: cols, y: &y)
                    SoftmaxKernels.logSoftmaxForward(x: x, rows: rows, cols: cols, y: &ly)
                }
                // Both backwards read the reference forward so their own error is measured.
                var ry = y, rly = ly
                SoftmaxKernels.softmaxForwardReference(x: x, rows: rows, cols: cols, y: &ry)
                SoftmaxKernels.logSoftmaxForwardReference(x: x, rows: rows, cols: cols, y: &rly)
                let g = reference ? SoftmaxKernels.softmaxBackwardReference : SoftmaxKernels.softmaxBackward
                let lg = reference ? SoftmaxKernels.logSoftmaxBackwardReference : SoftmaxKernels.logSoftmaxBackward
                g(ry, dy, rows, cols, &dx)
                lg(rly, dy, rows, cols, &ldx)
                return [y, ly, dx, ldx]
            }
            let ref = run(true)
            XCTAssertFalse(ref[0].contains { $0.isNaN }, "softmax reference has NaN")
            forEachISA { isa in
                let got = run(false), tag = "\(isa) \(rows)x\(cols)"
                assertClose(got[0], ref[0], atol: 1e-7, rtol: 1e-5, "softmax \(tag)")
                assertClose(got[1], ref[1], atol: 1e-5, rtol: 1e-6, "logSoftmax \(tag)")
                assertClose(got[2], ref[2], atol: 1e-6, rtol: 1e-5, "softmaxBackward \(tag)")
                assertClose(got[3], ref[3], atol: 1e-5 * max(1, maxAbs(ref[3])), rtol: 1e-5, "logSoftmaxBackward \(tag)")
                if rows > 2 { XCTAssertEqual(Array(got[0][(2 * cols)..<(3 * cols)]), [Float](repeating: 0, count: cols)) }
            }
        } }
    }

    // MARK: - Cross-entropy

    func crossEntropyInputs(_ rows: Int, _ vocab: Int, seed: UInt64) -> (logits: [Float], targets: [Int32]) {
        var rng = Rng(state: seed)
        var logits = rng.array(rows * vocab, scale: 4)
        for v in 0..<vocab { logits[v] = (v % 3 == 0 ? 1e4 : -1e4) + rng.uniform() }
        let targets = (0..<rows).map { n -> Int32 in n % 5 == 3 ? -100 : Int32(rng.next() % UInt64(vocab)) }
        return (logits, targets)
    }

    func crossEntropy(_ logits: [Float], _ targets: [Int32], _ dLoss: [Float], rows: Int, vocab: Int,
                      smoothing: Float, reference: Bool) -> [[Float]] {
        var losses = [Float](repeating: 0, count: rows), lse = losses, dLogits = [Float](repeating: 0, count: logits.count)
        let f = reference ? CrossEntropyKernels.forwardReference : CrossEntropyKernels.forward
        let g = reference ? CrossEntropyKernels.backwardReference : CrossEntropyKernels.backward
        f(logits, targets, rows, vocab, -100, smoothing, &losses, &lse)
        g(logits, targets, lse, dLoss, rows, vocab, -100, smoothing, &dLogits)
        return [losses, lse, dLogits]
    }

    func testCrossEntropyMatchesReference() {
        for rows in Self.sizes { for vocab in Self.sizes { for smoothing: Float in [0, 0.1] {
            let (logits, targets) = crossEntropyInputs(rows, vocab, seed: UInt64(rows * 17 + vocab))
            var rng = Rng(state: 5)
            let dLoss = (0..<rows).map { _ in rng.uniform(0.5, 1.5) }
            let ref = crossEntropy(logits, targets, dLoss, rows: rows, vocab: vocab, smoothing: smoothing, reference: true)
            XCTAssertTrue(ref[0].allSatisfy { $0.isFinite })
            forEachISA { isa in
                let got = crossEntropy(logits, targets, dLoss, rows: rows, vocab: vocab, smoothing: smoothing,
                                       reference: false)
                let tag = "\(isa) \(rows)x\(vocab) ε=\(smoothing)"
                assertClose(got[0], ref[0], atol: 1e-5, rtol: 1e-5, "CE loss \(tag)")
                assertClose(got[1], ref[1], atol: 1e-5, rtol: 1e-6, "CE lse \(tag)")
                assertClose(got[2], ref[2], atol: 1e-6, rtol: 1e-5, "CE dLogits \(tag)")
            }
        } } }
    }

    // MARK: - Finite differences

    /// Central differences of L(p) = Σ w∘f(p) w.r.t. every entry of p, in Float with step h.
    func numericGradient(_ p: [Float], _ w: [Float], h: Float = 1e-2, _ f: ([Float]) -> [Float]) -> [Float] {
        func loss(_ q: [Float]) -> Double {
            zip(f(q), w).reduce(0) { $0 + ($1.1 == 0 ? 0 : Double($1.0) * Double($1.1)) }
        }
        return (0..<p.count).map { i in
            var a = p, b = p
            a[i] += h
            b[i] -= h
            return Float((loss(a) - loss(b)) / Double(a[i] - b[i]))
        }
    }

    func assertGradient(_ analytic: [Float], _ numeric: [Float], _ what: String, line: UInt = #line) {
        assertClose(analytic, numeric, atol: 2e-3 * max(1, maxAbs(numeric)), rtol: 2e-3, what, line: line)
    }

    func testNormBackwardsMatchFiniteDifferences() {
        let rows = 3, cols = 7
        var rng = Rng(state: 11)
        let x = rng.array(rows * cols, scale: 1.5, offset: 0.3), w = rng.array(cols, offset: 1), b = rng.array(cols)
        let dy = rng.array(rows * cols)
        var y = [Float](repeating: 0, count: rows * cols), mean = [Float](repeating: 0, count: rows), rstd = mean
        func ln(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * cols), m = [Float](repeating: 0, count: rows), r = m
            NormKernels.layerNormForward(x: x, weight: w, bias: b, rows: rows, cols: cols, eps: 1e-5, y: &y, mean: &m, rstd: &r)
            return y
        }
        NormKernels.layerNormForward(x: x, weight: w, bias: b, rows: rows, cols: cols, eps: 1e-5, y: &y, mean: &mean, rstd: &rstd)
        var dx = y, dW = [Float](repeating: 0, count: cols), dB = dW
        NormKernels.layerNormBackward(x: x, weight: w, mean: mean, rstd: rstd, dy: dy, rows: rows, cols: cols,
                                      dx: &dx, dWeight: &dW, dBias: &dB)
        assertGradient(dx, numericGradient(x, dy) { ln($0, w, b) }, "layerNorm dx")
        assertGradient(dW, numericGradient(w, dy) { ln(x, $0, b) }, "layerNorm dWeight")
        assertGradient(dB, numericGradient(b, dy) { ln(x, w, $0) }, "layerNorm dBias")

        func rms(_ x: [Float], _ w: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * cols), r = [Float](repeating: 0, count: rows)
            NormKernels.rmsNormForward(x: x, weight: w, rows: rows, cols: cols, eps: 1e-6, y: &y, rstd: &r)
            return y
        }
        NormKernels.rmsNormForward(x: x, weight: w, rows: rows, cols: cols, eps: 1e-6, y: &y, rstd: &rstd)
        dW = [Float](repeating: 0, count: cols)
        NormKernels.rmsNormBackward(x: x, weight: w, rstd: rstd, dy: dy, rows: rows, cols: cols, dx: &dx, dWeight: &dW)
        assertGradient(dx, numericGradient(x, dy) { rms($0, w) }, "rmsNorm dx")
        assertGradient(dW, numericGradient(w, dy) { rms(x, $0) }, "rmsNorm dWeight")
    }

    func testSoftmaxAndCrossEntropyBackwardsMatchFiniteDifferences() {
        let rows = 4, cols = 7
        var rng = Rng(state: 12)
        let x = rng.array(rows * cols, scale: 2), dy = rng.array(rows * cols)
        func sm(_ x: [Float]) -> [Float] {
            var y = x
            SoftmaxKernels.softmaxForward(x: x, rows: rows, cols: cols, y: &y)
            return y
        }
        func lsm(_ x: [Float]) -> [Float] {
            var y = x
            SoftmaxKernels.logSoftmaxForward(x: x, rows: rows, cols: cols, y: &y)
            return y
        }
        var dx = x
        SoftmaxKernels.softmaxBackward(y: sm(x), dy: dy, rows: rows, cols: cols, dx: &dx)
        assertGradient(dx, numericGradient(x, dy, sm), "softmax dx")
        SoftmaxKernels.logSoftmaxBackward(y: lsm(x), dy: dy, rows: rows, cols: cols, dx: &dx)
        assertGradient(dx, numericGradient(x, dy, lsm), "logSoftmax dx")

        let targets: [Int32] = [2, -100, 6, 0], dLoss: [Float] = [0.7, 1.3, 1.0, 0.25]
        for smoothing: Float in [0, 0.2] {
            func ce(_ x: [Float]) -> [Float] {
                crossEntropy(x, targets, dLoss, rows: rows, vocab: cols, smoothing: smoothing, reference: false)[0]
            }
            let analytic = crossEntropy(x, targets, dLoss, rows: rows, vocab: cols, smoothing: smoothing, reference: false)[2]
            assertGradient(analytic, numericGradient(x, dLoss, ce), "cross-entropy dLogits ε=\(smoothing)")
        }
    }

    // MARK: - Activations

    /// A dense grid over [−30, 30] (or positive values from 1e-24 to 1e24), plus values near 0.
    func activationGrid(_ kind: ActivationKernels.Kind) -> [Float] {
        switch kind {
        case .log, .sqrt, .rsqrt:
            return (0..<40_001).map { Float(Foundation.pow(10, -24 + 48 * Double($0) / 40_000)) } + [0.5, 1, 2, 0.999_999_9]
        default:
            return (0..<60_001).map { -30 + Float($0) * 0.001 } + [1e-6, -1e-6, 1e-20, -1e-20, 0.624_999, 0.625, 0.9]
        }
    }

    func testActivationsMatchReference() {
        // (atol, rtol) per kind: relative for exp/log/sqrt, absolute ≤ 1e-6 for the erf/tanh families.
        let tolerance: [ActivationKernels.Kind: (Float, Float)] = [
            .exp: (0, 3e-7), .log: (0, 3e-7), .tanh: (1e-9, 3e-7), .sigmoid: (1e-9, 4e-7), .relu: (0, 0),
            .gelu: (1e-6, 1e-6), .geluTanh: (1e-6, 1e-6), .silu: (1e-9, 4e-7), .softplus: (1e-9, 4e-7),
            .sqrt: (0, 2e-7), .rsqrt: (0, 2e-7),
        ]
        for kind in ActivationKernels.Kind.allCases {
            let x = activationGrid(kind), n = x.count
            var rng = Rng(state: 3)
            let dy = (0..<n).map { _ in rng.uniform() }
            var ry = [Float](repeating: 0, count: n), rdx = ry
            ActivationKernels.forwardReference(kind, x: x, y: &ry, count: n)
            ActivationKernels.backwardReference(kind, x: x, dy: dy, dx: &rdx, count: n)
            let (atol, rtol) = tolerance[kind]!
            forEachISA { isa in
                var y = [Float](repeating: 0, count: n), dx = y
                ActivationKernels.forward(kind, x: x, y: &y, count: n)
                ActivationKernels.backward(kind, x: x, dy: dy, dx: &dx, count: n)
                assertClose(y, ry, atol: atol, rtol: rtol, "\(kind) forward \(isa)")
                assertClose(dx, rdx, atol: 1e-6, rtol: 1e-6, "\(kind) backward \(isa)")
            }
        }
    }

    func testActivationSpecialValues() {
        let x: [Float] = [-.infinity, .infinity, .nan, 0, -200, 200, 88.8, -104.5, Float.leastNormalMagnitude / 16]
        forEachISA { isa in
            func f(_ kind: ActivationKernels.Kind) -> [Float] {
                var y = x
                ActivationKernels.forward(kind, x: x, y: &y, count: x.count)
                return y
            }
            let e = f(.exp), l = f(.log), s = f(.sigmoid), sp = f(.softplus), t = f(.tanh)
            XCTAssertEqual(Array(e[0..<2]) + [e[3], e[4], e[5], e[6], e[7]], [0, .infinity, 1, 0, .infinity, .infinity, 0], "exp \(isa)")
            XCTAssertTrue(e[2].isNaN && l[2].isNaN && s[2].isNaN && sp[2].isNaN && t[2].isNaN, "NaN propagates \(isa)")
            XCTAssertTrue(l[0].isNaN && l[1] == .infinity && l[3] == -.infinity, "log \(isa)")
            XCTAssertEqual(l[8], Float(Foundation.log(Double(x[8]))), accuracy: 1e-5, "log subnormal \(isa)")
            XCTAssertEqual([s[0], s[1], s[4], s[5]], [0, 1, 0, 1], "sigmoid \(isa)")
            XCTAssertEqual([sp[0], sp[1], sp[4], sp[5]], [0, .infinity, 0, 200], "softplus \(isa)")
            XCTAssertEqual([t[0], t[1], t[4], t[5]], [-1, 1, -1, 1], "tanh \(isa)")
        }
    }

    func testActivationBackwardsMatchFiniteDifferences() {
        for kind in ActivationKernels.Kind.allCases {
            let positive = [.log, .sqrt, .rsqrt].contains(kind)
            let x: [Float] = positive ? (1...40).map { Float($0) * 0.15 } : (0..<33).map { -6 + Float($0) * 0.37 }
            var analytic = x
            ActivationKernels.backward(kind, x: x, dy: [Float](repeating: 1, count: x.count), dx: &analytic, count: x.count)
            let numeric = x.map { v -> Float in
                let h = positive ? 1e-3 * v : 1e-2
                var out: [Float] = [0, 0]
                ActivationKernels.forward(kind, x: [v + h, v - h], y: &out, count: 2)
                return (out[0] - out[1]) / ((v + h) - (v - h))
            }
            assertClose(analytic, numeric, atol: 2e-3, rtol: 2e-3, "\(kind) finite differences")
        }
    }

    // MARK: - AdamW

    func testAdamWMatchesReferenceOverSeveralSteps() {
        for count in [1, 17, 1001, 70_001] {
            var rng = Rng(state: UInt64(count))
            let start = rng.array(count)
            forEachISA { isa in
                var p = start, m = [Float](repeating: 0, count: count), v = m
                var rp = start, rm = m, rv = m
                for step in 1...6 {
                    let g = rng.array(count, scale: step == 3 ? 1e-3 : 1)
                    AdamWKernel.update(param: &p, grad: g, m: &m, v: &v, count: count, lr: 1e-2, beta1: 0.9,
                                       beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: step)
                    AdamWKernel.updateReference(param: &rp, grad: g, m: &rm, v: &rv, count: count, lr: 1e-2,
                                                beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: step)
                    let tag = "AdamW \(isa) n=\(count) step \(step)"
                    assertClose(p, rp, atol: 1e-6, rtol: 1e-6, tag + " param")
                    assertClose(m, rm, atol: 1e-7, rtol: 1e-6, tag + " m")
                    assertClose(v, rv, atol: 1e-9, rtol: 1e-6, tag + " v")
                }
            }
        }
    }

    // MARK: - Determinism

    /// Runs body with one thread, then with two, and requires identical bits.
    func assertThreadIndependent(_ what: String, _ body: () -> [[Float]]) {
        let one = Threads.$limit.withValue(1) { body() }
        let two = Threads.$limit.withValue(2) { body() }
        for (a, b) in zip(one, two) {
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(what): 1 vs 2 threads differ")
        }
    }

    func testBitIdenticalAcrossThreadCounts() {
        for (rows, cols) in [(1000, 257), (257, 1000), (33, 17)] {
            let (x, w, b, dy) = normInputs(rows, cols, seed: 77)
            assertThreadIndependent("layerNorm \(rows)x\(cols)") {
                var y = [Float](repeating: 0, count: rows * cols), mean = [Float](repeating: 0, count: rows), rstd = mean
                var dx = y, dW = [Float](repeating: 0.25, count: cols), dB = dW
                NormKernels.layerNormForward(x: x, weight: w, bias: b, rows: rows, cols: cols, eps: 1e-5, y: &y, mean: &mean, rstd: &rstd)
                NormKernels.layerNormBackward(x: x, weight: w, mean: mean, rstd: rstd, dy: dy, rows: rows, cols: cols,
                                              dx: &dx, dWeight: &dW, dBias: &dB)
                return [y, mean, rstd, dx, dW, dB]
            }
            assertThreadIndependent("rmsNorm \(rows)x\(cols)") {
                var y = [Float](repeating: 0, count: rows * cols), rstd = [Float](repeating: 0, count: rows)
                var dx = y, dW = [Float](repeating: 0.25, count: cols)
                NormKernels.rmsNormForward(x: x, weight: w, rows: rows, cols: cols, eps: 1e-6, y: &y, rstd: &rstd)
                NormKernels.rmsNormBackward(x: x, weight: w, rstd: rstd, dy: dy, rows: rows, cols: cols, dx: &dx, dWeight: &dW)
                return [y, rstd, dx, dW]
            }
            let (logits, targets) = crossEntropyInputs(rows, cols, seed: 78)
            let dLoss = [Float](repeating: 1, count: rows)
            assertThreadIndependent("cross-entropy \(rows)x\(cols)") {
                crossEntropy(logits, targets, dLoss, rows: rows, vocab: cols, smoothing: 0.1, reference: false)
            }
            assertThreadIndependent("softmax + gelu \(rows)x\(cols)") {
                var y = x, g = x
                SoftmaxKernels.softmaxForward(x: x, rows: rows, cols: cols, y: &y)
                ActivationKernels.forward(.gelu, x: dy, y: &g, count: dy.count)
                return [y, g]
            }
        }
    }
}
