import Foundation
import StrataCore
import StrataModels
import StrataNN
import XCTest

/// Pre-LN → Pre-RMSNorm / Pre-CRMSNorm (catalog `crms_norm`): the converted models compute the original's logits,
/// the CRMSNorm layer matches its formula and gradient, and out-of-scope models are refused with a clear error.
final class EquivalenceTransformTests: XCTestCase {
    /// A 4-layer Pre-LN decoder, d = 64, with every parameter randomized (γ ≠ 1, β ≠ 0, uncentered embeddings and
    /// writers) so that the mean the transform removes is large.
    private func preLNModel(normBias: Bool, linearBias: Bool, tied: Bool, positional: String = "learned_abs_pe",
                            layout: BlockLayout = .sequential, kvHeads: Int? = nil,
                            seed: UInt64) throws -> TransformerModel {
        var spec = ModelSpec()
        spec.vocabSize = 64; spec.contextLength = 32; spec.dim = 64; spec.layers = 4; spec.heads = 4
        spec.positional = ComponentSpec(positional)
        spec.block.norm = ComponentSpec("layer_norm", ["bias": .bool(normBias)])
        spec.block.tokenMixer = ComponentSpec("softmax_attention", ["bias": .bool(linearBias)])
        if let kvHeads { spec.block.tokenMixer.options["kv_heads"] = .number(Double(kvHeads)) }
        spec.block.channelMixer = ComponentSpec("mlp", ["activation": .string("gelu"), "bias": .bool(linearBias)])
        spec.block.layout = layout
        spec.tieEmbeddings = tied
        let model = try TransformerModel(spec: spec, seed: seed)
        var rng = RNG(seed: seed &+ 1)
        var state: [String: Tensor] = [:]
        for (name, p) in model.namedParameters() {
            let shape = p.shape
            switch p.role {
            case .norm where name.hasSuffix("weight"): state[name] = rng.normal(shape, mean: 1, std: 0.3)
            case .bias, .norm: state[name] = rng.normal(shape, std: 0.2)
            case .embedding: state[name] = rng.normal(shape, mean: 0.4, std: 1)
            default: state[name] = rng.normal(shape, mean: 0.05, std: 1 / Float(shape.last!).squareRoot())
            }
        }
        try model.load(stateDict: state)
        return model
    }

    private func assertEquivalent(_ model: TransformerModel, _ label: String, file: StaticString = #filePath,
                                  line: UInt = #line) throws {
        for target in PreLNEquivalence.Target.allCases {
            let converted = try PreLNEquivalence.convert(model, to: target, verify: false)
            let (relative, absolute) = PreLNEquivalence.logitDifference(model, converted, batch: 2, length: 32)
            print("EquivalenceTransform \(label) → \(target.rawValue): max relative \(relative), max abs \(absolute)")
            XCTAssertLessThanOrEqual(relative, 1e-5, "\(label) → \(target.rawValue)", file: file, line: line)
            let spec = converted.spec
            XCTAssertEqual(spec.dim, target == .crmsNorm ? 63 : 64, file: file, line: line)
            XCTAssertEqual(spec.block(at: 3).norm.id, target.rawValue, file: file, line: line)
            XCTAssertEqual(spec.effectiveHeadDim, 16, file: file, line: line)
            XCTAssertFalse(spec.tieEmbeddings, file: file, line: line)
            XCTAssertEqual(converted.parameterCount, spec.expectedParameterCount, file: file, line: line)
            // The rewritten spec survives JSON, so a converted checkpoint can be saved and rebuilt.
            XCTAssertEqual(try ModelSpec.parse(Data(spec.json.jsonText().utf8)), spec, file: file, line: line)
        }
    }

    /// `strata convert`'s self-check uses the catalog's bound (1e-5 relative), not a looser one.
    func testSelfCheckToleranceIsTheCatalogs() {
        XCTAssertEqual(PreLNEquivalence.verificationTolerance, 1e-5)
    }

    func testConvertedLogitsMatchForBiasVariants() throws {
        try assertEquivalent(preLNModel(normBias: true, linearBias: true, tied: true, seed: 1), "norm+linear bias, tied")
        try assertEquivalent(preLNModel(normBias: false, linearBias: false, tied: true, seed: 2), "no biases, tied")
        try assertEquivalent(preLNModel(normBias: true, linearBias: false, tied: false, seed: 3), "norm bias only, untied")
    }

