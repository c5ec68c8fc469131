import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

// MARK: - Shared fixtures of the variant tests (norms, channel mixers, residuals)

/// Central-difference gradient check of L = Σ f(inputs) ∘ R (R fixed, random) with respect to the inputs
/// and to sampled entries of module parameters (perturbed in place, then restored). The same pattern as
/// Tests/StrataCoreTests/GradCheck.swift, extended to parameters.
struct VariantGradCheck {
    var eps: Float = 1e-2
    var tolerance: Float = 2e-2
    /// Errors are relative to max(floor, |numeric|, |analytic|), so tiny gradients are compared absolutely.
    var floor: Float = 0.05
    var maxProbes = 10

    func check(_ name: String, parameters: [(String, Parameter)], inputs: [Tensor] = [], seed: UInt64 = 11,
               file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) -> Tensor) {
        var rng = RNG(seed: seed)
        for (_, p) in parameters { p.zeroGrad() }
        let leaves = inputs.map { $0.requiringGrad() }
        let out = f(leaves)
        let r = rng.normal(out.shape)
        out.backward(r)
        func loss(_ xs: [Tensor]) -> Double {
            let y = withNoGrad { f(xs) }.scalars, w = r.scalars
            var s = 0.0
            for j in 0..<y.count { s += Double(y[j]) * Double(w[j]) }
            return s
        }
        func probes(_ count: Int) -> [Int] {
            count <= maxProbes ? Array(0..<count) : (0..<maxProbes).map { _ in Int(rng.next() % UInt64(count)) }
        }
        func compare(_ label: String, _ i: Int, _ analytic: Float, _ numeric: Float) -> Bool {
            let err = abs(numeric - analytic) / max(floor, abs(numeric), abs(analytic))
            if !(err <= tolerance) {
                XCTFail("\(name): d/d\(label)[\(i)] analytic \(analytic) vs numeric \(numeric)", file: file, line: line)
                return false
            }
            return true
        }
        for (k, input) in inputs.enumerated() {
            let ga = leaves[k].grad?.scalars ?? [Float](repeating: 0, count: input.count)
            for i in probes(input.count) {
                func moved(_ d: Float) -> [Tensor] {
                    var xs = inputs, v = input.scalars
                    v[i] += d
                    xs[k] = Tensor(v, shape: input.shape)
                    return xs
                }
                let numeric = Float((loss(moved(eps)) - loss(moved(-eps))) / Double(2 * eps))
                if !compare("input\(k)", i, ga[i], numeric) { break }
            }
        }
        for (pname, p) in parameters {
            let ga = p.grad?.scalars ?? [Float](repeating: 0, count: p.value.count)
            for i in probes(p.value.count) {
                func shifted(_ d: Float) -> Double {
                    p.value.withUnsafeMutablePointer { $0[i] += d }
                    defer { p.value.withUnsafeMutablePointer { $0[i] -= d } }
                    return loss(inputs)
                }
                let numeric = Float((shifted(eps) - shifted(-eps)) / Double(2 * eps))
                if !compare(pname, i, ga[i], numeric) { break }
            }
        }
    }
}

/// Builders shared by the variant tests.
enum VariantFixtures {
    /// A small build context: C = 8, H = 2, D = 4, layer `layer` of 3.
    static func context(dim: Int = 8, heads: Int = 2, layer: Int = 0, causal: Bool = true) -> BuildContext {
        BuildContext(dim: dim, heads: heads, headDim: dim / heads, layer: layer, layers: 3, contextLength: 16,
                     causal: causal, initStd: 0.3)
    }

    /// Builds `type` from JSON options (which must be valid).
    static func build<C: Component>(_ type: C.Type, _ json: [String: JSONValue] = [:], context: BuildContext = context(),
                                    seed: UInt64 = 1) -> C {
        var reader = OptionReader(json, path: C.info.id)
        let options = C.Options(&reader)
        reader.finish()
        precondition(reader.issues.isEmpty, "\(reader.issues)")
        var rng = RNG(seed: seed)
        return C(options: options, context: context, rng: &rng)
    }

