import Foundation
import XCTest
import StrataCore
import StrataNN
import StrataModels

/// Each probe against a direct computation on a small hand-built tensor (catalog `probes` check), and the
/// depth diagnostics on tiny models whose answer is known.
final class ProbeTests: XCTestCase {
    // MARK: Kurtosis

    func testKurtosisIsPerChannelMaxOverChannels() {
        // Channel 0 = [1, −1, 1, −1]: m4/m2² = 1, excess −2. Channel 1 = [0, 0, 0, 4]: mean 1, deviations
        // −1, −1, −1, 3: m2 = 3, m4 = 21, excess 21/9 − 3 = −2/3.
        let x = Tensor([1, 0, -1, 0, 1, 0, -1, 4], shape: [1, 4, 2])
        let perChannel = perChannelExcessKurtosis(x)
        XCTAssertEqual(perChannel[0], -2, accuracy: 1e-12)
        XCTAssertEqual(perChannel[1], -2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(maxChannelExcessKurtosis(x), -2.0 / 3, accuracy: 1e-12)
        // The pooled statistic is a different number (one distribution over all 8 values).
        XCTAssertNotEqual(ProbeStatistics(x).excessKurtosis, -2.0 / 3, accuracy: 1e-3)
        let probes = ProbeRecorder()
        probes.recordStream(layer: 0, x)
        probes.recordChannelOutput(layer: 0, x)
        XCTAssertEqual(probes.value(layer: 0, name: "residual_kurtosis_max_channel") ?? .nan, -2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(probes.value(layer: 0, name: "ffn_out_kurtosis_max_channel") ?? .nan, -2.0 / 3, accuracy: 1e-12)
    }

    func testOneOutlierChannelDominatesMaxChannelKurtosis() {
        // 64 tokens × 4 channels of ±1 noise, with channel 2 carrying one spike: only that channel is heavy-tailed.
        var values = [Float]()
        for t in 0..<64 { for c in 0..<4 { values.append(c == 2 && t == 5 ? 40 : (((t + c) % 2 == 0) ? 1 : -1)) } }
        let k = perChannelExcessKurtosis(Tensor(values, shape: [64, 4]))
        XCTAssertEqual(k.firstIndex(of: k.max()!), 2)
        XCTAssertGreaterThan(k[2], 50)
        XCTAssertEqual(k[0], -2, accuracy: 1e-9)
    }

    // MARK: Attention entropy and row cosine

    func testAttentionEntropyNormalizesEachRowFirst() {
        // Catalog check: uniform attention gives log n, one-hot gives 0. Row 2 is unnormalized ([0.2, 0]
        // → [1, 0], entropy 0); without normalizing it would count −0.2·log 0.2 ≈ 0.32.
        let a = Tensor([0.5, 0.5, 0.2, 0, 0.25, 0.25], shape: [1, 1, 3, 2])
        let probes = ProbeRecorder()
        probes.recordAttentionWeights(layer: 0, a)
        XCTAssertEqual(probes.value(layer: 0, name: "attention_entropy") ?? .nan, 2 * log(2) / 3, accuracy: 1e-9)
        XCTAssertEqual(probes.value(layer: 0, name: "attention_entropy.h0") ?? .nan, 2 * log(2) / 3, accuracy: 1e-9)
        let uniform = ProbeRecorder()
        uniform.recordAttentionWeights(layer: 1, Tensor([Float](repeating: 0.9, count: 5), shape: [1, 1, 1, 5]))
        XCTAssertEqual(uniform.value(layer: 1, name: "attention_entropy") ?? .nan, log(5), accuracy: 1e-9)
    }

    func testAttentionEntropyOfSigmoidAttentionIsThatOfNormalizedRows() throws {
        let ctx = BuildContext(dim: 8, heads: 2, headDim: 4, layer: 0, layers: 1, contextLength: 8, causal: true, initStd: 0.5)
        var issues: [SpecIssue] = []
        let (entry, options) = try XCTUnwrap(Catalog.tokenMixers.resolve("sigmoid_attention", path: "m", issues: &issues))
        var rng = RNG(seed: 4)
        let m = try XCTUnwrap(entry.build(options, context: ctx, rng: &rng) as? AttentionMixer)
        m.train(false)
        let x = rng.normal([1, 5, 8])
        let pos = TestNoPositions()
        let w = m.mixingMatrix(x, context: MixerContext(positional: pos)).scalars
        var expected = 0.0
        for row in 0..<10 {
            let z = (0..<5).reduce(0.0) { $0 + Double(w[row * 5 + $1]) }
            for j in 0..<5 { let p = Double(w[row * 5 + j]) / z; if p > 0 { expected -= p * log(p) } }
        }
        let probes = ProbeRecorder()
        _ = m.forward(x, context: MixerContext(positional: pos, probes: probes), cache: nil)
        XCTAssertEqual(probes.value(layer: 0, name: "attention_entropy") ?? .nan, expected / 10, accuracy: 1e-5)
    }

    func testAttentionRowCosineMatchesPairwiseDefinition() {
        // Three rows [1, 0], [1, 1], [0, 1]: cosines 1/√2, 0, 1/√2 → mean √2/3.
        let probes = ProbeRecorder()
        probes.recordAttentionWeights(layer: 0, Tensor([1, 0, 1, 1, 0, 1], shape: [1, 1, 3, 2]))
        XCTAssertEqual(probes.value(layer: 0, name: "attention_row_cosine") ?? .nan, 2.0.squareRoot() / 3, accuracy: 1e-9)
        // Every query attending alike gives 1; one-hot rows on different keys give 0.
        let same = ProbeRecorder(), apart = ProbeRecorder()
        same.recordAttentionWeights(layer: 0, Tensor([0.3, 0.7, 0.3, 0.7], shape: [1, 1, 2, 2]))
        apart.recordAttentionWeights(layer: 0, Tensor([1, 0, 0, 1], shape: [1, 1, 2, 2]))
        XCTAssertEqual(same.value(layer: 0, name: "attention_row_cosine") ?? .nan, 1, accuracy: 1e-9)
        XCTAssertEqual(apart.value(layer: 0, name: "attention_row_cosine") ?? .nan, 0, accuracy: 1e-12)
    }

    func testSoftmaxProbeAgreesWithMaterializedWeights() throws {
        // The fused softmax path recomputes the weights for its probes; they must equal the mixing matrix's.
        let ctx = BuildContext(dim: 8, heads: 2, headDim: 4, layer: 0, layers: 1, contextLength: 8, causal: true, initStd: 0.5)
        var issues: [SpecIssue] = []
        let (entry, options) = try XCTUnwrap(Catalog.tokenMixers.resolve("softmax_attention", path: "m", issues: &issues))
        var rng = RNG(seed: 9)
        let m = try XCTUnwrap(entry.build(options, context: ctx, rng: &rng) as? AttentionMixer)
        m.train(false)
        let x = rng.normal([1, 6, 8])
        let pos = TestNoPositions()
        let fused = ProbeRecorder(), composed = ProbeRecorder()
        _ = m.forward(x, context: MixerContext(positional: pos, probes: fused), cache: nil)
        composed.recordAttentionWeights(layer: 0, m.mixingMatrix(x, context: MixerContext(positional: pos)))
        for name in ["attention_entropy", "attention_row_cosine"] {
            XCTAssertEqual(fused.value(layer: 0, name: name) ?? .nan, composed.value(layer: 0, name: name) ?? .nan,
                           accuracy: 1e-5, name)
        }
    }

    // MARK: Tanh saturation

    func testTanhSaturationCountsInputsBeyondTwo() throws {
        var issues: [SpecIssue] = []
        let (entry, options) = try XCTUnwrap(Catalog.norms.resolve(ComponentSpec("dyt", ["alpha_init": .number(1)]),
                                                                   path: "norm", issues: &issues))
        let ctx = BuildContext(dim: 4, heads: 1, headDim: 4, layer: 0, layers: 1, contextLength: 4, causal: true)
        var rng = RNG(seed: 1)
        let norm = entry.build(options, context: ctx, rng: &rng)
        let x = Tensor([0.5, 3, -5, 1.9, -2.5, 0, 0, 0], shape: [1, 2, 4])
        let probes = ProbeRecorder()
        let probed = norm.normalize(x, site: .mixerInput, scratch: BlockScratch(probes: probes, layer: 3))
        let plain = norm.normalize(x, site: .mixerInput, scratch: BlockScratch())
        XCTAssertEqual(probed.scalars, plain.scalars, "probing changed the norm's output")
        XCTAssertEqual(probes.value(layer: 3, name: "tanh_saturation") ?? .nan, 3.0 / 8, accuracy: 1e-12)
    }

    func testTanhSaturationIsRecordedPerBlockForBoundedNorms() throws {
        for id in ["dyt", "bhyt"] {
            var spec = tinySpec()
            spec.block.norm = ComponentSpec(id)
            let model = try TransformerModel(spec: spec, seed: 2)
            let probes = ProbeRecorder()
            _ = withNoGrad { model.logits(tokens(12), batch: 2, length: 6, probes: probes) }
            for layer in 0..<spec.layers {
                let v = try XCTUnwrap(probes.value(layer: layer, name: "tanh_saturation"), "\(id) layer \(layer)")
                XCTAssertTrue((0...1).contains(v), "\(id): \(v)")
            }
        }
    }

    // MARK: Angular distance, layer removal, gradient norms

    func testAngularDistanceOfHandBuiltPairs() {
        let x = Tensor([1, 0, 0, 1, 2, 2], shape: [3, 2])
        let probes = ProbeRecorder()
        probes.recordBlock(layer: 0, input: x, output: x * 3)                       // same directions
        XCTAssertEqual(probes.value(layer: 0, name: "angular_distance") ?? .nan, 0, accuracy: 1e-7)
        probes.recordBlock(layer: 1, input: x, output: x * -1)                      // opposite
        XCTAssertEqual(probes.value(layer: 1, name: "angular_distance") ?? .nan, 1, accuracy: 1e-7)
        XCTAssertEqual(probes.value(layer: 1, name: "cosine_distance") ?? .nan, 2, accuracy: 1e-12)
        // Token by token: 90°, 90°, 45° → (0.5 + 0.5 + 0.25)/3.
        probes.recordBlock(layer: 2, input: x, output: Tensor([0, 1, 1, 0, 2, 0], shape: [3, 2]))
        XCTAssertEqual(probes.value(layer: 2, name: "angular_distance") ?? .nan, 1.25 / 3, accuracy: 1e-7)
    }

    /// A Pre-LN model whose block 1 writes nothing to the stream (its output projections are zero).
    func modelWithSilentBlock() throws -> TransformerModel {
        let model = try TransformerModel(spec: tinySpec(layers: 3), seed: 5)
        for (name, p) in model.namedParameters() where name.hasPrefix("blocks.1.") {
            if name.hasSuffix("mixer.out.weight") || name.hasSuffix("channel.down.weight") { p.assign(.zeros(p.shape)) }
        }
        return model
    }

    func testSilentBlockHasAngularDistanceZeroAndRemovalCostsNothing() throws {
        let model = try modelWithSilentBlock()
        model.train(false)
        let ids = tokens(12)
        let probes = ProbeRecorder()
        _ = withNoGrad { model.logits(ids, batch: 2, length: 6, probes: probes) }
        XCTAssertEqual(probes.value(layer: 1, name: "angular_distance") ?? .nan, 0, accuracy: 1e-6)
        XCTAssertGreaterThan(probes.value(layer: 0, name: "angular_distance") ?? 0, 1e-4)
        let targets = ids.map { ($0 + 1) % 32 }
        let deltas = DepthDiagnostics.layerRemovalDeltas(model, inputs: ids, targets: targets, batch: 2, length: 6)
        XCTAssertEqual(deltas.count, 3)
        XCTAssertEqual(deltas[1], 0, "x + 0 is x exactly, so skipping the silent block changes nothing")
        XCTAssertNotEqual(deltas[0], 0)
        probes.recordLayerRemoval(of: model, inputs: ids, targets: targets, batch: 2, length: 6)
        XCTAssertEqual(probes.value(layer: 1, name: "layer_removal_delta_loss"), 0)
    }

    func testLayerRemovalLossWithNothingSkippedIsTheModelLoss() throws {
        var spec = tinySpec()
        spec.zLoss = 1e-3
        let model = try TransformerModel(spec: spec, seed: 6)
        model.train(false)
        let ids = tokens(12), targets = tokens(12, seed: 8)
        let direct = withNoGrad { model.loss(inputs: ids, targets: targets, batch: 2, length: 6) }.item
        XCTAssertEqual(DepthDiagnostics.loss(model, inputs: ids, targets: targets, batch: 2, length: 6), direct)
    }

    func testBlockGradientNormsPartitionTheGlobalNorm() throws {
        let model = try TransformerModel(spec: tinySpec(layers: 3), seed: 7)
        let ids = tokens(12)
        model.loss(inputs: ids, targets: ids.map { ($0 + 3) % 32 }, batch: 2, length: 6).backward()
        let rows = DepthDiagnostics.blockGradientNorms(model)
        XCTAssertEqual(rows.map(\.layer), [-1, 0, 1, 2])
        var global = 0.0, block2 = 0.0
        for (name, p) in model.namedParameters() {
            let s = (p.grad?.scalars ?? []).reduce(0.0) { $0 + Double($1) * Double($1) }
            global += s
            if name.hasPrefix("blocks.2.") { block2 += s }
        }
        XCTAssertEqual(rows.reduce(0) { $0 + $1.norm * $1.norm }, global, accuracy: 1e-9 * global)
        XCTAssertEqual(rows[3].norm, block2.squareRoot(), accuracy: 1e-12)
        XCTAssertTrue(rows.allSatisfy { $0.norm > 0 })
        let probes = ProbeRecorder()
        probes.recordBlockGradientNorms(of: model)
        XCTAssertEqual(probes.value(layer: 2, name: "grad_norm") ?? .nan, block2.squareRoot(), accuracy: 1e-12)
        XCTAssertNil(DepthDiagnostics.blockIndex(ofParameter: "tokenEmbedding.weight"))
        XCTAssertEqual(DepthDiagnostics.blockIndex(ofParameter: "blocks.12.mixer.qkv.weight"), 12)
    }

    // MARK: LayerNorm Scaling placements

    func testLayerNormScalingScalesInputSitesOnlyAndRefusesPost() throws {
        var issues: [SpecIssue] = []
        let (entry, options) = try XCTUnwrap(Catalog.norms.resolve("layer_norm_scaling", path: "norm", issues: &issues))
        let ctx = BuildContext(dim: 4, heads: 1, headDim: 4, layer: 3, layers: 4, contextLength: 4, causal: true)
        var rng = RNG(seed: 1)
        let norm = entry.build(options, context: ctx, rng: &rng)
        let x = rng.normal([2, 4])
        let plain = x.layerNorm(weight: Tensor.ones([4]), bias: Tensor.zeros([4]), eps: 1e-5)
        for site in [NormSite.mixerInput, .channelInput] {
            XCTAssertEqual(norm.normalize(x, site: site, scratch: BlockScratch()).scalars, (plain * 0.5).scalars)
        }
        // Peri's output norms bound each branch's write and stay plain (see LayerNormScaling's comment).
        for site in [NormSite.mixerOutput, .channelOutput] {
            XCTAssertEqual(norm.normalize(x, site: site, scratch: BlockScratch()).scalars, plain.scalars)
        }
        XCTAssertNil(LayerNormScaling.placementProblem(.pre))
        XCTAssertNil(LayerNormScaling.placementProblem(.peri))
        XCTAssertNotNil(LayerNormScaling.placementProblem(.post))
        XCTAssertNotNil(LayerNormScaling.placementProblem(.none))
    }

    // MARK: Helpers

    func tinySpec(layers: Int = 2) -> ModelSpec {
        var s = ModelSpec()
        s.vocabSize = 32; s.contextLength = 8; s.dim = 16; s.heads = 2; s.layers = layers; s.initStd = 0.2
        return s
    }

    func tokens(_ n: Int, seed: UInt64 = 3) -> [Int32] {
        var rng = RNG(seed: seed)
        return (0..<n).map { _ in Int32(rng.next() % 32) }
    }
}
