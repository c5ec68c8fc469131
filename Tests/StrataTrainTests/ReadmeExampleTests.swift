import Foundation
import XCTest
import StrataCore
import StrataModels
import StrataTrain

/// The README's "A taste" snippet, kept compiling and running.
final class ReadmeExampleTests: XCTestCase {
    func testTheReadmeSnippetRuns() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let spec = try ModelSpec.load(root.appendingPathComponent("configs/llama-style.json"))
        let model = try TransformerModel(spec: spec, seed: 0)
        let ids: [Int32] = Array("In the beginning".utf8).map(Int32.init)
        let loss = model.loss(inputs: Array(ids.dropLast()), targets: Array(ids.dropFirst()), batch: 1, length: ids.count - 1)
        loss.backward()
        XCTAssertTrue(model.parameters().allSatisfy { $0.grad != nil })
        let text = generate(model, prompt: ids, maxTokens: 40, options: SamplingOptions(temperature: 0.8, topP: 0.9))
        XCTAssertEqual(text.count, 40)
    }
}
