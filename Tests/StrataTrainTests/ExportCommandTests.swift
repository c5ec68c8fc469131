import Foundation
import StrataIO
import StrataModels
import StrataTrain
import XCTest

/// `strata export` / `strata import` end to end with the `strata` executable: a tiny trained run goes out as an HF
/// directory (format inferred from the spec) and comes back as a checkpoint that eval and sample accept and that
/// gives the run's logits bit for bit; the byte tokenizer's tokenizer.json reads back as the byte tokenizer.
final class ExportCommandTests: XCTestCase {
    @discardableResult
    private func run(_ arguments: [String], in directory: URL, expect status: Int32 = 0,
                     file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try StrataExecutable.run(arguments, in: directory, expect: status, file: file, line: line)
    }

    /// Trains `spec` for 2 steps in `dir` and returns the run id.
    private func trainTiny(_ spec: String, in dir: URL, extra: [String] = []) throws -> String {
        try spec.write(to: dir.appendingPathComponent("spec.json"), atomically: true, encoding: .utf8)
        let out = try run(["train", "spec.json", "--data", "corpus.txt", "--steps", "2", "--batch", "2", "--eval-every", "2",
                           "--eval-batches", "1", "--runs", "runs", "--json"] + extra, in: dir)
        let json = try XCTUnwrap(out.split(separator: "\n").first { $0.hasPrefix("{") })
        return try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["run_id"] as? String)
    }

    private func workDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let corpus = String(repeating: "In the beginning God created the heaven and the earth. Ünïcödé café.\n", count: 200)
        try corpus.write(to: dir.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
        return dir
    }

    func testExportImportEvalSample() throws {
        let dir = try workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let llama = #"{"dim": 32, "layers": 2, "heads": 4, "context_length": 32, "positional": "rope", "block": {"norm": "rms_norm", "token_mixer": {"id": "softmax_attention", "kv_heads": 2}, "channel_mixer": "swiglu"}, "tie_embeddings": false}"#
        let runID = try trainTiny(llama, in: dir)
        let exported = try run(["export", runID, "--runs", "runs", "--out", "hf"], in: dir)
        XCTAssertTrue(exported.contains("(llama,"), exported)
        for file in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("hf/\(file)").path), file)
        }
        let imported = try run(["import", "hf", "--out", "back.safetensors", "--data", "corpus.txt"], in: dir)
        XCTAssertTrue(imported.contains("tokenizer byte"), imported)
        let prompt = "And God said ü"
        let a = try run(["logits", runID, "--runs", "runs", "--prompt", prompt], in: dir)
        let b = try run(["logits", "back.safetensors", "--prompt", prompt], in: dir)
        XCTAssertEqual(a, b)
        XCTAssertTrue(a.contains("\"ids\":[65,110,100,32,71,111,100,32,115,97,105,100,32,195,188]"), a)
        XCTAssertTrue(try run(["eval", "back.safetensors", "--json"], in: dir).contains("\"val_bpb\""))
        XCTAssertFalse(try run(["sample", "back.safetensors", "--tokens", "5", "--greedy"], in: dir).isEmpty)

        // GPT-2 is inferred for a GPT-2-shaped spec; asking for a format the spec does not fit lists the reasons.
        XCTAssertTrue(try run(["export", "back.safetensors", "--out", "hf2", "--format", "gpt2"], in: dir, expect: 1)
            .contains("cannot be written as gpt2: positional: rope"))
        let gpt2 = #"{"dim": 16, "layers": 1, "heads": 2, "context_length": 32, "block": {"token_mixer": {"id": "softmax_attention", "bias": true}, "channel_mixer": {"id": "mlp", "bias": true}}}"#
        let gpt2Run = try trainTiny(gpt2, in: dir)
        XCTAssertTrue(try run(["export", gpt2Run, "--runs", "runs", "--out", "hf3"], in: dir).contains("(gpt2,"))
        try run(["import", "hf3", "--out", "gpt2.safetensors"], in: dir)
        XCTAssertEqual(try run(["logits", gpt2Run, "--runs", "runs", "--prompt", prompt], in: dir),
                       try run(["logits", "gpt2.safetensors", "--prompt", prompt], in: dir))
        let plain = try trainTiny(#"{"dim": 16, "layers": 1, "heads": 2, "context_length": 16}"#, in: dir)
        let neither = try run(["export", plain, "--runs", "runs", "--out", "hf4"], in: dir, expect: 1)
        XCTAssertTrue(neither.contains("fits neither export format") && neither.contains("block.token_mixer.bias must be true")
                      && neither.contains("positional: learned_abs_pe (LLaMA needs rope)"), neither)
    }

    /// A run trained with a BPE tokenizer exports its tokenizer.json; import copies it next to the checkpoint.
    func testBPETokenizerTravelsWithTheExport() throws {
        let dir = try workDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try run(["tokenizer", "train", "--data", "corpus.txt", "--vocab", "270", "--out", "bpe.json"], in: dir)
        let spec = #"{"dim": 16, "layers": 1, "heads": 2, "context_length": 16, "positional": "rope", "block": {"norm": "rms_norm", "channel_mixer": "swiglu"}}"#
        let runID = try trainTiny(spec, in: dir, extra: ["--tokenizer", "bpe.json", "--set", "vocab_size=270"])
        try run(["export", runID, "--runs", "runs", "--out", "hf"], in: dir)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("hf/tokenizer.json")),
                       try Data(contentsOf: dir.appendingPathComponent("bpe.json")))
        let imported = try run(["import", "hf", "--out", "back.safetensors"], in: dir)
        XCTAssertTrue(imported.contains("back.tokenizer.json"), imported)
        XCTAssertEqual(try run(["logits", runID, "--runs", "runs", "--prompt", "the earth"], in: dir),
                       try run(["logits", "back.safetensors", "--prompt", "the earth"], in: dir))
    }

    /// The byte tokenizer written for exports is read by Strata's BPE loader as the byte tokenizer: same ids for
    /// every byte (this ties StrataIO's copy of the ByteLevel alphabet to StrataTrain's).
    func testByteTokenizerJSONReadsBackAsBytes() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("byte-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(HFTokenizerExport.byteTokenizerJSON().utf8).write(to: url)
        let bpe = try BPETokenizer.load(from: url)
        XCTAssertEqual(bpe.vocabSize, 256)
        let text = "Ünïcödé — 日本語 👍🏽\t\n\u{0}\u{7f} 'll end"
        XCTAssertEqual(bpe.encode(text), ByteTokenizer().encode(text))
        XCTAssertEqual(bpe.decode(bpe.encode(text)), text)
    }
}
