import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

/// The recurrence engine's three forms agree; each recurrent mixer's full, prefill and step paths agree; each
/// mixer's own formula holds (catalog section 3 checks).
final class LinearMixerTests: XCTestCase {
    // MARK: - Engine: reference vs chunked vs step

    /// Random recurrence inputs: keys L2-normalized and β ∈ (0, 1) for the delta rule (so it stays bounded).
    static func inputs(b: Int = 1, h: Int = 2, t: Int, dk: Int = 3, dv: Int = 4, decay: String, delta: Bool,
                       rng: inout RNG) -> RecurrenceInputs {
        let q = rng.normal([b, h, t, dk]) * 0.5
        var k = rng.normal([b, h, t, dk])
        if delta { k = k / (k * k).sum(axis: -1, keepDims: true).sqrt() } else { k = k * 0.5 }
        let v = rng.normal([b, h, t, dv])
        let d: RecurrenceDecay
        switch decay {
        case "scalar": d = .scalar(-rng.uniform([b, h, t], low: 0, high: 0.3))
        case "keyWise": d = .keyWise(-rng.uniform([b, h, t, dk], low: 0, high: 1.5))
        default: d = .none
        }
        return RecurrenceInputs(q: q, k: k, v: v, decay: d, beta: delta ? rng.uniform([b, h, t], low: 0.1, high: 0.9) : nil)
    }

    static func relativeError(_ a: Tensor, _ b: Tensor) -> Float {
        XCTAssertEqual(a.shape, b.shape)
        let x = a.scalars, y = b.scalars
        var diff: Float = 0, scale: Float = 1e-6
        for i in x.indices { diff = max(diff, abs(x[i] - y[i])); scale = max(scale, abs(y[i])) }
        return diff / scale
    }

    func testChunkedStepAndReferenceAgree() {
        var rng = RNG(seed: 1)
        let cases: [(String, Bool)] = [("none", false), ("scalar", false), ("keyWise", false), ("none", true), ("scalar", true)]
        for (decay, delta) in cases {
            for t in [1, 7, 63, 65, 257] {
                let small = t == 257
                let x = Self.inputs(h: small ? 1 : 2, t: t, dk: small ? 2 : 3, dv: small ? 2 : 4, decay: decay, delta: delta, rng: &rng)
                let initial = t == 7 ? rng.normal([1, x.q.shape[1], x.v.shape[3], x.q.shape[3]]) * 0.3 : nil
                let (ref, refState) = LinearRecurrence.reference(x, initial: initial)
                let (stepped, stepState) = withNoGrad { LinearRecurrence.step(x, initial: initial) }
                let label = "\(decay) delta=\(delta) T=\(t)"
                XCTAssertLessThan(Self.relativeError(stepped, ref), 1e-4, "step " + label)
                XCTAssertLessThan(Self.relativeError(stepState, refState), 1e-4, "step state " + label)
                for n in [16, 64] {
                    let (o, s) = withNoGrad { LinearRecurrence.chunked(x, chunk: n, initial: initial) }
                    XCTAssertLessThan(Self.relativeError(o, ref), 1e-4, "chunked N=\(n) " + label)
                    XCTAssertLessThan(Self.relativeError(s, refState), 1e-4, "chunked state N=\(n) " + label)
                }
            }
        }
    }

    func testChunkedFormGradientsMatchFiniteDifferences() {
        for (decay, delta) in [("none", false), ("scalar", false), ("keyWise", false), ("none", true), ("scalar", true)] {
            var rng = RNG(seed: 3)
            let x = Self.inputs(b: 1, h: 1, t: 5, dk: 2, dv: 2, decay: decay, delta: delta, rng: &rng)
            var leaves = [x.q, x.k, x.v]
            switch x.decay {
            case .scalar(let a), .keyWise(let a): leaves.append(a)
            case .none: break
            }
            if let beta = x.beta { leaves.append(beta) }
            LinearGradCheck().check("chunked \(decay) delta=\(delta)", leaves) { p in
                var i = 3
                func next() -> Tensor { defer { i += 1 }; return p[i] }
                let d: RecurrenceDecay
                switch x.decay {
                case .none: d = .none
                case .scalar: d = .scalar(next())
                case .keyWise: d = .keyWise(next())
                }
                let beta = x.beta == nil ? nil : next()
                return LinearRecurrence.chunked(RecurrenceInputs(q: p[0], k: p[1], v: p[2], decay: d, beta: beta), chunk: 2).output
            }
        }
    }