    /// A mixer context without positions.
    static func mixerContext(probes: ProbeRecorder? = nil, layer: Int = 0) -> MixerContext {
        MixerContext(positional: build(NoPositions.self), probes: probes, layer: layer)
    }

    /// A tiny decoder spec (V 16, C 8, H 2, T ≤ 8) with the given block settings.
    static func spec(norm: ComponentSpec = "layer_norm", channel: ComponentSpec = "mlp", residual: ComponentSpec = "add",
                     mixer: ComponentSpec = "softmax_attention", placement: NormPlacement = .pre,
                     layout: BlockLayout = .sequential, layers: Int = 2) -> ModelSpec {
        var s = ModelSpec()
        s.vocabSize = 16; s.contextLength = 8; s.dim = 8; s.heads = 2; s.layers = layers; s.initStd = 0.2
        s.block.norm = norm; s.block.channelMixer = channel; s.block.residual = residual; s.block.tokenMixer = mixer
        s.block.placement = placement; s.block.layout = layout
        return s
    }

    /// Deterministic token ids in 0..<16.
    static func ids(_ count: Int, seed: UInt64 = 5) -> [Int32] {
        var rng = RNG(seed: seed)
        return (0..<count).map { _ in Int32(rng.next() % 16) }
    }

    /// Builds the spec, checks the parameter formula, a finite loss with gradients, the gradient of a few
    /// parameter entries against finite differences, and cached decoding against the full forward.
    static func checkModel(_ spec: ModelSpec, decode: Bool = true, gradientFilter: (String) -> Bool = { _ in true },
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try TransformerModel(spec: spec, seed: 3)
        XCTAssertEqual(model.parameterCount, spec.expectedParameterCount, "parameter formula", file: file, line: line)
        let (b, t) = (2, 6)
        let input = ids(b * t)
        let loss = model.loss(inputs: input, targets: input.map { ($0 + 1) % 16 }, batch: b, length: t)
        XCTAssertTrue(loss.item.isFinite, "loss \(loss.item)", file: file, line: line)
        let chosen = model.namedParameters().filter { gradientFilter($0.0) && $0.1.role != .other }
        var check = VariantGradCheck()
        check.maxProbes = 3
        check.check("\(spec.block)", parameters: chosen, file: file, line: line) { _ in
            model.logits(input, batch: b, length: t)
        }
        guard decode else { return }
        model.train(false)
        let full = withNoGrad { model.logits(input, batch: b, length: t) }.scalars
        let state = model.makeDecodeState(batch: b)
        var steps: [Tensor] = []
        for (start, n) in [(0, 2), (2, 1), (3, 3)] {                 // a prefill chunk, then steps and a chunk
            let chunk = (0..<b).flatMap { row in input[(row * t + start)..<(row * t + start + n)] }
            steps.append(withNoGrad { model.logits(Array(chunk), batch: b, length: n, state: state) })
        }
        let cached = Tensor.concat(steps, axis: 1).scalars
        let diff = zip(full, cached).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(diff, 1e-4, "cached decoding differs from the full forward", file: file, line: line)
    }
}

/// Largest absolute difference between two tensors of the same shape.
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) vs \(b.shape)")
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

// MARK: - Norm variants

final class NormVariantTests: XCTestCase {
    let c = 8

    func input(_ shape: [Int] = [2, 3, 8], seed: UInt64 = 2, scale: Float = 1) -> Tensor {
        var rng = RNG(seed: seed)
        return rng.normal(shape, std: scale)
    }

    func randomize(_ p: Parameter, seed: UInt64, mean: Float = 0, std: Float = 0.5) {
        var rng = RNG(seed: seed)
        p.assign(rng.normal(p.shape, mean: mean, std: std))
    }

