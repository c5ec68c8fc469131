import StrataCore
import StrataNN
import XCTest
import StrataModels

/// `base_conv` against its formula written out by hand: y_t = (x_t·Wᵀ + b₁) ⊙ (Σ_i h_i ⊙ x_{t−K+1+i} + b₂), zero
/// history before the first token. (Gradients, causality and cached decoding come from the conformance suite.)
final class BaseConvTests: XCTestCase {
    func testOutputMatchesTheGatedConvolutionFormula() {
        let mixer = LinearMixerTests.buildMixer("base_conv", options: ["kernel": .number(3)], dim: 5, heads: 1)
        let conv = mixer as! BaseConv
        let (b, t, c, k) = (2, 7, 5, 3)
        var rng = RNG(seed: 11)
        let x = rng.normal([b, t, c], mean: 0, std: 1)
        let y = mixer.forward(x, context: MixerContext(positional: TestNoPositions()), cache: nil).scalars
        let xs = x.scalars, w = conv.projection.weight.value.scalars, b1 = conv.projection.bias!.value.scalars
        let h = conv.conv.weight.value.scalars, b2 = conv.conv.bias!.value.scalars
        for n in 0..<b {
            for s in 0..<t {
                for o in 0..<c {
                    var gate = b1[o]
                    for i in 0..<c { gate += xs[(n * t + s) * c + i] * w[o * c + i] }
                    var filtered = b2[o]
                    for i in 0..<k where s - k + 1 + i >= 0 { filtered += h[i * c + o] * xs[(n * t + s - k + 1 + i) * c + o] }
                    XCTAssertEqual(y[(n * t + s) * c + o], gate * filtered, accuracy: 1e-5, "batch \(n), t \(s), channel \(o)")
                }
            }
        }
    }
}