    // MARK: - Mixers: full forward vs cached prefill + steps

    static let mixerIDs = ["linear_attention", "retention", "gla", "deltanet", "gated_deltanet", "mamba2", "mamba", "sla"]

    static func buildMixer(_ id: String, options: [String: JSONValue] = [:], dim: Int = 16, heads: Int = 2,
                           seed: UInt64 = 5) -> any TokenMixer {
        let ctx = BuildContext(dim: dim, heads: heads, headDim: dim / heads, layer: 0, layers: 2, contextLength: 64,
                               causal: true, initStd: 0.3)
        guard let (entry, parsed) = Catalog.tokenMixers.resolve(ComponentSpec(id, options), path: id) else {
            fatalError("\(id) does not resolve")
        }
        var rng = RNG(seed: seed)
        return entry.build(parsed, context: ctx, rng: &rng)
    }

    /// Non-default options that change the code path.
    static let optionCases: [(String, [String: JSONValue])] = [
        ("linear_attention", ["feature_map": .string("relu")]),
        ("linear_attention", ["feature_map": .string("identity"), "normalize": .bool(false)]),
        ("retention", ["value_factor": .number(1)]),
        ("gla", ["key_ratio": .number(1), "gate_rank": .number(3)]),
        ("deltanet", ["conv_kernel": .number(1)]),
        ("gated_deltanet", ["output_gate": .bool(false), "conv_kernel": .number(2)]),
        ("mamba2", ["head_dim": .number(4), "state": .number(5)]),
        ("mamba", ["dt_rank": .number(3), "expand": .number(1)]),
    ]

    func testMixersFullPrefillAndStepAgree() {
        for (id, options) in Self.mixerIDs.map({ ($0, [String: JSONValue]()) }) + Self.optionCases {
            let mixer = Self.buildMixer(id, options: options.merging(["chunk": .number(4)]) { a, _ in a })
            var rng = RNG(seed: 9)
            let x = rng.normal([2, 13, 16])
            let ctx = MixerContext(positional: TestNoPositions())
            let full = withNoGrad { mixer.forward(x, context: ctx, cache: nil) }
            let cache = mixer.makeCache(batch: 2, capacity: 64)
            var pieces: [Tensor] = []
            var sizes: [[Int]] = []
            withNoGrad {
                var start = 0
                for len in [6, 1, 1, 3, 1, 1] {
                    pieces.append(mixer.forward(x.slice(axis: 1, start..<(start + len)), context: ctx, cache: cache))
                    start += len
                    sizes.append(((cache as? RecurrentCache)?.tensors ?? []).flatMap(\.shape))
                }
            }
            let label = "\(id) \(options)"
            XCTAssertEqual(cache.length, 13, label)
            XCTAssertLessThan(Self.relativeError(Tensor.concat(pieces, axis: 1), full), 1e-4, label)
            XCTAssertEqual(Set(sizes).count, 1, "\(label): decoding state size changed with T: \(sizes)")
            XCTAssertTrue(full.scalars.allSatisfy(\.isFinite), label)
        }
    }

    func testMixerInputGradientsMatchFiniteDifferences() {
        for id in Self.mixerIDs {
            let mixer = Self.buildMixer(id, options: ["chunk": .number(2)], dim: 8, heads: 2)
            var rng = RNG(seed: 4)
            let ctx = MixerContext(positional: TestNoPositions())
            LinearGradCheck(tolerance: 1e-2).check(id, [rng.normal([1, 5, 8])]) { mixer.forward($0[0], context: ctx, cache: nil) }
        }
    }

    // MARK: - Formula checks