    func testDyTIsGainTimesTanhPlusShift() {
        let n = VariantFixtures.build(DynamicTanh.self)
        XCTAssertEqual(n.alpha.value.item, 0.5)
        randomize(n.weight, seed: 3, mean: 1); randomize(n.bias, seed: 4)
        let x = input()
        let y = n.normalize(x, site: .mixerInput, scratch: BlockScratch())
        let (xs, ys, g, b) = (x.scalars, y.scalars, n.weight.value.scalars, n.bias.value.scalars)
        for i in 0..<xs.count {
            XCTAssertEqual(ys[i], g[i % c] * Foundation.tanh(0.5 * xs[i]) + b[i % c], accuracy: 1e-5)
        }
        VariantGradCheck().check("dyt", parameters: n.namedParameters(), inputs: [x]) {
            n.normalize($0[0], site: .mixerInput, scratch: BlockScratch())
        }
    }

    func testSingleScaleRMSNormUsesOneScalarGain() {
        let n = VariantFixtures.build(SingleScaleRMSNorm.self)
        XCTAssertEqual(n.parameterCount, 1)
        n.scale.assign(Tensor([1.7], shape: [1]))
        let x = input()
        let expected = x.rmsNorm(weight: Tensor(repeating: 1.7, shape: [c]), eps: 1e-5)
        XCTAssertLessThan(maxAbsDifference(n.normalize(x, site: .final, scratch: BlockScratch()), expected), 1e-5)
        VariantGradCheck().check("ss_rms_norm", parameters: n.namedParameters(), inputs: [x]) {
            n.normalize($0[0], site: .final, scratch: BlockScratch())
        }
    }

    func testSeeDNormStartsAsRMSNormAndKeepsScaleInformation() {
        let n = VariantFixtures.build(SeeDNormLayer.self)
        randomize(n.weight, seed: 5, mean: 1)
        let x = input()
        let rms = x.rmsNorm(weight: n.weight.value, eps: 1e-5)
        XCTAssertEqual(maxAbsDifference(n.normalize(x, site: .mixerInput, scratch: BlockScratch()), rms), 0,
                       "α = 0 must be exactly RMSNorm")
        randomize(n.alpha, seed: 6)
        let y1 = n.normalize(x, site: .mixerInput, scratch: BlockScratch())
        let y2 = n.normalize(x * 2, site: .mixerInput, scratch: BlockScratch())
        XCTAssertGreaterThan(maxAbsDifference(y1, y2), 1e-3, "SeeDNorm(2x) must differ from SeeDNorm(x) once α ≠ 0")
        // By hand: [tanh(x·β)·α + γ] ⊙ x/RMS(x).
        let (xs, a, b, g) = (x.scalars, n.alpha.value.scalars, n.beta.value.scalars, n.weight.value.scalars)
        let ys = y1.scalars
        for row in 0..<(xs.count / c) {
            let v = Array(xs[(row * c)..<(row * c + c)])
            let dot = zip(v, b).map(*).reduce(0, +)
            let r = (v.map { $0 * $0 }.reduce(0, +) / Float(c) + 1e-5).squareRoot()
            for j in 0..<c {
                XCTAssertEqual(ys[row * c + j], (Foundation.tanh(dot) * a[j] + g[j]) * v[j] / r, accuracy: 1e-5)
            }
        }
        VariantGradCheck().check("seed_norm", parameters: n.namedParameters(), inputs: [x]) {
            n.normalize($0[0], site: .mixerInput, scratch: BlockScratch())
        }
    }

