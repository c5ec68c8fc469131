import XCTest
import StrataCore
import StrataModels
import StrataNN

/// Encoders: bidirectional mixing, padding masks, pooling and heads.
final class EncoderTests: XCTestCase {
    private func spec(pooling: String, task: String, mixer: String = "softmax_attention") -> ModelSpec {
        var s = ModelSpec()
        s.model = .encoder
        s.vocabSize = 40; s.contextLength = 16; s.dim = 16; s.layers = 2; s.heads = 2
        s.block.tokenMixer = ComponentSpec(mixer)
        s.encoder.pooling = pooling; s.encoder.task = task; s.encoder.outputs = 3
        return s
    }

    func testPaddedAndMaskedEqualsUnpaddedPerSequence() throws {
        for mixer in ["softmax_attention", "sigmoid_attention", "linear_attention"] {
            let model = try TransformerModel(spec: spec(pooling: "mean", task: "classification", mixer: mixer), seed: 3)
            model.train(false)
            let short: [Int32] = [5, 9, 2, 7, 1], long: [Int32] = [3, 3, 8, 1, 2, 6, 4, 9]
            let padded = short + [Int32](repeating: 0, count: 3) + long
            let mask = [Int32](repeating: 1, count: 5) + [0, 0, 0] + [Int32](repeating: 1, count: 8)
            let batched = withNoGrad { model.predict(padded, batch: 2, length: 8, attentionMask: mask) }.scalars
            let alone0 = withNoGrad { model.predict(short, batch: 1, length: 5) }.scalars
            let alone1 = withNoGrad { model.predict(long, batch: 1, length: 8) }.scalars
            for (x, y) in zip(batched, alone0 + alone1) { XCTAssertEqual(x, y, accuracy: 1e-5, mixer) }
        }
    }

    func testEncodersSeeLaterTokens() throws {
        let model = try TransformerModel(spec: spec(pooling: "cls", task: "none"), seed: 1)
        let a: [Int32] = [1, 2, 3, 4], b: [Int32] = [1, 2, 3, 5]
        let pa = withNoGrad { model.predict(a, batch: 1, length: 4) }.scalars
        let pb = withNoGrad { model.predict(b, batch: 1, length: 4) }.scalars
        XCTAssertEqual(pa.count, 16)
        XCTAssertNotEqual(pa, pb, "the first token's state must depend on the last token in an encoder")
    }

    func testRegressionHeadFitsATarget() throws {
        let model = try TransformerModel(spec: spec(pooling: "mean", task: "regression"), seed: 2)
        XCTAssertEqual(model.parameterCount, model.spec.expectedParameterCount)
        let ids: [Int32] = [4, 8, 15, 16, 23, 42 % 40]
        let target = Tensor([0.5, -1, 2, 0.5, -1, 2], shape: [2, 3])
        let optimizer = AdamW(parameters: model.parameters(), options: .init(learningRate: 1e-2, weightDecay: 0))
        var first: Float = 0, last: Float = 0
        for step in 0..<60 {
            let y = model.predict(ids, batch: 2, length: 3)
            let loss = ((y - target) * (y - target)).mean()
            if step == 0 { first = loss.item }
            last = loss.item
            loss.backward()
            optimizer.update()
        }
        XCTAssertLessThan(last, first * 0.05)
    }
}