    /// Linear attention: the chunked associative form equals the explicit quadratic form
    /// O = ((φQ φKᵀ) ⊙ M) V ⊘ ((φQ φKᵀ) ⊙ M) 1 with a causal mask M.
    func testLinearAttentionEqualsQuadraticForm() {
        var rng = RNG(seed: 11)
        let t = 9
        let q = FeatureMap.elu1.apply(rng.normal([1, 2, t, 4])), k = FeatureMap.elu1.apply(rng.normal([1, 2, t, 4]))
        let v = rng.normal([1, 2, t, 3])
        let mask = Tensor((0..<(t * t)).map { $0 % t <= $0 / t ? 1 : 0 }, shape: [t, t])
        let scores = q.matmul(k, transposeB: true) * mask
        let explicit = scores.matmul(v) / scores.sum(axis: -1, keepDims: true)
        let values = Tensor.concat([v, Tensor.ones([1, 2, t, 1])], axis: 3)
        let o = LinearRecurrence.chunked(RecurrenceInputs(q: q, k: k, v: values), chunk: 4).output.split(axis: 3, sizes: [3, 1])
        XCTAssertLessThan(Self.relativeError(o[0] / o[1], explicit), 1e-5)
        XCTAssertEqual(FeatureMap.elu1.apply(Tensor([-1, 0, 2])).scalars, [exp(-1), 1, 3], accuracy: 1e-6)
    }

    /// RetNet: γ_h = 1 − 2^{−5−h}, and the recurrent form equals the parallel form (Q Kᵀ ⊙ D) V, D_nm = γ^{n−m}.
    func testRetentionDecaysAndParallelForm() {
        let logs = Retention.logDecays(heads: 3)
        let expected: [Float] = [1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128]
        XCTAssertEqual(logs.map { exp($0) }, expected, accuracy: 1e-6)
        var rng = RNG(seed: 12)
        let t = 10
        let q = rng.normal([1, 3, t, 4]), k = rng.normal([1, 3, t, 4]), v = rng.normal([1, 3, t, 2])
        var d = [Float](repeating: 0, count: 3 * t * t)
        for h in 0..<3 { for n in 0..<t { for m in 0...n { d[(h * t + n) * t + m] = exp(logs[h] * Float(n - m)) } } }
        let parallel = (q.matmul(k, transposeB: true) * Tensor(d, shape: [1, 3, t, t])).matmul(v)
        let decay = Tensor(logs, shape: [1, 3, 1]).expanded(to: [1, 3, t])
        let o = LinearRecurrence.chunked(RecurrenceInputs(q: q, k: k, v: v, decay: .scalar(decay)), chunk: 4).output
        XCTAssertLessThan(Self.relativeError(o, parallel), 1e-5)
    }

    /// GLA's parallel form o_t = Σ_{s≤t} ((q_t ⊙ b_t)·(k_s ⊘ b_s)) v_s with b_t = Π_{j≤t} α_j (mild decays, so b
    /// does not underflow) equals the chunked form.
    func testGatedLinearAttentionParallelForm() {
        var rng = RNG(seed: 13)
        let t = 8
        let q = rng.normal([1, 1, t, 3]), k = rng.normal([1, 1, t, 3]), v = rng.normal([1, 1, t, 2])
        let logAlpha = -rng.uniform([1, 1, t, 3], low: 0, high: 0.2)
        let bt = logAlpha.cumsum(axis: 2)
        let mask = Tensor((0..<(t * t)).map { $0 % t <= $0 / t ? 1 : 0 }, shape: [t, t])
        let parallel = ((q * bt.exp()).matmul(k * (-bt).exp(), transposeB: true) * mask).matmul(v)
        let o = LinearRecurrence.chunked(RecurrenceInputs(q: q, k: k, v: v, decay: .keyWise(logAlpha)), chunk: 3).output
        XCTAssertLessThan(Self.relativeError(o, parallel), 1e-5)
    }