    func testLayerNormScalingDividesByRootOfLayerIndex() {
        let x = input()
        for (layer, factor) in [(3, Float(0.5)), (0, 1), (-1, 1)] {
            let ln = VariantFixtures.build(LayerNormScaling.self, context: VariantFixtures.context(layer: layer))
            randomize(ln.weight, seed: 7, mean: 1); randomize(ln.bias!, seed: 8)
            let base = x.layerNorm(weight: ln.weight.value, bias: ln.bias!.value, eps: 1e-5)
            XCTAssertLessThan(maxAbsDifference(ln.normalize(x, site: .channelInput, scratch: BlockScratch()), base * factor), 1e-6)
        }
        let rms = VariantFixtures.build(LayerNormScaling.self, ["base": .string("rms_norm")],
                                        context: VariantFixtures.context(layer: 8))
        XCTAssertEqual(rms.parameterCount, c)
        let expected = x.rmsNorm(weight: rms.weight.value, eps: 1e-5) / 3
        XCTAssertLessThan(maxAbsDifference(rms.normalize(x, site: .mixerInput, scratch: BlockScratch()), expected), 1e-6)
        let ln = VariantFixtures.build(LayerNormScaling.self, context: VariantFixtures.context(layer: 2))
        VariantGradCheck().check("layer_norm_scaling", parameters: ln.namedParameters(), inputs: [x]) {
            ln.normalize($0[0], site: .mixerInput, scratch: BlockScratch())
        }
    }

    func testBatchNormTrainingStatisticsRunningEstimatesAndEvalMode() throws {
        let bn = VariantFixtures.build(BatchNormLayer.self)
        let x = input([4, 5, 8], scale: 2) + 3
        let y = bn.normalize(x, site: .mixerInput, scratch: BlockScratch()).reshaped([20, c])
        let mean = y.mean(axis: 0).scalars, variance = y.variance(axis: 0).scalars
        for j in 0..<c {
            XCTAssertEqual(mean[j], 0, accuracy: 1e-5)
            XCTAssertEqual(variance[j], 1, accuracy: 1e-3)
        }
        // One update with momentum 0.1 from (0, 1).
        let rows = x.reshaped([20, c])
        let batchMean = rows.mean(axis: 0), unbiased = rows.variance(axis: 0, correction: 1)
        XCTAssertLessThan(maxAbsDifference(bn.runningMean.value, batchMean * 0.1), 1e-5)
        XCTAssertLessThan(maxAbsDifference(bn.runningVariance.value, unbiased * 0.1 + 0.9), 1e-4)
        // Evaluation: the fixed affine map of the running estimates; no update.
        bn.train(false)
        let before = bn.runningMean.value.scalars
        let e = bn.normalize(x, site: .mixerInput, scratch: BlockScratch())
        let expected = (x - bn.runningMean.value) / (bn.runningVariance.value + 1e-5).sqrt()
        XCTAssertLessThan(maxAbsDifference(e, expected), 1e-5)
        XCTAssertEqual(bn.runningMean.value.scalars, before)
        // Running statistics are saved, restored, and receive no gradient.
        let saved = Dictionary(uniqueKeysWithValues: bn.stateDict().map { ($0.0, $0.1.copy()) })
        XCTAssertEqual(Set(saved.keys), ["weight", "bias", "runningMean", "runningVariance"])
        let other = VariantFixtures.build(BatchNormLayer.self)
        other.train(false)
        try other.load(stateDict: saved)
        XCTAssertEqual(other.normalize(x, site: .final, scratch: BlockScratch()).scalars, e.scalars)
        bn.train(true)
        bn.normalize(x.requiringGrad(), site: .final, scratch: BlockScratch()).sum().backward()
        XCTAssertNil(bn.runningMean.grad)
        XCTAssertNil(bn.runningVariance.grad)
        XCTAssertNotNil(bn.weight.grad)
        let trainable = bn.namedParameters().filter { $0.1.role != .other }
        VariantGradCheck().check("batch_norm", parameters: trainable, inputs: [x]) {
            bn.normalize($0[0], site: .mixerInput, scratch: BlockScratch())
        }
    }