    func testPositionFreeParallelMacaronAndGQAModelsConvert() throws {
        let model = try preLNModel(normBias: true, linearBias: false, tied: true, positional: "nope", layout: .parallel,
                                   seed: 4)
        try assertEquivalent(model, "nope, parallel_block")
        XCTAssertEqual(try PreLNEquivalence.convert(model, to: .crmsNorm).spec.positional.id, "nope")
        try assertEquivalent(preLNModel(normBias: true, linearBias: true, tied: false, layout: .macaron, kvHeads: 2, seed: 8),
                             "macaron, kv_heads 2")
    }

    func testConversionStaysExactAfterTraining() throws {
        let model = try preLNModel(normBias: true, linearBias: true, tied: true, seed: 5)
        let optimizer = AdamW(parameters: model.parameters(), options: .init(learningRate: 1e-2, weightDecay: 0.1))
        var rng = RNG(seed: 9)
        var losses: [Float] = []
        for _ in 0..<4 {
            let ids = (0..<2 * 17).map { _ in Int32(rng.next() % 64) }
            let inputs = (0..<2).flatMap { ids[$0 * 17..<$0 * 17 + 16] }, targets = (0..<2).flatMap { ids[$0 * 17 + 1..<$0 * 17 + 17] }
            let loss = model.loss(inputs: inputs, targets: targets, batch: 2, length: 16)
            losses.append(loss.item)
            loss.backward()
            optimizer.update()
        }
        XCTAssertNotEqual(losses.first, losses.last, "the model trained")
        try assertEquivalent(model, "after 4 AdamW steps")
    }

    func testConvertedStreamIsCentered() throws {
        let model = try preLNModel(normBias: true, linearBias: true, tied: true, seed: 6)
        let converted = try PreLNEquivalence.convert(model, to: .rmsNorm)
        let table = converted.tokenEmbedding.weight.value.scalars
        for row in 0..<64 {
            let mean = table[row * 64..<(row + 1) * 64].reduce(0, +) / 64
            XCTAssertEqual(mean, 0, accuracy: 1e-6)
        }
        // The head keeps the original (uncentered) embedding matrix, untied.
        XCTAssertEqual(converted.head?.weight.value.scalars, model.tokenEmbedding.weight.value.scalars)
    }

    func testConvertedCRMSModelDecodesStepByStepLikeTheFullForward() throws {
        let model = try preLNModel(normBias: true, linearBias: false, tied: true, seed: 7)
        let converted = try PreLNEquivalence.convert(model, to: .crmsNorm)
        let ids: [Int32] = [3, 14, 15, 9, 26, 5, 35, 8]
        let full = withNoGrad { model.logits(ids, batch: 1, length: 8) }.scalars
        let state = converted.makeDecodeState(batch: 1)
        var stepped: [Float] = []
        for (start, count) in [(0, 3), (3, 1), (4, 4)] {
            stepped += withNoGrad {
                converted.logits(Array(ids[start..<start + count]), batch: 1, length: count, state: state)
            }.scalars
        }
        let scale = full.map(abs).max()!
        for (a, b) in zip(full, stepped) { XCTAssertEqual(a, b, accuracy: 1e-5 * scale) }
    }

    // MARK: - crms_norm