    /// Delta rule with β = 1 and orthonormal keys stores each value exactly (capacity Dk).
    func testDeltaRuleRecallsExactlyWithOrthonormalKeys() {
        var rng = RNG(seed: 14)
        let dk = 4
        // Write each value twice under the same key: the second write replaces rather than adds.
        let order = [0, 1, 2, 3, 2, 0]
        let keys = Tensor(order.flatMap { i in (0..<dk).map { $0 == i ? Float(1) : 0 } }, shape: [1, 1, order.count, dk])
        let values = rng.normal([1, 1, order.count, 3])
        let x = RecurrenceInputs(q: keys, k: keys, v: values, beta: Tensor.ones([1, 1, order.count]))
        let state = LinearRecurrence.chunked(x, chunk: 4).state                   // [1, 1, 3, Dk]
        let vs = values.scalars
        for key in 0..<dk {
            let last = order.lastIndex(of: key)!
            let recalled = state.slice(axis: 3, key..<(key + 1)).scalars
            XCTAssertEqual(recalled, Array(vs[(last * 3)..<(last * 3 + 3)]), accuracy: 1e-5)
        }
    }

    /// Gated DeltaNet: α ≡ 1 reproduces DeltaNet, and with constant α and β = 0 after t₀ the state decays as α^{t−t₀}.
    func testGatedDeltaRuleSpecialCases() {
        var rng = RNG(seed: 15)
        var x = Self.inputs(t: 11, decay: "none", delta: true, rng: &rng)
        let plain = LinearRecurrence.chunked(x, chunk: 4).output
        x.decay = .scalar(Tensor.zeros([1, 2, 11]))
        XCTAssertLessThan(Self.relativeError(LinearRecurrence.chunked(x, chunk: 4).output, plain), 1e-6)
        let alpha: Float = 0.8, t0 = 4, t = 10
        let beta = Tensor((0..<(2 * t)).map { $0 % t < t0 ? 0.7 : 0 }, shape: [1, 2, t])
        let y = RecurrenceInputs(q: x.q.slice(axis: 2, 0..<t), k: x.k.slice(axis: 2, 0..<t), v: x.v.slice(axis: 2, 0..<t),
                                 decay: .scalar(Tensor(repeating: log(alpha), shape: [1, 2, t])), beta: beta)
        let atT0 = LinearRecurrence.chunked(RecurrenceInputs(q: y.q.slice(axis: 2, 0..<t0), k: y.k.slice(axis: 2, 0..<t0),
                                                              v: y.v.slice(axis: 2, 0..<t0), decay: .scalar(Tensor(repeating: log(alpha), shape: [1, 2, t0])),
                                                              beta: beta.slice(axis: 2, 0..<t0)), chunk: 3).state
        let final = LinearRecurrence.chunked(y, chunk: 3).state
        XCTAssertLessThan(Self.relativeError(final, atT0 * pow(alpha, Float(t - t0))), 1e-5)
    }
    /// Mamba-2: the materialized mixing matrix M_ts = C_tᵀB_s·exp(A Σ_{j=s+1..t} Δ_j)·Δ_s (s ≤ t) applied to x equals
    /// the recurrence with q = C, k = B, v = Δ·x and log-decay Δ·A.
    func testMamba2MixingMatrixEqualsRecurrence() {
        var rng = RNG(seed: 16)
        let (t, n, p) = (9, 3, 2)
        let c = rng.normal([1, 1, t, n]), bm = rng.normal([1, 1, t, n]), x = rng.normal([1, 1, t, p])
        let dt = rng.uniform([1, 1, t], low: 0.05, high: 1), a: Float = -1.3
        let (cs, bs, ds) = (c.scalars, bm.scalars, dt.scalars)
        var m = [Float](repeating: 0, count: t * t)
        for ti in 0..<t {
            for si in 0...ti {
                var dot: Float = 0
                for j in 0..<n { dot += cs[ti * n + j] * bs[si * n + j] }
                let decay = ((si + 1)..<(ti + 1)).reduce(Float(0)) { $0 + ds[$1] }
                m[ti * t + si] = dot * exp(a * decay) * ds[si]
            }
        }
        let explicit = Tensor(m, shape: [1, 1, t, t]).matmul(x)
        let o = LinearRecurrence.chunked(RecurrenceInputs(q: c, k: bm, v: x * dt.reshaped([1, 1, t, 1]),
                                                          decay: .scalar(dt * a)), chunk: 4).output
        XCTAssertLessThan(Self.relativeError(o, explicit), 1e-5)
    }