    func testBatchNormFoldsIntoTheFollowingLinear() {
        let bn = VariantFixtures.build(BatchNormLayer.self)
        randomize(bn.weight, seed: 9, mean: 1); randomize(bn.bias, seed: 10)
        randomize(bn.runningMean, seed: 11)
        var rng = RNG(seed: 12)
        bn.runningVariance.assign(rng.uniform([c], low: 0.3, high: 3))
        bn.train(false)
        for bias in [true, false] {
            let linear = Linear(c, 5, bias: bias, rng: &rng)
            let x = input([3, 4, 8], seed: 13)
            let unfolded = linear(bn.normalize(x, site: .channelInput, scratch: BlockScratch()))
            let folded = bn.folded(into: linear)(x)
            XCTAssertLessThan(maxAbsDifference(folded, unfolded), 1e-5)
        }
    }

    func testBHyTFirstNormIsBoundedTanhOfTheRMSNormalizedInput() {
        let n = VariantFixtures.build(BoundedHyperbolicTanh.self, ["lambda_init": .number(3)])
        randomize(n.weight, seed: 14, mean: 1)
        let x = input(scale: 4)
        let y = n.normalize(x, site: .mixerInput, scratch: BlockScratch())
        let expected = (x.rmsNorm(weight: nil, eps: 1e-6) * 0.3).tanh() * n.weight.value
        XCTAssertLessThan(maxAbsDifference(y, expected), 1e-5)
        XCTAssertLessThanOrEqual(y.abs().max(axis: 2).scalars.max()!, n.weight.value.abs().scalars.max()!)
        VariantGradCheck().check("bhyt", parameters: n.namedParameters(), inputs: [x]) {
            n.normalize($0[0], site: .mixerInput, scratch: BlockScratch())
        }
    }

    /// v̂ = v + ‖W_O E W_V‖_F²·λ₁²/(κ²·C·n_t) with n_t the keys query t sees, recomputed in Double by loops.
    func testBHyTSecondNormUsesTheAttentionVarianceEstimate() {
        let ctx = VariantFixtures.context()
        for kvHeads in [2, 1] {
            let attention = VariantFixtures.build(SoftmaxAttention.self, ["kv_heads": .number(Double(kvHeads))],
                                                  context: ctx, seed: 20)
            // Large attention weights make the estimate comparable to v, so its gradient is well above noise.
            attention.qkv.weight.assign(attention.qkv.weight.value * 3)
            attention.out.weight.assign(attention.out.weight.value * 4)
            let first = VariantFixtures.build(BoundedHyperbolicTanh.self, ["lambda_init": .number(2.5)])
            let second = VariantFixtures.build(BoundedHyperbolicTanh.self, ["lambda_init": .number(4)])
            let (x, h) = (input(seed: 21), input(seed: 22, scale: 1.5))
            let offset = 3
            let scratch = BlockScratch(tokenMixer: attention, offset: offset)
            _ = first.normalize(x, site: .mixerInput, scratch: scratch)
            let y = second.normalize(h, site: .channelInput, scratch: scratch)
            // ‖W_O E W_V‖_F² by loops: M[i, j] = Σ_{head, d} W_O[i, head·D + d] · W_V[kv(head)·D + d, j].
            let (heads, d) = (2, 4)
            let w = attention.qkv.weight.value.scalars, o = attention.out.weight.value.scalars
            var frobenius = 0.0
            for i in 0..<c {
                for j in 0..<c {
                    var m = 0.0
                    for head in 0..<heads {
                        let kv = head / (heads / kvHeads)
                        for e in 0..<d {
                            let vRow = (heads + kvHeads) * d + kv * d + e
                            m += Double(o[i * heads * d + head * d + e]) * Double(w[vRow * c + j])
                        }
                    }
                    frobenius += m * m
                }
            }
            let (xs, hs, ys) = (x.scalars, h.scalars, y.scalars)
            for row in 0..<6 {
                let t = row % 3
                let v = (0..<c).map { Double(xs[row * c + $0]) * Double(xs[row * c + $0]) }.reduce(0, +) / Double(c)
                let vHat = v + frobenius * 2.5 * 2.5 / (100 * Double(c) * Double(offset + t + 1))
                for j in 0..<c {
                    let z = 4 * Double(hs[row * c + j]) / (10 * (vHat + 1e-6).squareRoot())
                    XCTAssertEqual(Double(ys[row * c + j]), Foundation.tanh(z), accuracy: 1e-5)
                }
            }
            // v̂ is differentiable in the attention weights and in λ₁ (the second norm reads them only through it).
            var check = VariantGradCheck()
            check.maxProbes = 40
            check.floor = 1e-2
            let weights = [("qkv", attention.qkv.weight), ("out", attention.out.weight), ("lambda1", first.lambda!)]
            check.check("bhyt v̂", parameters: weights + second.namedParameters(), inputs: [x, h]) {
                let s = BlockScratch(tokenMixer: attention, offset: offset)
                _ = first.normalize($0[0], site: .mixerInput, scratch: s)
                return second.normalize($0[1], site: .channelInput, scratch: s)
            }
        }
    }

