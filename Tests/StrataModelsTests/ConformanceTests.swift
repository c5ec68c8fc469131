import Foundation
import XCTest
import StrataCore
import StrataKernels
import StrataNN
import StrataModels
import StrataIO

/// Every registered variant through the same checks (see `Conformance`).
final class ConformanceTests: XCTestCase {
    private let batch = 2, length = 9

    private func build(_ c: Conformance.Case, seed: UInt64 = 11) -> TransformerModel? {
        do { return try TransformerModel(spec: c.spec, seed: seed) } catch {
            XCTFail("\(c): does not build: \(error)")
            return nil
        }
    }

    func testEveryVariantBuildsWithTheParameterCountItsFormulaStates() {
        for c in Conformance.allCases() {
            guard let model = build(c) else { continue }
            XCTAssertEqual(model.parameterCount, c.spec.expectedParameterCount, "\(c): parameter count vs formula")
        }
    }

    func testEveryVariantHasFiniteDifferenceGradients() {
        // One short sequence: fewer ReLU/top-k units means fewer kinks near any probe point.
        let (batch, length) = (1, 6)
        for c in Conformance.allCases() {
            guard let model = build(c) else { continue }
            let ids = Conformance.tokens(batch * length, vocab: c.spec.vocabSize, seed: 3)
            var rng = RNG(seed: 5)
            let r = rng.normal([batch, length, c.spec.vocabSize]).scalars
            let logits = model.logits(ids, batch: batch, length: length)
            logits.backward(Tensor(r, shape: logits.shape))
            for (name, p) in model.namedParameters() {
                guard let g = p.grad?.scalars else {
                    // Buffers (running statistics, power-iteration vectors) have role .other and no gradient; a
                    // branch the output never reads (the unused channel residual of a parallel block) has none either.
                    if p.role != .other && !name.contains("channelSite.residual") { XCTFail("\(c): \(name) received no gradient") }
                    continue
                }
                // Candidates: the entry with the largest analytic gradient, the middle one and a few seeded ones.
                // Variants with kinks (ReLU, top-k) can put a kink inside ±eps; a probe counts only when three step
                // sizes agree (no kink crossed), and every parameter needs at least one such probe.
                let top = g.indices.max { abs(g[$0]) < abs(g[$1]) } ?? 0
                var pick = RNG(seed: UInt64(g.count))
                let candidates = [top, g.count / 2] + (0..<10).map { _ in Int(pick.next() % UInt64(g.count)) }
                var verified = 0
                for i in candidates where verified < 2 {
                    let original = p.value.copy()
                    func slope(_ eps: Float) -> Double {
                        func loss(_ delta: Float) -> Double {
                            var v = original.scalars
                            v[i] += delta
                            p.assign(Tensor(v, shape: original.shape))
                            return Conformance.weightedSum(withNoGrad { model.logits(ids, batch: batch, length: length) }, r)
                        }
                        return (loss(eps) - loss(-eps)) / Double(2 * eps)
                    }
                    let estimates = [slope(2e-3), slope(1e-3), slope(5e-4)]
                    p.assign(original)
                    let spread = (estimates.max() ?? 0) - (estimates.min() ?? 0)
                    guard spread <= 0.005 * max(abs(estimates[0]), 0.4) else { continue }
                    verified += 1
                    let analytic = Double(g[i])
                    let err = abs(estimates[0] - analytic) / max(abs(estimates[0]), abs(analytic), 0.2)
                    XCTAssertLessThan(err, 0.02, "\(c): d/d\(name)[\(i)] analytic \(analytic) vs numeric \(estimates)")
                }
                XCTAssertGreaterThan(verified, 0, "\(c): no smooth probe point found for \(name)")
            }
        }
    }

    func testDecodersAreCausal() {
        for c in Conformance.allCases() {
            guard let model = build(c) else { continue }
            model.train(false)
            let a = Conformance.tokens(batch * length, vocab: c.spec.vocabSize, seed: 8)
            var b = a
            let cut = 5
            for row in 0..<batch { for t in cut..<length { b[row * length + t] = (a[row * length + t] + 7) % Int32(c.spec.vocabSize) } }
            let la = withNoGrad { model.logits(a, batch: batch, length: length) }.scalars
            let lb = withNoGrad { model.logits(b, batch: batch, length: length) }.scalars
            let v = c.spec.vocabSize
            var worst: Float = 0
            for row in 0..<batch { for t in 0..<cut { for j in 0..<v {
                let i = (row * length + t) * v + j
                worst = max(worst, abs(la[i] - lb[i]))
            } } }
            XCTAssertLessThanOrEqual(worst, 1e-6, "\(c): logits before position \(cut) changed when later tokens changed")
        }
    }

