import Foundation
import XCTest
import StrataTrain

/// The first `lines` verses of the bundled KJV corpus.
func kjvPrefix(lines: Int) throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let text = try String(contentsOf: root.appendingPathComponent("data/kjv.txt"), encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: false).prefix(lines).joined(separator: "\n")
}

/// A fresh path in the temporary directory.
func temporaryURL(_ name: String) -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("strata-\(UUID().uuidString)-\(name)")
}

final class TokenizerTests: XCTestCase {
    let samples = ["", "Hello, world!", "héllo wörld — ñandú", "👍🏽 family: 👨‍👩‍👧 ok", "日本語のテキスト",
                   "  leading and trailing  \n\n\ttabs\r\n", "It's 2024; they'll've 3.14159 don't"]

    func testByteTokenizerRoundTripsAndCountsBytes() {
        let tok = ByteTokenizer()
        XCTAssertEqual(tok.vocabSize, 256)
        for s in samples {
            let ids = tok.encode(s)
            XCTAssertEqual(ids.count, s.utf8.count)
            XCTAssertEqual(tok.decode(ids), s)
        }
        XCTAssertEqual(tok.encode("A é"), [65, 32, 0xC3, 0xA9])
    }

    func testByteTokenizerRepairsInvalidUTF8() {
        let tok = ByteTokenizer()
        XCTAssertEqual(tok.decode([0xFF, 65, 0xC3]), "\u{FFFD}A\u{FFFD}")
        XCTAssertEqual(tok.decode([300, -1, 66]), "B")
    }

    func testPreTokenizerFollowsGPT2Pattern() {
        func pieces(_ s: String) -> [String] {
            let bytes = Array(s.utf8)
            var out: [String] = []
            bytes.withUnsafeBufferPointer { buf in
                ByteLevel.preTokenize(buf) { out.append(String(decoding: buf[$0], as: UTF8.self)) }
            }
            return out
        }
        XCTAssertEqual(pieces("Hello world, it's 2024!  ok\n"),
                       ["Hello", " world", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"])
        XCTAssertEqual(pieces("they'll've  "), ["they", "'ll", "'ve", "  "])
        XCTAssertEqual(pieces("héllo 日本 ½x"), ["héllo", " 日本", " ½", "x"])
        XCTAssertEqual(pieces("a\n\nb"), ["a", "\n", "\n", "b"])
        XCTAssertEqual(pieces(""), [])
    }

    func testByteAlphabetIsABijectionOntoPrintableCharacters() {
        XCTAssertEqual(Set(ByteLevel.byteToChar).count, 256)
        XCTAssertEqual(ByteLevel.byteToChar[Int(UInt8(ascii: " "))], "Ġ")
        XCTAssertEqual(ByteLevel.byteToChar[Int(UInt8(ascii: "A"))], "A")
        let all = (0..<256).map { UInt8($0) }
        XCTAssertEqual(ByteLevel.unspell(ByteLevel.spell(all)), all)
    }

    func testBPETrainingCompressesAndRoundTrips() throws {
        let text = try kjvPrefix(lines: 300)
        var calls = 0
        let tok = BPETokenizer.train(text: text, vocabSize: 600) { done, total in
            calls += 1
            XCTAssertLessThanOrEqual(done, total)
        }
        XCTAssertEqual(tok.vocabSize, 600)
        XCTAssertGreaterThanOrEqual(calls, 344)
        let ids = tok.encode(text)
        XCTAssertLessThan(Double(ids.count), 0.45 * Double(text.utf8.count), "BPE should compress the text it saw")
        XCTAssertEqual(tok.decode(ids), text)
        for s in samples { XCTAssertEqual(tok.decode(tok.encode(s)), s, "round trip of \(s.debugDescription)") }
        XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < tok.vocabSize })
        // Every learned token stands for distinct bytes (duplicate spellings would break tokenizer.json).
        XCTAssertEqual(Set(tok.tokenBytes).count, tok.vocabSize)
    }

    func testBPETrainingIsDeterministic() throws {
        let text = try kjvPrefix(lines: 120)
        let a = BPETokenizer.train(text: text, vocabSize: 400)
        let b = BPETokenizer.train(text: text, vocabSize: 400)
        XCTAssertEqual(a.merges, b.merges)
        XCTAssertEqual(a.tokenBytes, b.tokenBytes)
        // Ids follow merge order, and the most frequent pair in this English text is "t" "h".
        XCTAssertEqual(a.merges.first, BPETokenizer.Merge(left: 116, right: 104, result: 256))
        XCTAssertEqual(a.tokenBytes[256], Array("th".utf8))
    }