    func testBHyTFallsBackToExactStatistics() {
        let first = VariantFixtures.build(BoundedHyperbolicTanh.self)
        let second = VariantFixtures.build(BoundedHyperbolicTanh.self)
        let star = VariantFixtures.build(BoundedHyperbolicTanh.self, ["variant": .string("star")])
        let attention = VariantFixtures.build(SoftmaxAttention.self)
        let (x, h) = (input(seed: 23), input(seed: 24, scale: 3))
        let exact = star.normalize(h, site: .channelInput, scratch: BlockScratch())
        // No softmax attention in the block.
        var scratch = BlockScratch()
        _ = first.normalize(x, site: .mixerInput, scratch: scratch)
        XCTAssertEqual(second.normalize(h, site: .channelInput, scratch: scratch).scalars, exact.scalars)
        // Peri placement: the output-site norm discards the stored statistics.
        scratch = BlockScratch(tokenMixer: attention)
        _ = first.normalize(x, site: .mixerInput, scratch: scratch)
        _ = first.normalize(h, site: .mixerOutput, scratch: scratch)
        XCTAssertEqual(second.normalize(h, site: .channelInput, scratch: scratch).scalars, exact.scalars)
        // Parallel block: both norms read the same stream, so the stored statistics are exact.
        scratch = BlockScratch(tokenMixer: attention)
        _ = first.normalize(h, site: .mixerInput, scratch: scratch)
        XCTAssertLessThan(maxAbsDifference(second.normalize(h, site: .channelInput, scratch: scratch), exact), 1e-6)
        // The star variant never stores statistics.
        scratch = BlockScratch(tokenMixer: attention)
        _ = star.normalize(x, site: .mixerInput, scratch: scratch)
        XCTAssertTrue(scratch.tensors.isEmpty)
    }

    func testBHyTModelGradientsAndCachedDecoding() throws {
        // The estimate's gradient reaches the attention weights and λ through v̂. Large weights and κ = λ make
        // the attention term comparable to v, so a wrong key count or a detached c_attn would show.
        var spec = VariantFixtures.spec(norm: ComponentSpec("bhyt", ["kappa": .number(2)]))
        spec.initStd = 0.5
        try VariantFixtures.checkModel(spec, gradientFilter: { $0.hasPrefix("blocks.1.") && !$0.contains("channel.") })
        try VariantFixtures.checkModel(VariantFixtures.spec(norm: ComponentSpec("bhyt", ["learnable_lambda": .bool(false)]),
                                                            layout: .macaron), gradientFilter: { $0.hasPrefix("blocks.0.") })
    }

    func testEveryNormBuildsTrainsAndDecodesInATinyModel() throws {
        for id in ["dyt", "seed_norm", "ss_rms_norm", "layer_norm_scaling"] {
            for placement in [NormPlacement.pre, .peri, .post] where LayerNormScaling.placementProblem(placement) == nil
                || id != "layer_norm_scaling" {
                try VariantFixtures.checkModel(VariantFixtures.spec(norm: ComponentSpec(id), placement: placement),
                                               gradientFilter: { $0.hasPrefix("blocks.1.mixerSite") || $0.hasPrefix("finalNorm") })
            }
        }
        // BatchNorm mixes positions in training (the catalog's caveat), so decoding is checked in eval mode
        // only, inside checkModel, after the training-mode gradient check.
        try VariantFixtures.checkModel(VariantFixtures.spec(norm: "batch_norm"),
                                       gradientFilter: { $0.hasPrefix("blocks.0.mixerSite") })
    }
}

