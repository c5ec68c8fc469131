import Foundation
import XCTest
import StrataTrain

final class DataTests: XCTestCase {
    /// A dataset whose token at position i is i, so windows reveal where they came from.
    func positions(_ n: Int) -> TokenDataset { TokenDataset(tokens: (0..<n).map { Int32($0) }, vocabSize: n) }

    func testTokenFileRoundTripIsMemoryMapped() throws {
        for vocab in [256, 70_000] {  // width 2 and width 4
            let tokens: [Int32] = (0..<5000).map { Int32(($0 * 7919) % vocab) }
            let url = temporaryURL("t.tok")
            defer { try? FileManager.default.removeItem(at: url) }
            try TokenDataset(tokens: tokens, vocabSize: vocab).write(to: url)
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
            XCTAssertEqual(size, 16 + tokens.count * (vocab <= 65_536 ? 2 : 4))
            let read = try TokenDataset(tokenFile: url)
            XCTAssertTrue(read.isMemoryMapped)
            XCTAssertEqual(read.vocabSize, vocab)
            XCTAssertEqual(read.count, tokens.count)
            XCTAssertEqual(read.tokens(0..<read.count), tokens)
            XCTAssertEqual(read[4999], tokens[4999])
        }
    }

    func testTokenFileHeaderLayout() throws {
        let url = temporaryURL("h.tok")
        defer { try? FileManager.default.removeItem(at: url) }
        try TokenFile.write([1, 258], vocabSize: 300, to: url)
        let bytes = [UInt8](try Data(contentsOf: url))
        XCTAssertEqual(bytes, Array("STRATOK1".utf8) + [2, 0, 0, 0, 44, 1, 0, 0] + [1, 0, 2, 1])
    }

    func testBadTokenFilesNameTheFile() throws {
        let url = temporaryURL("bad.tok")
        defer { try? FileManager.default.removeItem(at: url) }
        func expect(_ bytes: [UInt8], _ phrase: String, line: UInt = #line) throws {
            try Data(bytes).write(to: url)
            XCTAssertThrowsError(try TokenDataset(tokenFile: url), line: line) { error in
                let e = error as? TokenFileError
                XCTAssertEqual(e?.file, url.path, line: line)
                XCTAssertTrue(e?.message.contains(phrase) == true, "\(error)", line: line)
            }
        }
        let magic = Array("STRATOK1".utf8)
        try expect([1, 2, 3], "shorter than")
        try expect(Array("NOTATOK1".utf8) + [2, 0, 0, 0, 0, 1, 0, 0], "magic")
        try expect(magic + [3, 0, 0, 0, 0, 1, 0, 0], "valid widths are 2 and 4")
        try expect(magic + [2, 0, 0, 0, 0, 1, 0, 0, 7], "not a multiple")
        try expect(magic + [2, 0, 0, 0, 10, 0, 0, 0, 12, 0], "outside the header's vocabulary")
        let missing = temporaryURL("nope.tok")
        XCTAssertThrowsError(try TokenDataset(tokenFile: missing)) { error in
            XCTAssertEqual((error as? TokenFileError)?.file, missing.path)
        }
        XCTAssertThrowsError(try TokenFile.write([5], vocabSize: 4, to: url)) { error in
            XCTAssertTrue("\(error)".contains("outside the vocabulary"), "\(error)")
        }
    }

