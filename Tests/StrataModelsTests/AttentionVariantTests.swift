import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

/// Helpers shared by the attention and positional tests (names prefixed so they cannot clash with other suites).
enum AttnKit {
    /// A tiny build context: C = 8, H = 2, D = 4.
    static func context(dim: Int = 8, heads: Int = 2, contextLength: Int = 16, causal: Bool = true) -> BuildContext {
        BuildContext(dim: dim, heads: heads, headDim: dim / heads, layer: 0, layers: 2, contextLength: contextLength,
                     causal: causal, initStd: 0.4)
    }

    /// A registered token mixer built from `id` and JSON options.
    static func mixer(_ id: String, _ options: [String: JSONValue] = [:], context: BuildContext, seed: UInt64 = 3) -> any TokenMixer {
        var issues: [SpecIssue] = []
        guard let (entry, parsed) = Catalog.tokenMixers.resolve(ComponentSpec(id, options), path: "token_mixer", issues: &issues),
              issues.isEmpty else { fatalError("test spec \(id) \(options): \(issues)") }
        var rng = RNG(seed: seed)
        let m = entry.build(parsed, context: context, rng: &rng)
        XCTAssertEqual(m.parameterCount, entry.parameterCount(parsed, context: context), "\(id) parameter-count formula")
        return m
    }

    /// A registered positional scheme.
    static func positional(_ id: String, _ options: [String: JSONValue] = [:], context: BuildContext) -> any PositionalScheme {
        var issues: [SpecIssue] = []
        guard let (entry, parsed) = Catalog.positional.resolve(ComponentSpec(id, options), path: "positional", issues: &issues),
              issues.isEmpty else { fatalError("test positional \(id): \(issues)") }
        var rng = RNG(seed: 1)
        return entry.build(parsed, context: context, rng: &rng)
    }