    func testCRMSNormEqualsRMSNormOfTheReconstructedVector() {
        var rng = RNG(seed: 11)
        let (rows, d) = (5, 9)
        let full = rng.normal([rows, d], mean: 0.7, std: 2)
        let centered = full - full.mean(axis: -1, keepDims: true)
        let stored = centered.slice(axis: 1, 0..<(d - 1))
        let gain = rng.normal([d - 1], mean: 1, std: 0.5)
        let crms = CRMSNormLayer.crmsNorm(stored, weight: gain, eps: 1e-5)
        let rms = centered.rmsNorm(weight: nil, eps: 1e-5).slice(axis: 1, 0..<(d - 1)) * gain
        let ln = full.layerNorm(weight: nil, bias: nil, eps: 1e-5).slice(axis: 1, 0..<(d - 1)) * gain
        for (a, b) in zip(crms.scalars, rms.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        for (a, b) in zip(crms.scalars, ln.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testCRMSNormGradientMatchesFiniteDifferences() {
        var rng = RNG(seed: 12)
        let x = rng.normal([3, 7], mean: 0.3, std: 1), gain = rng.normal([7], mean: 1, std: 0.3)
        let weights = rng.normal([3, 7])
        func objective(_ x: Tensor, _ g: Tensor) -> Tensor { (CRMSNormLayer.crmsNorm(x, weight: g, eps: 1e-5) * weights).sum() }
        let (xl, gl) = (x.requiringGrad(), gain.requiringGrad())
        objective(xl, gl).backward()
        for (which, input) in [x, gain].enumerated() {
            let analytic = (which == 0 ? xl.grad : gl.grad)!.scalars
            for i in 0..<input.count {
                func value(_ delta: Float) -> Double {
                    var v = input.scalars
                    v[i] += delta
                    let moved = Tensor(v, shape: input.shape)
                    return Double(withNoGrad { which == 0 ? objective(moved, gain) : objective(x, moved) }.item)
                }
                let numeric = Float((value(1e-2) - value(-1e-2)) / 2e-2)
                XCTAssertEqual(analytic[i], numeric, accuracy: 4e-3 * max(1, abs(numeric)), "input \(which)[\(i)]")
            }
        }
    }

    func testCRMSNormOptionsAndParameterCount() throws {
        let context = BuildContext(dim: 10, heads: 2, headDim: 5, layer: 0, layers: 1, contextLength: 8, causal: true)
        for affine in [true, false] {
            var reader = OptionReader(["affine": .bool(affine)], path: "norm")
            let options = CRMSNormLayer.Options(&reader)
            var rng = RNG(seed: 0)
            let layer = CRMSNormLayer(options: options, context: context, rng: &rng)
            XCTAssertEqual(layer.parameterCount, CRMSNormLayer.parameterCount(options: options, context: context))
            XCTAssertEqual(layer.parameterCount, affine ? 10 : 0)
        }
        // The catalog preset builds and runs.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("configs/catalog/crms_norm.json")
        var spec = try ModelSpec.load(url)
        XCTAssertEqual(spec.block.norm.id, "crms_norm")
        spec.layers = 1; spec.dim = 16; spec.heads = 2
        let model = try TransformerModel(spec: spec)
        XCTAssertTrue(model.logits([1, 2, 3], batch: 1, length: 3).scalars.allSatisfy(\.isFinite))
    }

    // MARK: - Refusals

    func testUnsupportedModelsAreRefusedByName() throws {
        var post = ModelSpec()
        post.vocabSize = 32; post.contextLength = 8; post.dim = 16; post.layers = 2; post.heads = 2
        post.block.placement = .post
        let postError = "\(try XCTUnwrap(refusal(post)))"
        XCTAssertTrue(postError.contains("layer 0 (placement post, norm layer_norm): placement post is not supported"), postError)
        XCTAssertTrue(postError.contains("final_norm none"), postError)

        var rms = post
        rms.block.placement = .pre
        rms.block.norm = "rms_norm"
        let rmsError = "\(try XCTUnwrap(refusal(rms)))"
        XCTAssertTrue(rmsError.contains("norm rms_norm is not supported; needs layer_norm"), rmsError)
        XCTAssertTrue(rmsError.contains("final_norm rms_norm"), rmsError)

        var reparam = post
        reparam.block.placement = .pre
        reparam.block.channelMixer = ComponentSpec("mlp", ["sigma_reparam": .bool(true)])
        let reparamError = "\(try XCTUnwrap(refusal(reparam)))"
        XCTAssertTrue(reparamError.contains("channel_mixer mlp with sigma_reparam is not supported"), reparamError)

        XCTAssertThrowsError(try PreLNEquivalence.Target(parsing: "rmsnorm")) { error in
            XCTAssertTrue("\(error)".contains("valid targets are rms_norm, crms_norm"), "\(error)")
        }
    }

    private func refusal(_ spec: ModelSpec) throws -> Error? {
        let model = try TransformerModel(spec: spec)
        do { _ = try PreLNEquivalence.convert(checkpointModel: model, target: "crms_norm") } catch { return error }
        return nil
    }

    func testHeadBiasNeedsAnUntiedHead() throws {
        var spec = ModelSpec()
        spec.headBias = true
        XCTAssertTrue(spec.validate().contains { $0.path == "head_bias" })
        spec.tieEmbeddings = false
        spec.dim = 32; spec.heads = 2; spec.layers = 1; spec.vocabSize = 16
        let model = try TransformerModel(spec: spec)
        XCTAssertEqual(model.head?.bias?.shape, [16])
        XCTAssertEqual(model.parameterCount, spec.expectedParameterCount)
        XCTAssertEqual(try ModelSpec.parse(Data(spec.json.jsonText().utf8)).headBias, true)
    }
}
