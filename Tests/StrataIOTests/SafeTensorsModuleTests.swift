import Foundation
import StrataCore
import StrataIO
import StrataNN
import XCTest

/// A small stack of Linear layers (an array of children plus a bias-free head).
final class LinearStack: Module {
    let layers: [Linear]
    let head: Linear

    init(_ widths: [Int], outputs: Int, rng: inout RNG) {
        var made: [Linear] = []
        for (a, b) in zip(widths, widths.dropFirst()) { made.append(Linear(a, b, rng: &rng)) }
        layers = made
        head = Linear(widths.last!, outputs, bias: false, rng: &rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        head(layers.reduce(x) { $1($0).tanh() })
    }
}

final class SafeTensorsModuleTests: XCTestCase {
    func testSaveLoadGivesIdenticalOutputs() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("stack.safetensors")
        var rng = RNG(seed: 11)
        let a = LinearStack([5, 7, 3], outputs: 2, rng: &rng)
        let b = LinearStack([5, 7, 3], outputs: 2, rng: &rng)
        let x = rng.normal([4, 5])
        XCTAssertNotEqual(a(x).scalars, b(x).scalars)
        try a.saveSafeTensors(to: url, metadata: ["arch": "stack"])

        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.names, a.namedParameters().map(\.0))
        XCTAssertEqual(file.metadata, ["arch": "stack"])

        let identities = b.parameters().map(ObjectIdentifier.init)
        try b.loadSafeTensors(from: url)
        XCTAssertEqual(b(x).scalars.map(\.bitPattern), a(x).scalars.map(\.bitPattern))
        XCTAssertEqual(b.parameters().map(ObjectIdentifier.init), identities, "parameters are updated in place")
    }

    func testMismatchesNameKeysAndShapesAndChangeNothing() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("stack.safetensors")
        var rng = RNG(seed: 12)
        let saved = LinearStack([5, 7, 3], outputs: 2, rng: &rng)
        try saved.saveSafeTensors(to: url)

        let wider = LinearStack([5, 8, 3], outputs: 2, rng: &rng)
        let before = wider.stateDict().map { $0.1.scalars }
        XCTAssertThrowsError(try wider.loadSafeTensors(from: url)) { error in
            let e = error as? SafeTensorsError
            XCTAssertEqual(e?.reason, .stateDictMismatch(missing: [], unexpected: [], shapes: [
                SafeTensorsShapeMismatch(key: "layers.0.weight", expected: [8, 5], found: [7, 5]),
                SafeTensorsShapeMismatch(key: "layers.0.bias", expected: [8], found: [7]),
                SafeTensorsShapeMismatch(key: "layers.1.weight", expected: [3, 8], found: [3, 7]),
            ]))
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path))
            XCTAssertTrue(text.contains("layers.0.weight: module expects shape [8, 5], file has [7, 5]"), text)
        }
        XCTAssertEqual(wider.stateDict().map { $0.1.scalars }, before, "a failed load changes nothing")

        let deeper = LinearStack([5, 7, 3, 3], outputs: 2, rng: &rng)
        XCTAssertThrowsError(try deeper.loadSafeTensors(from: url)) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.reason,
                           .stateDictMismatch(missing: ["layers.2.weight", "layers.2.bias"], unexpected: [], shapes: []))
            XCTAssertTrue("\(error)".contains("missing keys: layers.2.weight, layers.2.bias"))
        }
        let shallower = LinearStack([5, 7], outputs: 2, rng: &rng)
        XCTAssertThrowsError(try shallower.loadSafeTensors(from: url)) { error in
            guard case let .stateDictMismatch(missing, unexpected, shapes) = (error as? SafeTensorsError)?.reason else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(missing, [])
            XCTAssertEqual(unexpected, ["layers.1.weight", "layers.1.bias"])
            XCTAssertEqual(shapes, [SafeTensorsShapeMismatch(key: "head.weight", expected: [2, 7], found: [2, 3])])
        }
    }

    func testNonStrictLoadUsesWhatMatches() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("partial.safetensors")
        var rng = RNG(seed: 13)
        let full = LinearStack([4, 4, 4], outputs: 3, rng: &rng)
        // Only the first layer plus one unrelated tensor, stored as BF16 to check conversion on load.
        let entries = [
            SafeTensorsEntry("layers.0.weight", full.layers[0].weight.value, dtype: .bf16),
            SafeTensorsEntry("layers.0.bias", full.layers[0].bias!.value),
            SafeTensorsEntry("optimizer.step", int64s: [100], shape: []),
        ]
        try SafeTensorsWriter.write(entries, to: url)
        let other = LinearStack([4, 4, 4], outputs: 3, rng: &rng)
        let headBefore = other.head.weight.value.scalars
        XCTAssertThrowsError(try other.loadSafeTensors(from: url))
        try other.loadSafeTensors(from: url, strict: false)
        XCTAssertEqual(other.layers[0].weight.value.scalars,
                       full.layers[0].weight.value.scalars.map { floatFromBF16(bf16FromFloat($0)) })
        XCTAssertEqual(other.layers[0].bias!.value.scalars, full.layers[0].bias!.value.scalars)
        XCTAssertEqual(other.head.weight.value.scalars, headBefore)
    }
}