    static func maxDiff(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        return zip(a.scalars, b.scalars).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Central-difference check of d(Σ f(x)∘R)/d(x and every parameter of `module` that receives a gradient),
    /// probing a seeded sample of coordinates. The error is relative to max(floor, |numeric|, |analytic|): float32
    /// rounding puts the numeric derivative's noise near 1e-3 at these sizes, so tiny gradients are compared absolutely.
    static func gradCheck(_ name: String, module: Module, input: Tensor, eps: Float = 1e-2, tolerance: Float = 2e-2,
                          probes: Int = 6, checkInput: Bool = true, floor: Float = 0.05, file: StaticString = #filePath, line: UInt = #line, _ f: (Tensor) -> Tensor) {
        var rng = RNG(seed: 11)
        module.zeroGrad()
        let x = input.requiringGrad()
        let out = f(x)
        let r = rng.normal(out.shape)
        out.backward(r)
        func value() -> Double {
            let y = withNoGrad { f(input) }.scalars, w = r.scalars
            return zip(y, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        func compare(_ what: String, _ analytic: Float, _ numeric: Float) -> Bool {
            let err = abs(numeric - analytic) / max(floor, abs(numeric), abs(analytic))
            if !(err <= tolerance) {
                XCTFail("\(name): d/d\(what) analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
                return false
            }
            return true
        }
        var xs = input.scalars
        let gx = x.grad?.scalars ?? []
        if checkInput && gx.isEmpty { return XCTFail("\(name): no gradient for the input", file: file, line: line) }
        for _ in 0..<(checkInput ? probes : 0) {
            let i = Int(rng.next() % UInt64(xs.count)), old = xs[i]
            xs[i] = old + eps
            let plus = withNoGrad { f(Tensor(xs, shape: input.shape)) }.scalars
            xs[i] = old - eps
            let minus = withNoGrad { f(Tensor(xs, shape: input.shape)) }.scalars
            xs[i] = old
            var d = 0.0
            for j in 0..<plus.count { d += Double(plus[j] - minus[j]) * Double(r.scalars[j]) }
            if !compare("x[\(i)]", gx[i], Float(d / Double(2 * eps))) { return }
        }
        for (pname, p) in module.namedParameters() {
            guard let g = p.grad?.scalars else {
                XCTAssertEqual(p.role, .other, "\(name): \(pname) received no gradient", file: file, line: line)
                continue
            }
            let original = p.value.detached().copy()
            var values = original.scalars
            for _ in 0..<min(probes, values.count) {
                let i = Int(rng.next() % UInt64(values.count)), old = values[i]
                values[i] = old + eps; p.assign(Tensor(values, shape: p.shape)); let vp = value()
                values[i] = old - eps; p.assign(Tensor(values, shape: p.shape)); let vm = value()
                values[i] = old; p.assign(original)
                if !compare("\(pname)[\(i)]", g[i], Float((vp - vm) / Double(2 * eps))) { return }
            }
        }
    }

    /// The full forward over T tokens vs the same tokens fed through a cache in `chunks`.
    static func cacheGap(_ mixer: any TokenMixer, positional: any PositionalScheme, x: Tensor, chunks: [Int]) -> Float {
        let full = withNoGrad { mixer.forward(x, context: MixerContext(positional: positional), cache: nil) }
        let cache = mixer.makeCache(batch: x.shape[0], capacity: x.shape[1])
        var parts: [Tensor] = [], start = 0
        for n in chunks {
            let piece = x.slice(axis: 1, start..<start + n)
            parts.append(withNoGrad { mixer.forward(piece, context: MixerContext(positional: positional, offset: start), cache: cache) })
            start += n
        }
        XCTAssertEqual(cache.length, x.shape[1])
        return maxDiff(full, Tensor.concat(parts, axis: 1))
    }
}

final class AttentionVariantTests: XCTestCase {
    /// Every attention id with options that exercise it, for the shared gradient and cache checks.
    static let variants: [(String, [String: JSONValue])] = [
        ("softmax_attention", [:]),
        ("softmax_attention", ["kv_heads": .number(1), "qk_norm": .string("rms"), "gate": .string("elementwise")]),
        ("softmax_attention", ["qk_norm": .string("layer"), "gate": .string("all_heads"), "bias": .bool(true)]),
        ("softmax_attention", ["sigma_reparam": .bool(true), "qk_norm": .string("l2")]),
        ("sliding_window_attention", ["window": .number(3)]),
        ("sigmoid_attention", [:]),
        ("sigmoid_attention", ["bias_mode": .string("log_visible"), "window": .number(4)]),
        ("clipped_softmax", ["alpha": .number(1)]),
        ("gated_attention", ["kv_heads": .number(1)]),
        ("power_softmax", [:]),
        ("power_softmax", ["p": .number(4), "epsilon": .number(0.01)]),
        ("topk_attention", ["k": .number(3)]),
    ]

    func testGradientsOfEveryVariantMatchFiniteDifferences() {
        let ctx = AttnKit.context()
        let pos = AttnKit.positional("rope", context: ctx)
        var rng = RNG(seed: 5)
        let x = rng.normal([1, 5, 8])
        for (id, options) in Self.variants {
            let m = AttnKit.mixer(id, options, context: ctx)
            m.train(false)   // σReparam: no power-iteration update between the probes
            AttnKit.gradCheck("\(id) \(options)", module: m, input: x) {
                m.forward($0, context: MixerContext(positional: pos), cache: nil)
            }
        }
    }

    func testCachedDecodingEqualsFullForward() {
        let ctx = AttnKit.context()
        var rng = RNG(seed: 6)
        let x = rng.normal([2, 7, 8])
        for posID in ["nope", "rope", "alibi"] {
            let pos = AttnKit.positional(posID, context: ctx)
            for (id, options) in Self.variants {
                let m = AttnKit.mixer(id, options, context: ctx)
                m.train(false)
                for chunks in [[1, 1, 1, 1, 1, 1, 1], [3, 1, 3], [7]] {
                    let gap = AttnKit.cacheGap(m, positional: pos, x: x, chunks: chunks)
                    XCTAssertLessThan(gap, 1e-5, "\(id) \(options) with \(posID), chunks \(chunks)")
                }
            }
        }
    }

    func testPaddedKeysAreIgnoredByEveryNormalizer() {
        let ctx = AttnKit.context(causal: false)
        let pos = AttnKit.positional("nope", context: ctx)
        var rng = RNG(seed: 17)
        let x = rng.normal([1, 5, 8])
        let padded = Tensor.concat([x, rng.normal([1, 2, 8])], axis: 1)
        let keyPadding = Tensor([0, 0, 0, 0, 0, -1e9, -1e9], shape: [1, 1, 1, 7])
        for (id, options) in Self.variants {
            let m = AttnKit.mixer(id, options, context: ctx)
            m.train(false)
            let plain = m.forward(x, context: MixerContext(positional: pos), cache: nil)
            let masked = m.forward(padded, context: MixerContext(positional: pos, keyPadding: keyPadding), cache: nil)
            XCTAssertLessThan(AttnKit.maxDiff(plain, masked.slice(axis: 1, 0..<5)), 1e-5, "\(id) \(options)")
        }
    }

    func testMixingMatrixStructureAndEntropyProbe() {
        let ctx = AttnKit.context()
        var rng = RNG(seed: 18)
        let x = rng.normal([1, 6, 8])
        let pos = AttnKit.positional("alibi", context: ctx)
        for (id, options) in Self.variants {
            let m = AttnKit.mixer(id, options, context: ctx) as! AttentionMixer
            m.train(false)
            let a = m.mixingMatrix(x, context: MixerContext(positional: pos))
            XCTAssertEqual(a.shape, [1, 2, 6, 6])
            let w = a.scalars
            let visible = attentionVisibility(queries: 6, keys: 6, causal: true, window: m.window)!.scalars
            for (i, value) in w.enumerated() where visible[i % 36] == 0 { XCTAssertEqual(value, 0, "\(id): invisible key has weight") }
            if m.normalizer == .softmax || m.normalizer == .topK(3) {
                for s in a.sum(axis: -1).scalars { XCTAssertEqual(s, 1, accuracy: 1e-5, id) }
            }
            // The entropy probe (fused kernel for softmax, materialized weights otherwise) agrees with the matrix,
            // each row normalized to a distribution first (sigmoid, clipped and power rows need not sum to 1).
            let probes = ProbeRecorder()
            _ = m.forward(x, context: MixerContext(positional: pos, probes: probes), cache: nil)
            var expected = 0.0
            for row in 0..<12 {
                let z = (0..<6).reduce(0.0) { $0 + Double(w[row * 6 + $1]) }
                for j in 0..<6 { let p = Double(w[row * 6 + j]) / z; if p > 0 { expected -= p * log(p) } }
            }
            XCTAssertEqual(probes.value(layer: 0, name: "attention_entropy") ?? .nan, expected / 12, accuracy: 1e-4, "\(id) \(options)")
        }
    }

    func testFusedSoftmaxEqualsComposedTwin() {
        var rng = RNG(seed: 7)
        let q = rng.normal([2, 4, 5, 3]), k = rng.normal([2, 2, 6, 3]), v = rng.normal([2, 2, 6, 3])
        let bias = rng.normal([1, 4, 5, 6])
        for window in [nil, 2] as [Int?] {
            var mask = bias
            if let w = window { mask = mask + windowBandMask(queries: 5, keys: 6, window: w) }
            let fused = scaledDotProductAttention(q: q, k: k, v: v, mask: mask, causal: true)
            let visible = attentionVisibility(queries: 5, keys: 6, causal: true, window: window)
            let composed = composedAttention(q: q, k: k, v: v, mask: bias, visible: visible, normalizer: .softmax).output
            XCTAssertLessThan(AttnKit.maxDiff(fused, composed), 1e-5, "window \(String(describing: window))")
        }
    }

    func testSigmoidRowSumsAtZeroLogits() {
        let n = 10
        let q = Tensor.zeros([1, 1, n, 4]), k = Tensor.zeros([1, 1, n, 4]), v = Tensor.ones([1, 1, n, 1])
        let logN = SigmoidBias.constant(-Float(log(Double(n))))
        // Unmasked: every row sums to n·σ(−log n) = n/(n+1); with b = 0 to n/2.
        let sums = composedAttention(q: q, k: k, v: v, mask: nil, visible: nil, normalizer: .sigmoid(bias: logN)).output.scalars
        for s in sums { XCTAssertEqual(s, Float(n) / Float(n + 1), accuracy: 1e-5) }
        let zero = composedAttention(q: q, k: k, v: v, mask: nil, visible: nil, normalizer: .sigmoid(bias: .constant(0))).output
        for s in zero.scalars { XCTAssertEqual(s, Float(n) / 2, accuracy: 1e-5) }
        // Causal, one scalar b for every row (the paper's default): row i sums to (i+1)/(n+1).
        let vis = attentionVisibility(queries: n, keys: n, causal: true, window: nil)
        let causal = composedAttention(q: q, k: k, v: v, mask: nil, visible: vis, normalizer: .sigmoid(bias: logN)).output.scalars
        for (i, s) in causal.enumerated() { XCTAssertEqual(s, Float(i + 1) / Float(n + 1), accuracy: 1e-5) }
        // The mixer's default n is context_length: an encoder over context_length tokens sums rows to n/(n+1).
        let m = AttnKit.mixer("sigmoid_attention", context: AttnKit.context(contextLength: n, causal: false)) as! AttentionMixer
        XCTAssertEqual(m.normalizer, .sigmoid(bias: logN))
    }

    func testClippedSoftmaxReachesExactZerosAndReducesToSoftmax() {
        var rng = RNG(seed: 8)
        let q = rng.normal([1, 2, 6, 4], std: 3), k = rng.normal([1, 2, 6, 4], std: 3), v = rng.normal([1, 2, 6, 2])
        let vis = attentionVisibility(queries: 6, keys: 6, causal: true, window: nil)
        let clipped = composedAttention(q: q, k: k, v: v, mask: nil, visible: vis, normalizer: .clipped(zeta: 1, gamma: -0.1)).weights
        let w = clipped.scalars
        XCTAssertTrue(w.allSatisfy { $0 >= 0 && $0 <= 1 })
        let visibleZeros = zip(w, vis!.expanded(to: [1, 2, 6, 6]).copy().scalars).filter { $0.1 == 1 && $0.0 == 0 }.count
        XCTAssertGreaterThan(visibleZeros, 0, "clipping should produce exact zeros for small probabilities")
        let plain = composedAttention(q: q, k: k, v: v, mask: nil, visible: vis, normalizer: .softmax).weights
        let same = composedAttention(q: q, k: k, v: v, mask: nil, visible: vis, normalizer: .clipped(zeta: 1, gamma: 0)).weights
        XCTAssertLessThan(AttnKit.maxDiff(plain, same), 1e-7)
        // γ = −α/T with T = context_length.
        let m = AttnKit.mixer("clipped_softmax", context: AttnKit.context(contextLength: 512)) as! AttentionMixer
        XCTAssertEqual(m.normalizer, .clipped(zeta: 1, gamma: -12 / 512))
    }

    func testPowerSoftmaxRowsSumToOneAndIgnoreScale() {
        var rng = RNG(seed: 9)
        let q = rng.normal([1, 2, 5, 4]), k = rng.normal([1, 2, 5, 4]), v = rng.normal([1, 2, 5, 3])
        let vis = attentionVisibility(queries: 5, keys: 5, causal: true, window: nil)
        for p in [2, 4] {
            let a = composedAttention(q: q, k: k, v: v, mask: nil, visible: vis, normalizer: .power(p: p, epsilon: 0)).weights
            for s in a.sum(axis: -1).scalars { XCTAssertEqual(s, 1, accuracy: 1e-5) }
            XCTAssertTrue(a.scalars.allSatisfy { $0 >= 0 })
            let scaled = composedAttention(q: q * 3.5, k: k, v: v, mask: nil, visible: vis, normalizer: .power(p: p, epsilon: 0)).weights
            XCTAssertLessThan(AttnKit.maxDiff(a, scaled), 1e-5, "p = \(p)")
            XCTAssertEqual(a.scalars[1], 0, "masked key must have exactly zero weight")
        }
        let stabilized = composedAttention(q: q, k: k, v: v, mask: nil, visible: vis, normalizer: .power(p: 2, epsilon: 0.5)).weights
        for s in stabilized.sum(axis: -1).scalars { XCTAssertLessThan(s, 1) }
    }

    func testTopKKeepsKNonzerosPerRow() {
        var rng = RNG(seed: 10)
        let q = rng.normal([1, 2, 8, 4]), k = rng.normal([1, 2, 8, 4]), v = rng.normal([1, 2, 8, 3])
        let vis = attentionVisibility(queries: 8, keys: 8, causal: true, window: nil)
        let a = composedAttention(q: q, k: k, v: v, mask: nil, visible: vis, normalizer: .topK(3)).weights.scalars
        let z = (q.matmul(k, transposeB: true) * 0.5).scalars
        for row in 0..<16 {
            let t = row % 8
            let r = Array(a[row * 8..<row * 8 + 8])
            XCTAssertEqual(r.filter { $0 > 0 }.count, min(3, t + 1), "row \(row)")
            XCTAssertEqual(r.reduce(0, +), 1, accuracy: 1e-5)
            // The kept keys are the largest visible logits.
            let kept = (0...t).filter { r[$0] > 0 }.map { z[row * 8 + $0] }
            let dropped = (0...t).filter { r[$0] == 0 }.map { z[row * 8 + $0] }
            if let lo = kept.min(), let hi = dropped.max() { XCTAssertGreaterThan(lo, hi) }
        }
    }

    func testSlidingWindowEqualsFullAttentionWithBandMask() {
        /// A positional scheme that only adds a band mask, so plain softmax attention reproduces the window.
        final class BandBias: Module, PositionalScheme {
            let window: Int
            init(window: Int) { self.window = window; super.init() }
            func attentionBias(heads: Int, queries t: Int, keys s: Int) -> Tensor? {
                var m = [Float](repeating: 0, count: t * s)
                for ti in 0..<t { for si in 0..<s where si <= ti - window { m[ti * s + si] = -1e9 } }
                return Tensor(m, shape: [1, 1, t, s]).expanded(to: [1, heads, t, s]).copy()
            }
        }
        let ctx = AttnKit.context()
        var rng = RNG(seed: 12)
        let x = rng.normal([2, 9, 8])
        let windowed = AttnKit.mixer("sliding_window_attention", ["window": .number(3)], context: ctx)
        let full = AttnKit.mixer("softmax_attention", context: ctx)   // same seed: same weights
        let a = windowed.forward(x, context: MixerContext(positional: AttnKit.positional("nope", context: ctx)), cache: nil)
        let b = full.forward(x, context: MixerContext(positional: BandBias(window: 3)), cache: nil)
        XCTAssertLessThan(AttnKit.maxDiff(a, b), 1e-6)
        // The decode cache keeps at most w entries.
        let cache = windowed.makeCache(batch: 2, capacity: 9) as! KVCache
        _ = windowed.forward(x, context: MixerContext(positional: AttnKit.positional("nope", context: ctx)), cache: cache)
        XCTAssertEqual(cache.keys?.shape[2], 3)
        XCTAssertEqual(cache.length, 9)
    }

    func testGroupedQueryEqualsMHAWithReplicatedKeyValueWeights() {
        let ctx = AttnKit.context(dim: 12, heads: 4)     // D = 3
        var rng = RNG(seed: 13)
        let x = rng.normal([1, 5, 12])
        for id in ["softmax_attention", "sigmoid_attention"] {
            let gqa = AttnKit.mixer(id, ["kv_heads": .number(2)], context: ctx) as! AttentionMixer
            let mha = AttnKit.mixer(id, context: ctx) as! AttentionMixer
            // q rows [0, 12), k rows [12, 18), v rows [18, 24) in the GQA weight; MHA head h reads KV head h / 2.
            let w = gqa.qkv.weight.value
            let kRows = w.slice(axis: 0, 12..<18).reshaped([2, 1, 3, 12]).expanded(to: [2, 2, 3, 12]).reshaped([12, 12])
            let vRows = w.slice(axis: 0, 18..<24).reshaped([2, 1, 3, 12]).expanded(to: [2, 2, 3, 12]).reshaped([12, 12])
            mha.qkv.weight.assign(Tensor.concat([w.slice(axis: 0, 0..<12), kRows, vRows], axis: 0))
            mha.out.weight.assign(gqa.out.weight.value)
            let pos = AttnKit.positional("rope", context: ctx)
            let a = gqa.forward(x, context: MixerContext(positional: pos), cache: nil)
            let b = mha.forward(x, context: MixerContext(positional: pos), cache: nil)
            XCTAssertLessThan(AttnKit.maxDiff(a, b), 1e-5, id)
        }
    }

    func testL2QKNormBoundsScores() {
        var rng = RNG(seed: 14)
        let norm = QKNorm(.l2, headDim: 8)
        let q = norm(rng.normal([1, 2, 6, 8], std: 20)), k = norm(rng.normal([1, 2, 6, 8], std: 20))
        let scale = 1 / Float(8).squareRoot()
        let scores = q.matmul(k, transposeB: true) * scale
        XCTAssertTrue(scores.scalars.allSatisfy { abs($0) <= scale * (1 + 1e-5) })
        XCTAssertEqual(QKNorm.parameterCount(.rms, headDim: 8), 8)
        XCTAssertEqual(QKNorm(.rms, headDim: 8).parameterCount, 8)
    }

    func testSigmaReparamPowerIterationConvergesToSpectralNorm() {
        var rng = RNG(seed: 15)
        // Noise plus a rank-one spike per segment: like trained weights, σ₁ stands apart from σ₂. (The estimate's
        // error shrinks as (σ₂/σ₁)^(2k); pure Gaussian noise has near-degenerate top values and needs more steps.)
        let a = rng.normal([12, 1]), b = rng.normal([1, 7])
        let w = rng.normal([12, 7]) * 0.5 + a.matmul(b) * 0.6
        // Reference σ_max per row segment: a long power iteration on WᵢᵀWᵢ in double precision.
        func trueSigma(_ rows: Range<Int>) -> Double {
            let a = w.scalars.map(Double.init)
            var v = [Double](repeating: 1, count: 7)
            var sigma = 0.0
            for _ in 0..<2000 {
                var u = [Double](repeating: 0, count: rows.count)
                for (ri, r) in rows.enumerated() { for c in 0..<7 { u[ri] += a[r * 7 + c] * v[c] } }
                var nv = [Double](repeating: 0, count: 7)
                for (ri, r) in rows.enumerated() { for c in 0..<7 { nv[c] += a[r * 7 + c] * u[ri] } }
                let norm = nv.reduce(0) { $0 + $1 * $1 }.squareRoot()
                sigma = norm.squareRoot()   // ‖WᵀW v‖ → σ² for unit v
                v = nv.map { $0 / norm }
            }
            return sigma
        }
        var seedRNG = RNG(seed: 2)
        let one = SigmaReparam(segments: [12], inputs: 7, rng: &seedRNG)
        for _ in 0..<20 { one.powerIterate(w) }
        XCTAssertEqual(Double(one.sigmaEstimates(w)[0]), trueSigma(0..<12), accuracy: 0.01 * trueSigma(0..<12))
        let three = SigmaReparam(segments: [4, 4, 4], inputs: 7, rng: &seedRNG)
        for _ in 0..<20 { three.powerIterate(w) }
        for (i, s) in three.sigmaEstimates(w).enumerated() {
            let ref = trueSigma(4 * i..<4 * i + 4)
            XCTAssertEqual(Double(s), ref, accuracy: 0.01 * ref, "segment \(i)")
        }
        // Ŵ = γ/σ̂·W, so with γ = 1 the reparameterized weight has spectral norm ≈ 1.
        let scaled = one.reparameterized(w)
        XCTAssertEqual(Double(one.sigmaEstimates(scaled)[0]), 1, accuracy: 0.01)
        // Training forwards advance the iteration; evaluation forwards leave u, v alone.
        let m = AttnKit.mixer("softmax_attention", ["sigma_reparam": .bool(true)], context: AttnKit.context()) as! AttentionMixer
        let x = rng.normal([1, 3, 8])
        let ctx = MixerContext(positional: AttnKit.positional("nope", context: AttnKit.context()))
        let u0 = m.outReparam!.u[0].value.scalars
        m.train(false); _ = m.forward(x, context: ctx, cache: nil)
        XCTAssertEqual(m.outReparam!.u[0].value.scalars, u0)
        m.train(true); _ = m.forward(x, context: ctx, cache: nil)
        XCTAssertNotEqual(m.outReparam!.u[0].value.scalars, u0)
    }

    func testClosedGateSilencesItsHead() {
        let ctx = AttnKit.context()
        var rng = RNG(seed: 16)
        let x = rng.normal([1, 4, 8])
        let pos = AttnKit.positional("nope", context: ctx)
        let m = AttnKit.mixer("gated_attention", context: ctx) as! AttentionMixer
        let gate = m.gate!
        XCTAssertEqual(gate.weight.shape, [2, 4])   // per head, from the head's C/H slice
        XCTAssertEqual(gate.bias.value.scalars, [0, 0])   // gate_init 0.5
        gate.bias.assign(Tensor([-1e4, 0], shape: [2]))
        let before = m.forward(x, context: MixerContext(positional: pos), cache: nil)
        // Head 0's values (qkv rows of v head 0: [16, 20)) no longer matter.
        var w = m.qkv.weight.value.scalars
        for i in 16 * 8..<20 * 8 { w[i] += 1 }
        m.qkv.weight.assign(Tensor(w, shape: m.qkv.weight.shape))
        let after = m.forward(x, context: MixerContext(positional: pos), cache: nil)
        XCTAssertLessThan(AttnKit.maxDiff(before, after), 1e-7)
        gate.bias.assign(Tensor([-1e4, -1e4], shape: [2]))
        let closed = m.forward(x, context: MixerContext(positional: pos), cache: nil)
        XCTAssertTrue(closed.scalars.allSatisfy { abs($0) < 1e-12 })
    }

    func testInvalidOptionsAreReported() {
        var issues: [SpecIssue] = []
        _ = Catalog.tokenMixers.resolve(ComponentSpec("power_softmax", ["p": .number(3)]), path: "block.token_mixer", issues: &issues)
        _ = Catalog.tokenMixers.resolve(ComponentSpec("gated_attention", ["gate": .string("none")]), path: "block.token_mixer", issues: &issues)
        _ = Catalog.tokenMixers.resolve(ComponentSpec("softmax_attention", ["qk_norm": .string("rmsnorm")]), path: "block.token_mixer", issues: &issues)
        let text = issues.map { "\($0)" }.joined(separator: "\n")
        XCTAssertTrue(text.contains("block.token_mixer.p"), text)
        XCTAssertTrue(text.contains("block.token_mixer.gate"), text)
        XCTAssertTrue(text.contains("valid: none, rms, layer, l2"), text)
    }

    func testPresetsBuildAndDifferFromTheBaselineInOneComponent() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let baseline = ModelSpec.read(.object([
            "vocab_size": .number(256), "context_length": .number(256), "dim": .number(128), "layers": .number(4),
            "heads": .number(4), "positional": .string("learned_abs_pe"),
            "block": .object(["placement": .string("pre"), "norm": .string("layer_norm"), "token_mixer": .string("softmax_attention"),
                              "channel_mixer": .string("mlp"), "residual": .string("add")]),
        ])).0
        let ids = ["sliding_window_attention", "sigmoid_attention", "clipped_softmax", "gated_attention", "power_softmax",
                   "topk_attention", "gqa", "qk_norm", "sigma_reparam", "rope", "alibi", "sinusoidal", "nope"]
        for id in ids {
            let url = root.appendingPathComponent("configs/catalog/\(id).json")
            let spec = try ModelSpec.parse(Data(contentsOf: url))
            XCTAssertEqual(spec.name, id)
            var other = spec
            other.name = baseline.name
            if id == "sigma_reparam" {
                // σReparam applies to every linear layer (catalog), so its preset also sets it on the MLP.
                XCTAssertEqual(spec.block.channelMixer, ComponentSpec("mlp", ["sigma_reparam": .bool(true)]))
                other.block.channelMixer = baseline.block.channelMixer
            }
            let changed = [other.positional != baseline.positional, other.block.tokenMixer != baseline.block.tokenMixer]
            XCTAssertEqual(changed.filter { $0 }.count, 1, id)
            other.positional = baseline.positional
            other.block.tokenMixer = baseline.block.tokenMixer
            XCTAssertEqual(other, baseline, id)
        }
    }

    func testZLossZeroIsPlainCrossEntropyAndItsGradientMatchesFiniteDifferences() throws {
        var spec = ModelSpec()
        spec.dim = 8; spec.heads = 2; spec.layers = 1; spec.contextLength = 6; spec.vocabSize = 11
        // Embeddings of O(1) (not 0.02), so a finite-difference step is small next to them under the pre-LayerNorm.
        spec.initStd = 0.5
        let ids: [Int32] = [1, 4, 2, 9, 3, 7, 0, 5, 10, 6, 2, 8], targets: [Int32] = [4, 2, 9, 3, 7, 0, 5, 10, 6, 2, 8, 1]
        let plain = try TransformerModel(spec: spec, seed: 4)
        let logits = plain.logits(ids, batch: 2, length: 6).reshaped([12, 11])
        XCTAssertEqual(plain.loss(inputs: ids, targets: targets, batch: 2, length: 6).item,
                       crossEntropy(logits: logits, targets: targets).item)
        spec.zLoss = 0.5
        let z = try TransformerModel(spec: spec, seed: 4)
        let lse = logits.logsumexp(axis: -1).scalars
        let expected = crossEntropy(logits: logits, targets: targets).item + 0.5 * lse.map { $0 * $0 }.reduce(0, +) / 12
        XCTAssertEqual(z.loss(inputs: ids, targets: targets, batch: 2, length: 6).item, expected, accuracy: 1e-5)
        AttnKit.gradCheck("z_loss", module: z, input: Tensor.zeros([1]), probes: 4, checkInput: false) { _ in
            z.loss(inputs: ids, targets: targets, batch: 2, length: 6)
        }
    }
}