    /// SLA: the mixer equals W_o(ReLU(Q)ReLU(K)ᵀ-normalized causal attention over V + causal depthwise conv of V),
    /// computed here explicitly from the mixer's own weights.
    func testSimplifiedLinearAttentionEqualsExplicitForm() {
        let mixer = Self.buildMixer("sla", options: ["chunk": .number(3)]) as! SimplifiedLinearAttention
        var rng = RNG(seed: 17)
        let t = 7
        let x = rng.normal([1, t, 16])
        let y = mixer.forward(x, context: MixerContext(positional: TestNoPositions()), cache: nil)
        let p = mixer.qkv(x).split(axis: 2, sizes: [16, 16, 16])
        var heads: [Tensor] = []
        let mask = Tensor((0..<(t * t)).map { $0 % t <= $0 / t ? 1 : 0 }, shape: [t, t])
        for h in 0..<2 {
            let q = p[0].slice(axis: 2, (h * 8)..<(h * 8 + 8)).relu(), k = p[1].slice(axis: 2, (h * 8)..<(h * 8 + 8)).relu()
            let scores = q.matmul(k, transposeB: true) * mask
            heads.append(scores.matmul(p[2].slice(axis: 2, (h * 8)..<(h * 8 + 8))) / (scores.sum(axis: -1, keepDims: true) + 1e-6))
        }
        let w = mixer.conv.weight.value.scalars, bias = mixer.conv.bias!.value.scalars, v = p[2].scalars
        var conv = [Float](repeating: 0, count: t * 16)
        for ti in 0..<t {
            for ch in 0..<16 {
                var acc = bias[ch]
                for i in 0..<4 where ti - 3 + i >= 0 { acc += w[i * 16 + ch] * v[(ti - 3 + i) * 16 + ch] }
                conv[ti * 16 + ch] = acc
            }
        }
        let explicit = mixer.out(Tensor.concat(heads, axis: 2) + Tensor(conv, shape: [1, t, 16]))
        XCTAssertLessThan(Self.relativeError(y, explicit), 1e-5)
    }

    /// Mamba: S4D-real initialization A_n = −(n+1), and an LTI-style check that a zero input leaves the output zero
    /// while the decode state stays [B, inner, 1, S] whatever the length.
    func testMambaInitializationAndStateShape() {
        let mixer = Self.buildMixer("mamba", options: ["state": .number(4)]) as! Mamba
        XCTAssertEqual(Array(mixer.aLog.value.exp().scalars.prefix(4)), [1, 2, 3, 4], accuracy: 1e-5)
        let cache = mixer.makeCache(batch: 1, capacity: 64) as! RecurrentCache
        let y = withNoGrad { mixer.forward(Tensor.zeros([1, 20, 16]), context: MixerContext(positional: TestNoPositions()), cache: cache) }
        XCTAssertEqual(y.scalars.map(abs).max()!, 0, accuracy: 1e-7)
        XCTAssertEqual(cache.state?.shape, [1, 32, 1, 4])
        XCTAssertEqual(cache.convTails["u"]?.shape, [1, 3, 32])
    }

