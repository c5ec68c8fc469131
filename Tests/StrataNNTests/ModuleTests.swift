import StrataCore
import StrataNN
import XCTest

/// A two-layer perceptron used by the tests.
final class MLP: Module {
    let hidden: Linear
    let output: Linear
    init(_ inputs: Int, _ width: Int, _ outputs: Int, rng: inout RNG) {
        hidden = Linear(inputs, width, rng: &rng)
        output = Linear(width, outputs, rng: &rng)
    }
    func callAsFunction(_ x: Tensor) -> Tensor { output(hidden(x).gelu()) }
}

final class ModuleTests: XCTestCase {
    func testParameterTraversalIsOrderedAndNamed() {
        var rng = RNG(seed: 1)
        let mlp = MLP(3, 5, 2, rng: &rng)
        XCTAssertEqual(mlp.namedParameters().map(\.0), ["hidden.weight", "hidden.bias", "output.weight", "output.bias"])
        XCTAssertEqual(mlp.parameterCount, 3 * 5 + 5 + 5 * 2 + 2)
        XCTAssertEqual(mlp.namedParameters().map(\.1.role), [.weight, .bias, .weight, .bias])
    }

    func testStateDictRoundTripAndErrors() throws {
        var rng = RNG(seed: 2)
        let a = MLP(3, 5, 2, rng: &rng), b = MLP(3, 5, 2, rng: &rng)
        let x = rng.normal([4, 3])
        XCTAssertNotEqual(a(x).scalars, b(x).scalars)
        try b.load(stateDict: Dictionary(uniqueKeysWithValues: a.stateDict()))
        XCTAssertEqual(a(x).scalars, b(x).scalars)

        var dict = Dictionary(uniqueKeysWithValues: a.stateDict())
        dict["hidden.weight"] = Tensor.zeros([2, 2])
        dict["extra"] = Tensor.zeros([1])
        dict["output.bias"] = nil
        XCTAssertThrowsError(try b.load(stateDict: dict)) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("missing keys: output.bias"), text)
            XCTAssertTrue(text.contains("unexpected keys: extra"), text)
            XCTAssertTrue(text.contains("hidden.weight: expected shape [5, 3], found [2, 2]"), text)
        }
        XCTAssertEqual(a(x).scalars, b(x).scalars, "a rejected load must change nothing")
    }

    func testDropoutIsSeededAndOffInEval() {
        let x = Tensor.ones([1000])
        let d1 = Dropout(0.25, seed: 9), d2 = Dropout(0.25, seed: 9)
        let y1 = d1(x).scalars, y2 = d2(x).scalars
        XCTAssertEqual(y1, y2)
        let dropped = y1.filter { $0 == 0 }.count
        XCTAssertTrue((180...320).contains(dropped), "dropped \(dropped) of 1000 at p = 0.25")
        XCTAssertEqual(y1.first { $0 != 0 }, 1 / 0.75)
        d1.train(false)
        XCTAssertEqual(d1(x).scalars, x.scalars)
    }

    /// Fits y = sin(3x₁) + x₂² − x₁x₂ with a 2-64-1 MLP and AdamW; the stated bar is MSE < 0.01
    /// (the target's variance is about 0.75).
    func testTwoLayerMLPFitsToyRegression() {
        var rng = RNG(seed: 3)
        let n = 256
        let x = rng.uniform([n, 2], low: -1, high: 1)
        let xs = x.scalars
        let y = Tensor((0..<n).map { i -> Float in
            let a = xs[2 * i], b = xs[2 * i + 1]
            return Foundation.sin(3 * a) + b * b - a * b
        }, shape: [n, 1])
        let mlp = MLP(2, 64, 1, rng: &rng)
        let opt = AdamW(parameters: mlp.parameters(), options: .init(learningRate: 1e-2, weightDecay: 0))
        var loss: Float = .infinity
        for _ in 0..<1500 {
            let diff = mlp(x) - y
            let mse = (diff * diff).mean()
            loss = mse.item
            mse.backward()
            opt.update()
        }
        XCTAssertLessThan(loss, 0.01, "final MSE \(loss)")
    }
}

import Foundation
