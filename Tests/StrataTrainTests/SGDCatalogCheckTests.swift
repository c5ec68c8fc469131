import Foundation
import StrataCore
import StrataModels
import StrataNN
import StrataTrain
import XCTest

/// The catalog checks that need plain SGD: `crms_norm` (a) after SGD steps and (b) training side by side, and
/// `sigma_reparam` (c) training without LayerNorm.
final class SGDCatalogCheckTests: XCTestCase {
    /// Deterministic next-token batches of a repeating pattern with noise (learnable, not trivial).
    struct Batches {
        var rng: RNG
        let vocab: Int, length: Int, batch: Int
        mutating func next() -> (inputs: [Int32], targets: [Int32]) {
            var inputs: [Int32] = [], targets: [Int32] = []
            for _ in 0..<batch {
                let start = Int(rng.next() % UInt64(vocab)), stride = 1 + Int(rng.next() % 3)
                let seq = (0...length).map { Int32((start + $0 * stride) % vocab) }
                inputs += seq[0..<length]
                targets += seq[1...length]
            }
            return (inputs, targets)
        }
    }

    func preLNSpec() -> ModelSpec {
        var spec = ModelSpec()
        spec.vocabSize = 32; spec.contextLength = 16; spec.dim = 32; spec.layers = 2; spec.heads = 2; spec.initStd = 0.1
        spec.block.norm = ComponentSpec("layer_norm", ["bias": .bool(true)])
        return spec
    }

    /// Losses of `steps` SGD steps on the same batches.
    func sgdLosses(_ model: TransformerModel, steps: Int, lr: Float, seed: UInt64 = 4) -> [Float] {
        let sgd = SGD(parameters: model.parameters(), options: .init(learningRate: lr))
        var data = Batches(rng: RNG(seed: seed), vocab: model.spec.vocabSize, length: 12, batch: 4)
        return (0..<steps).map { _ in
            let (x, y) = data.next()
            let loss = model.loss(inputs: x, targets: y, batch: 4, length: 12)
            loss.backward()
            sgd.update()
            return loss.item
        }
    }

    /// crms_norm check (a), second half: train Pre-LN with SGD, convert again, logits agree to 1e-5 relative.
    func testConversionAfterSGDStepsStaysExact() throws {
        let model = try TransformerModel(spec: preLNSpec(), seed: 1)
        _ = sgdLosses(model, steps: 20, lr: 0.2)
        for target in PreLNEquivalence.Target.allCases {
            let converted = try PreLNEquivalence.convert(model, to: target, verify: false)
            let (relative, absolute) = PreLNEquivalence.logitDifference(model, converted, batch: 2, length: 16)
            print("SGDCatalogCheck conversion after 20 SGD steps → \(target.rawValue): relative \(relative), abs \(absolute)")
            XCTAssertLessThanOrEqual(relative, PreLNEquivalence.verificationTolerance, target.rawValue)
        }
    }

    /// crms_norm check (b): Pre-LN, Pre-RMSNorm and Pre-CRMSNorm trained for 100 SGD steps from the converted
    /// initializations. The transform is linear in the weights but not orthogonal (writers are projected onto
    /// the zero-mean subspace, LayerNorm shifts are folded into biases, CRMSNorm drops a coordinate), so an
    /// SGD step in one parameterization is not the image of the step in the other: the curves agree to first
    /// order in the learning rate, not exactly. Measured (d = 32, 2 layers, lr 0.02, 100 steps): max |Δloss|
    /// 0.19 (rms_norm) and 0.29 (crms_norm) on a loss falling 3.75 → 2.09, so the catalog's "curves coincide to
    /// about 1e-4" does not hold for SGD on the converted parameters; equivalence in training needs the
    /// optimizer to see the Pre-LN parameters (train Pre-LN, convert after, which check (a) shows is exact).
    /// The test pins what holds: the same loss at step 0, every model trains, and the gap stays well below the
    /// loss decrease.
    func testPreLNAndConvertedModelsTrainAlikeUnderSGD() throws {
        let steps = 100, lr: Float = 0.02
        let base = try TransformerModel(spec: preLNSpec(), seed: 2)
        let rms = try PreLNEquivalence.convert(base, to: .rmsNorm)
        let crms = try PreLNEquivalence.convert(base, to: .crmsNorm)
        let reference = sgdLosses(base, steps: steps, lr: lr)
        for (name, model) in [("rms_norm", rms), ("crms_norm", crms)] {
            let losses = sgdLosses(model, steps: steps, lr: lr)
            let gap = zip(losses, reference).map { abs($0 - $1) }.max() ?? 0
            print("SGDCatalogCheck \(steps) SGD steps at lr \(lr), pre-LN vs \(name): max |Δloss| \(gap) "
                  + "(first \(reference[0]) → last \(reference[steps - 1]))")
            XCTAssertEqual(losses[0], reference[0], accuracy: 1e-5, "\(name): same function at step 0")
            XCTAssertLessThan(gap, 0.5 * (reference[0] - reference[steps - 1]), name)
            XCTAssertLessThan(losses[steps - 1], losses[0] - 0.1, "\(name) trains")
        }
        XCTAssertLessThan(reference[steps - 1], reference[0] - 0.1, "the reference trains")
    }

    /// sigma_reparam check (c): with σReparam on the attention and FFN projections, no norm anywhere
    /// (placement none, no final norm) and plain SGD, the model still trains.
    func testSigmaReparamWithSGDAndNoLayerNormTrains() throws {
        var spec = preLNSpec()
        spec.block.placement = .none
        spec.finalNorm = "none"
        spec.block.tokenMixer = ComponentSpec("softmax_attention", ["sigma_reparam": .bool(true)])
        spec.block.channelMixer = ComponentSpec("mlp", ["sigma_reparam": .bool(true)])
        let model = try TransformerModel(spec: spec, seed: 3)
        let losses = sgdLosses(model, steps: 150, lr: 0.5)
        let head = losses.prefix(10).reduce(0, +) / 10, tail = losses.suffix(10).reduce(0, +) / 10
        print("SGDCatalogCheck sigma_reparam + SGD, no norms: mean loss first 10 \(head), last 10 \(tail)")
        XCTAssertTrue(losses.allSatisfy(\.isFinite))
        XCTAssertLessThan(tail, 0.7 * head)
    }
}