    func testBPEMergeStopsWhenNoPairsRemain() {
        let tok = BPETokenizer.train(text: "ab ab", vocabSize: 1000)
        XCTAssertLessThan(tok.vocabSize, 1000)
        XCTAssertEqual(tok.encode("ab ab").count, 2)
        XCTAssertEqual(tok.decode(tok.encode("ab abc")), "ab abc")
    }

    func testBPESaveLoadKeepsEncodings() throws {
        let text = try kjvPrefix(lines: 150)
        let tok = BPETokenizer.train(text: text, vocabSize: 450)
        let url = temporaryURL("tokenizer.json")
        defer { try? FileManager.default.removeItem(at: url) }
        try tok.save(to: url)
        let loaded = try BPETokenizer.load(from: url)
        XCTAssertEqual(loaded.vocabSize, tok.vocabSize)
        XCTAssertEqual(loaded.merges, tok.merges)
        for s in samples + [text] { XCTAssertEqual(loaded.encode(s), tok.encode(s)) }

        // The file is Hugging Face form: model.type BPE, a vocab keyed by byte-alphabet spellings.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let model = json["model"] as! [String: Any]
        XCTAssertEqual(model["type"] as? String, "BPE")
        XCTAssertEqual((model["vocab"] as! [String: Any])["Ġ"] as? Int, 32)
        XCTAssertEqual((json["pre_tokenizer"] as! [String: Any])["type"] as? String, "ByteLevel")
        XCTAssertEqual((model["merges"] as! [Any]).count, tok.merges.count)

        // Newer files spell merges as [left, right] pairs; both forms load the same.
        var pairs = json
        var m = model
        m["merges"] = (model["merges"] as! [String]).map { $0.split(separator: " ").map(String.init) }
        pairs["model"] = m
        let pairURL = temporaryURL("pairs.json")
        defer { try? FileManager.default.removeItem(at: pairURL) }
        try JSONSerialization.data(withJSONObject: pairs).write(to: pairURL)
        XCTAssertEqual(try BPETokenizer.load(from: pairURL).merges, tok.merges)
    }

    func testBPELoaderErrorsNameFileAndKey() throws {
        let tok = BPETokenizer.train(text: "the cat sat on the mat", vocabSize: 270)
        let url = temporaryURL("bad.json")
        defer { try? FileManager.default.removeItem(at: url) }
        try tok.save(to: url)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        func expectError(_ key: String, _ edit: (inout [String: Any]) -> Void) throws {
            var copy = json
            edit(&copy)
            try JSONSerialization.data(withJSONObject: copy).write(to: url)
            XCTAssertThrowsError(try BPETokenizer.load(from: url)) { error in
                let e = error as? TokenizerFileError
                XCTAssertEqual(e?.file, url.path)
                XCTAssertEqual(e?.key, key, "\(error)")
            }
        }
        try expectError("model.type") { j in var m = j["model"] as! [String: Any]; m["type"] = "WordPiece"; j["model"] = m }
        try expectError("model.merges[0]") { j in
            var m = j["model"] as! [String: Any]; m["merges"] = ["zz qq"]; j["model"] = m
        }
        try expectError("pre_tokenizer.type") { j in j["pre_tokenizer"] = ["type": "Whitespace"] }
        try expectError("model") { j in j["model"] = nil }
        try expectError("model.vocab") { j in
            var m = j["model"] as! [String: Any]
            var v = m["vocab"] as! [String: Any]; v["A"] = nil; m["vocab"] = v; m["merges"] = [String](); j["model"] = m
        }
        let missing = temporaryURL("missing.json")
        XCTAssertThrowsError(try BPETokenizer.load(from: missing)) { error in
            XCTAssertEqual((error as? TokenizerFileError)?.file, missing.path)
        }
    }

    func testBPETrainsOnWholeKJV() throws {
        // The brief's budget is the 4 MB corpus to vocabulary 2048 well under a minute in release; this
        // runs it, so a quadratic regression shows up as a slow suite.
        let text = try kjvPrefix(lines: 40_000)
        XCTAssertGreaterThan(text.utf8.count, 4_000_000)
        let tok = BPETokenizer.train(text: text, vocabSize: 2048)
        XCTAssertEqual(tok.vocabSize, 2048)
        let verse = "And God said, Let there be light: and there was light."
        XCTAssertEqual(tok.decode(tok.encode(verse)), verse)
        XCTAssertLessThan(tok.encode(verse).count, 16)
    }
}