/// The presets of this helper's ids: each is the baseline with one component changed, and builds.
final class VariantPresetTests: XCTestCase {
    func testPresetsDifferFromTheBaselineInOneComponentAndBuild() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let slots: [(String, [String])] = [
            ("norm", ["dyt", "bhyt", "seed_norm", "ss_rms_norm", "batch_norm", "layer_norm_scaling"]),
            ("channel_mixer", ["swiglu", "glu", "poly_relu", "poly_norm", "hourglass_ffn", "topk_ffn"]),
            ("residual", ["layer_scale", "gtrxl_gate"]),
        ]
        for (slot, ids) in slots {
            for id in ids {
                let file = root.appendingPathComponent("configs/catalog/\(id).json")
                let spec = try ModelSpec.parse(Data(contentsOf: file), file: file.path)
                var baseline = ModelSpec()
                baseline.name = id; baseline.vocabSize = 256; baseline.contextLength = 256; baseline.dim = 128
                baseline.layers = 4; baseline.heads = 4
                switch slot {
                case "norm": baseline.block.norm = ComponentSpec(id)
                case "channel_mixer": baseline.block.channelMixer = ComponentSpec(id)
                default: baseline.block.residual = ComponentSpec(id)
                }
                XCTAssertEqual(spec, baseline, id)
                XCTAssertEqual(try TransformerModel(spec: spec).parameterCount, spec.expectedParameterCount, id)
            }
        }
    }

    /// Every variant's tiny model fits a fixed batch: 40 AdamW steps lower the loss by a clear margin.
    func testEveryVariantLearnsAFixedBatch() throws {
        let variants: [(String, (inout ModelSpec) -> Void)] = [
            ("dyt", { $0.block.norm = "dyt" }), ("bhyt", { $0.block.norm = "bhyt" }),
            ("seed_norm", { $0.block.norm = "seed_norm" }), ("ss_rms_norm", { $0.block.norm = "ss_rms_norm" }),
            ("batch_norm", { $0.block.norm = "batch_norm" }), ("layer_norm_scaling", { $0.block.norm = "layer_norm_scaling" }),
            ("swiglu", { $0.block.channelMixer = "swiglu" }), ("glu", { $0.block.channelMixer = "glu" }),
            ("poly_relu", { $0.block.channelMixer = "poly_relu" }), ("poly_norm", { $0.block.channelMixer = "poly_norm" }),
            ("hourglass_ffn", { $0.block.channelMixer = "hourglass_ffn" }), ("topk_ffn", { $0.block.channelMixer = "topk_ffn" }),
            ("layer_scale", { $0.block.residual = ComponentSpec("layer_scale", ["init": .number(0.1)]) }),
            ("gtrxl_gate", { $0.block.residual = "gtrxl_gate" }),
        ]
        let input = VariantFixtures.ids(16, seed: 9), target = VariantFixtures.ids(16, seed: 10)
        for (name, change) in variants {
            var spec = VariantFixtures.spec()
            spec.dim = 16; spec.initStd = 0.02
            change(&spec)
            let model = try TransformerModel(spec: spec, seed: 4)
            let opt = AdamW(parameters: model.parameters(), options: .init(learningRate: 1e-2, weightDecay: 0))
            var first: Float = 0, last: Float = 0
            for step in 0..<40 {
                let loss = model.loss(inputs: input, targets: target, batch: 2, length: 8)
                if step == 0 { first = loss.item }
                last = loss.item
                loss.backward()
                opt.update()
            }
            XCTAssertLessThan(last, first - 1, "\(name): loss \(first) → \(last)")
        }
    }
}