    /// Encoders: linear attention uses the bidirectional form O = φ(Q)(φ(K)ᵀV) ⊘ φ(Q)(φ(K)ᵀ1); a padded key
    /// (additive mask −1e9) contributes nothing.
    func testLinearAttentionBidirectionalFormMasksPadding() {
        var rng = RNG(seed: 18)
        let q = FeatureMap.elu1.apply(rng.normal([1, 1, 5, 3])), k = FeatureMap.elu1.apply(rng.normal([1, 1, 5, 3]))
        let v = rng.normal([1, 1, 5, 2])
        let padding = Tensor([0, 0, 0, 0, -1e9], shape: [1, 1, 1, 5])
        let o = bidirectionalLinearAttention(q: q, k: k, v: v, normalize: true, keyPadding: padding)
        let kk = k.slice(axis: 2, 0..<4), vv = v.slice(axis: 2, 0..<4)
        let scores = q.matmul(kk, transposeB: true)
        XCTAssertLessThan(Self.relativeError(o, scores.matmul(vv) / scores.sum(axis: -1, keepDims: true)), 1e-5)
    }
    /// Mamba's selective scan equals the engine's reference with each channel as a head (Dv = 1, Dk = S, key-wise
    /// decay Δ_t[d]·A[d, n]), including a carried initial state, for chunk lengths 16 and 64; and its gradients
    /// match finite differences.
    func testSelectiveScanMatchesReference() {
        var rng = RNG(seed: 19)
        for t in [1, 7, 65] {
            let (b, d, s) = (2, 3, 4)
            let u = rng.normal([b, t, d]), delta = rng.uniform([b, t, d], low: 0.01, high: 2)
            let a = -rng.uniform([d, s], low: 0.5, high: 8), bm = rng.normal([b, t, s]), cm = rng.normal([b, t, s])
            let initial = rng.normal([b, d, s])
            let heads = delta.permuted([0, 2, 1]).reshaped([b, d, t, 1])
            let x = RecurrenceInputs(q: cm.reshaped([b, 1, t, s]).expanded(to: [b, d, t, s]),
                                     k: bm.reshaped([b, 1, t, s]).expanded(to: [b, d, t, s]),
                                     v: u.permuted([0, 2, 1]).reshaped([b, d, t, 1]) * heads,
                                     decay: .keyWise(heads * a.reshaped([1, d, 1, s])))
            let (ref, refState) = LinearRecurrence.reference(x, initial: initial.reshaped([b, d, 1, s]))
            for n in [16, 64] {
                let (y, state) = selectiveScan(u: u, delta: delta, a: a, b: bm, c: cm, chunk: n, initial: initial)
                XCTAssertLessThan(Self.relativeError(y, ref.reshaped([b, d, t]).permuted([0, 2, 1])), 1e-4, "T=\(t) N=\(n)")
                XCTAssertLessThan(Self.relativeError(state, refState.reshaped([b, d, s])), 1e-4, "state T=\(t) N=\(n)")
            }
        }
        var g = RNG(seed: 20)
        let inputs = [g.normal([1, 5, 2]), g.uniform([1, 5, 2], low: 0.1, high: 1), -g.uniform([2, 3], low: 0.5, high: 2),
                      g.normal([1, 5, 3]), g.normal([1, 5, 3])]
        LinearGradCheck().check("selectiveScan", inputs) { p in
            selectiveScan(u: p[0], delta: p[1], a: p[2], b: p[3], c: p[4], chunk: 2).output
        }
    }

    // MARK: - Models and presets

    /// Every mixer inside a decoder: the parameter formula matches, a training loss backpropagates into the mixer,
    /// and decoding through the model's state (prefill then steps) reproduces the full-sequence logits.
    func testMixersInsideModelsTrainAndDecode() throws {
        for (id, options) in Self.mixerIDs.map({ ($0, [String: JSONValue]()) }) + Self.optionCases {
            var spec = ModelSpec()
            spec.dim = 16; spec.heads = 2; spec.layers = 2; spec.contextLength = 32
            spec.block.tokenMixer = ComponentSpec(id, options.merging(["chunk": .number(4)]) { a, _ in a })
            let model = try TransformerModel(spec: spec, seed: 2)
            XCTAssertEqual(model.parameterCount, spec.expectedParameterCount, id)
            let ids = (0..<20).map { Int32($0 * 37 % 256) }
            let loss = model.loss(inputs: ids, targets: ids.map { ($0 + 1) % 256 }, batch: 2, length: 10)
            XCTAssertTrue(loss.item.isFinite, id)
            loss.backward()
            XCTAssertTrue(model.blocks[0].mixer.parameters().allSatisfy { $0.grad != nil }, "\(id): a mixer parameter got no gradient")
            let full = withNoGrad { model.logits(ids, batch: 1, length: 20) }
            let state = model.makeDecodeState(batch: 1)
            var pieces = [withNoGrad { model.logits(Array(ids[0..<7]), batch: 1, length: 7, state: state) }]
            for i in 7..<20 { pieces.append(withNoGrad { model.logits([ids[i]], batch: 1, length: 1, state: state) }) }
            XCTAssertLessThan(Self.relativeError(Tensor.concat(pieces, axis: 1), full), 1e-4, id)
        }
    }