    func testCachedDecodingMatchesTheFullForward() {
        for c in Conformance.allCases() {
            guard let model = build(c) else { continue }
            model.train(false)
            let ids = Conformance.tokens(batch * length, vocab: c.spec.vocabSize, seed: 9)
            let full = withNoGrad { model.logits(ids, batch: batch, length: length) }
            let v = c.spec.vocabSize
            // A prefill chunk of 4 tokens, then one token at a time.
            let state = model.makeDecodeState(batch: batch)
            var pieces: [Tensor] = []
            var t = 0
            while t < length {
                let n = t == 0 ? 4 : 1
                var chunk: [Int32] = []
                for row in 0..<batch { chunk += ids[(row * length + t)..<(row * length + t + n)] }
                pieces.append(withNoGrad { model.logits(chunk, batch: batch, length: n, state: state) })
                t += n
            }
            let stepped = Tensor.concat(pieces, axis: 1)
            XCTAssertEqual(stepped.shape, [batch, length, v], "\(c)")
            let (x, y) = (full.scalars, stepped.scalars)
            var worst: Float = 0, scale: Float = 1e-3
            for i in 0..<x.count { worst = max(worst, abs(x[i] - y[i])); scale = max(scale, abs(x[i])) }
            XCTAssertLessThanOrEqual(worst / scale, 1e-4, "\(c): cached decoding differs from the full forward")
            XCTAssertEqual(state.length, length, "\(c)")
        }
    }

    func testThreadCountDoesNotChangeBits() {
        for c in Conformance.allCases() {
            func run(_ threads: Int) -> [[Float]] {
                Threads.$limit.withValue(threads) {
                    guard let model = build(c) else { return [] }
                    let ids = Conformance.tokens(batch * length, vocab: c.spec.vocabSize, seed: 4)
                    let loss = model.loss(inputs: ids, targets: ids.map { ($0 + 1) % Int32(c.spec.vocabSize) },
                                          batch: batch, length: length)
                    loss.backward()
                    return [loss.scalars] + model.parameters().map { $0.grad?.scalars ?? [] }
                }
            }
            XCTAssertEqual(run(1), run(2), "\(c): results differ between 1 and 2 threads")
        }
    }

    func testSafetensorsSaveAndLoadGiveIdenticalLogits() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (n, c) in Conformance.allCases().enumerated() {
            guard let a = build(c, seed: 1), let b = build(c, seed: 2) else { continue }
            a.train(false); b.train(false)
            let file = directory.appendingPathComponent("case\(n).safetensors")
            try a.saveSafeTensors(to: file, metadata: ["spec": c.spec.json.jsonText(pretty: false)])
            try b.loadSafeTensors(from: file)
            let ids = Conformance.tokens(batch * length, vocab: c.spec.vocabSize, seed: 6)
            XCTAssertEqual(withNoGrad { a.logits(ids, batch: batch, length: length) }.scalars,
                           withNoGrad { b.logits(ids, batch: batch, length: length) }.scalars, "\(c)")
        }
    }

    func testProbesReportEveryLayerWithoutChangingTheResult() {
        for c in Conformance.allCases() {
            guard let model = build(c) else { continue }
            model.train(false)
            let ids = Conformance.tokens(batch * length, vocab: c.spec.vocabSize, seed: 2)
            let plain = withNoGrad { model.logits(ids, batch: batch, length: length) }.scalars
            let probes = ProbeRecorder()
            let probed = withNoGrad { model.logits(ids, batch: batch, length: length, probes: probes) }.scalars
            XCTAssertEqual(plain, probed, "\(c): probing changed the forward result")
            for layer in 0..<c.spec.layers {
                for name in ["residual_rms", "residual_kurtosis", "residual_max_abs"] {
                    let v = probes.value(layer: layer, name: name)
                    XCTAssertNotNil(v, "\(c): no \(name) at layer \(layer)")
                    XCTAssertTrue(v?.isFinite ?? false, "\(c): \(name) at layer \(layer) is not finite")
                }
            }
        }
    }
}