    func testTextFileThroughTokenizer() throws {
        let url = temporaryURL("t.txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try "In the beginning é".write(to: url, atomically: true, encoding: .utf8)
        let data = try TokenDataset(textFile: url, tokenizer: ByteTokenizer())
        XCTAssertEqual(data.count, 19)
        XCTAssertEqual(data.vocabSize, 256)
        XCTAssertEqual(ByteTokenizer().decode(data.tokens(0..<data.count)), "In the beginning é")
        XCTAssertThrowsError(try TokenDataset(textFile: temporaryURL("none.txt"), tokenizer: ByteTokenizer()))
    }

    func testSplitIsDisjointDeterministicAndCoversTheCorpus() throws {
        let data = positions(100_000)
        let (train, validation) = try data.split(validationFraction: 0.05, blockSize: 1000)
        // Every 20th block (19, 39, …) goes to validation: 5 of 100 blocks.
        XCTAssertEqual(validation.segments, [19_000..<20_000, 39_000..<40_000, 59_000..<60_000, 79_000..<80_000,
                                             99_000..<100_000])
        XCTAssertEqual(validation.count, 5000)
        XCTAssertEqual(train.count, 95_000)
        let v = Set(validation.tokens()), t = Set(train.tokens())
        XCTAssertTrue(v.isDisjoint(with: t))
        XCTAssertEqual(v.union(t).count, 100_000)
        let again = try data.split(validationFraction: 0.05, blockSize: 1000)
        XCTAssertEqual(again.train.segments, train.segments)
        XCTAssertEqual(again.validation.segments, validation.segments)

        let tenth = try positions(123_457).split(validationFraction: 0.1, blockSize: 100)
        XCTAssertEqual(Double(tenth.validation.count) / 123_457, 0.1, accuracy: 0.001)
        XCTAssertThrowsError(try positions(3000).split()) { error in
            XCTAssertTrue("\(error)".contains("block size"), "\(error)")
        }
    }

    func testSamplerIsSeededWithinSegmentsAndResumesExactly() throws {
        let (train, _) = try positions(50_000).split(validationFraction: 0.1, blockSize: 500)
        var a = try BatchSampler(split: train, batchSize: 4, context: 32, seed: 7)
        var b = try BatchSampler(split: train, batchSize: 4, context: 32, seed: 7)
        var c = try BatchSampler(split: train, batchSize: 4, context: 32, seed: 8)
        let first = (0..<5).map { _ in a.next() }
        XCTAssertEqual(first, (0..<5).map { _ in b.next() })
        XCTAssertNotEqual(first, (0..<5).map { _ in c.next() })

        for batch in first {
            XCTAssertEqual(batch.inputs.count, 4 * 32)
            for w in 0..<4 {
                let x = Array(batch.inputs[(w * 32)..<(w * 32 + 32)]), y = Array(batch.targets[(w * 32)..<(w * 32 + 32)])
                XCTAssertEqual(y, x.map { $0 + 1 }, "targets are inputs shifted by one")
                XCTAssertTrue(train.segments.contains { $0.contains(Int(x[0])) && $0.contains(Int(y[31])) },
                              "window \(x[0])… crosses a validation gap")
            }
        }

        let saved = a.state
        let continuation = (0..<3).map { _ in a.next() }
        var resumed = try BatchSampler(split: train, batchSize: 4, context: 32, seed: 99)
        resumed.state = saved
        XCTAssertEqual((0..<3).map { _ in resumed.next() }, continuation)
        let json = try JSONEncoder().encode(saved)
        XCTAssertEqual(try JSONDecoder().decode(BatchSampler.State.self, from: json), saved)

        XCTAssertThrowsError(try BatchSampler(split: train, batchSize: 2, context: 5000, seed: 1))
    }

    func testSamplerCoversStartsUniformly() throws {
        let (train, _) = try positions(4000).split(validationFraction: 0.5, blockSize: 1000)
        var s = try BatchSampler(split: train, batchSize: 64, context: 10, seed: 3)
        var bySegment = [0, 0]
        for _ in 0..<50 {
            let batch = s.next()
            for w in 0..<64 { bySegment[Int(batch.inputs[w * 10]) < 1000 ? 0 : 1] += 1 }
        }
        // Two training blocks of equal size: each should get about half of 3200 windows.
        XCTAssertEqual(Double(bySegment[0]) / 3200, 0.5, accuracy: 0.05)
    }

    func testEvaluationBatchesAreSequentialAndCapped() throws {
        let (_, validation) = try positions(10_000).split(validationFraction: 0.25, blockSize: 1000)
        // Validation: blocks 3 and 7 → 2000 tokens; windows of 100 need 101 tokens: 19 windows.
        let all = try EvaluationBatches(split: validation, batchSize: 4, context: 100)
        XCTAssertEqual(all.windowCount, 19)
        XCTAssertEqual(all.count, 5)
        XCTAssertEqual(all.targetTokenCount, 1900)
        let batches = Array(all)
        XCTAssertEqual(batches.map(\.batchSize), [4, 4, 4, 4, 3])
        let stream = validation.tokens()
        let inputs = batches.flatMap(\.inputs), targets = batches.flatMap(\.targets)
        XCTAssertEqual(inputs, Array(stream[0..<1900]))
        XCTAssertEqual(targets, Array(stream[1..<1901]))
        XCTAssertEqual(Array(all), batches, "deterministic")

        let capped = try EvaluationBatches(split: validation, batchSize: 4, context: 100, maxBatches: 2)
        XCTAssertEqual(capped.count, 2)
        XCTAssertEqual(Array(capped), Array(batches.prefix(2)))
        XCTAssertThrowsError(try EvaluationBatches(split: validation, batchSize: 4, context: 2000)) { error in
            XCTAssertTrue("\(error)".contains("2001"), "\(error)")
        }
    }

    func testBitsPerByte() throws {
        XCTAssertEqual(bitsPerByte(meanLoss: 2, tokenCount: 50, byteCount: 50), 2 / M_LN2, accuracy: 1e-12)
        XCTAssertEqual(bitsPerByte(meanLoss: 3, tokenCount: 100, byteCount: 300), 1 / M_LN2, accuracy: 1e-12)

        let text = try kjvPrefix(lines: 200)
        let bytes = TokenDataset(tokens: ByteTokenizer().encode(text), vocabSize: 256)
        let (_, validation) = try bytes.split(validationFraction: 0.5, blockSize: 512)
        let eval = try EvaluationBatches(split: validation, batchSize: 2, context: 64)
        XCTAssertEqual(eval.targetByteCount(using: ByteTokenizer()), eval.targetTokenCount)

        let bpe = BPETokenizer.train(text: text, vocabSize: 400)
        let tokens = TokenDataset(tokens: bpe.encode(text), vocabSize: bpe.vocabSize)
        let (_, v2) = try tokens.split(validationFraction: 0.5, blockSize: 256)
        let e2 = try EvaluationBatches(split: v2, batchSize: 2, context: 64)
        XCTAssertGreaterThan(e2.targetByteCount(using: bpe), 2 * e2.targetTokenCount)
    }
}