    /// The presets parse and are the baseline changed in the token mixer only.
    func testPresetsParse() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let baseline = try ModelSpec.parse(Data("""
            {"name": "baseline", "vocab_size": 256, "context_length": 256, "dim": 128, "layers": 4, "heads": 4,
             "positional": "learned_abs_pe", "block": {"placement": "pre", "norm": "layer_norm",
             "token_mixer": "softmax_attention", "channel_mixer": "mlp", "residual": "add"}}
            """.utf8))
        for id in Self.mixerIDs {
            let url = root.appendingPathComponent("configs/catalog/\(id).json")
            var spec = try ModelSpec.parse(Data(contentsOf: url), file: url.path)
            XCTAssertEqual(spec.name, id)
            XCTAssertEqual(spec.block.tokenMixer.id, id)
            spec.name = baseline.name
            spec.block.tokenMixer = baseline.block.tokenMixer
            // A Mamba block is the mixer alone (Gu & Dao, 2023: the gated MLP is merged into the block), so its
            // preset has no channel sublayer; every other preset changes the token mixer only.
            if id == "mamba" {
                XCTAssertEqual(spec.block.channelMixer.id, "none", "a Mamba block has no MLP")
                spec.block.channelMixer = baseline.block.channelMixer
            }
            XCTAssertEqual(spec, baseline, id)
        }
        for name in ["gla_softmax", "gated_deltanet_softmax", "mamba2_softmax"] {
            let url = root.appendingPathComponent("configs/hybrids/\(name).json")
            let spec = try ModelSpec.parse(Data(contentsOf: url), file: url.path)
            XCTAssertTrue((0..<spec.layers).contains { spec.block(at: $0).tokenMixer.id == "softmax_attention" }, name)
        }
    }
}

/// A positional scheme that does nothing (recurrent mixers ignore positions).
final class TestNoPositions: Module, PositionalScheme {}

/// Central-difference gradient check (the pattern of Tests/StrataCoreTests/GradCheck.swift): L = Σ f(x) ∘ R.
private struct LinearGradCheck {
    var eps: Float = 1e-2
    var tolerance: Float = 5e-3
    var maxProbes = 16

    func check(_ name: String, _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line,
               _ f: ([Tensor]) -> Tensor) {
        var rng = RNG(seed: 7)
        let leaves = inputs.map { $0.requiringGrad() }
        let out = f(leaves)
        let r = rng.normal(out.shape)
        out.backward(r)
        for (which, input) in inputs.enumerated() {
            guard let analytic = leaves[which].grad?.scalars else {
                XCTFail("\(name): input \(which) received no gradient", file: file, line: line); continue
            }
            let probes = input.count <= maxProbes ? Array(0..<input.count)
                : (0..<maxProbes).map { _ in Int(rng.next() % UInt64(input.count)) }
            for i in probes {
                func value(_ delta: Float) -> Double {
                    var moved = inputs, values = inputs[which].scalars
                    values[i] += delta
                    moved[which] = Tensor(values, shape: input.shape)
                    let y = withNoGrad { f(moved) }.scalars, w = r.scalars
                    return zip(y, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                }
                let numeric = Float((value(eps) - value(-eps)) / Double(2 * eps))
                let err = abs(numeric - analytic[i]) / max(1, abs(numeric), abs(analytic[i]))
                if !(err <= tolerance) {
                    XCTFail("\(name): d/dx\(which)[\(i)] analytic \(analytic[i]) vs numeric \(numeric)", file: file, line: line)
                    break
                }
            }
        }
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) where abs(x - y) > accuracy {
        XCTFail("\(a) != \(b) (±\(accuracy))", file: file, line: line); return
    }
}
