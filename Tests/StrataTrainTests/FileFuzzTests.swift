import Foundation
import StrataCore
import StrataModels
import StrataNN
import StrataTrain
import XCTest

/// Truncations and bit flips of every file kind Strata reads from users (checkpoints, token files, text, tokenizer
/// JSON, safetensors), read by `strata read-check` in child processes: each file must read or give an error line,
/// never trap. A trap is pinned to the file after the last line printed, and the remaining files are read again.
final class FileFuzzTests: XCTestCase {
    private func variants(of data: Data, count: Int, rng: inout RNG) -> [Data] {
        (0..<count).map { i in
            var bytes = [UInt8](data)
            switch i % 4 {
            case 0:  // truncation anywhere, including inside the header
                bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
            case 1:  // one bit flipped
                let at = Int(rng.next() % UInt64(bytes.count))
                bytes[at] ^= UInt8(1 << (rng.next() % 8))
            case 2:  // several bits flipped in the first 512 bytes (headers, lengths, metadata)
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = Int(rng.next() % UInt64(min(512, bytes.count)))
                    bytes[at] ^= UInt8(1 << (rng.next() % 8))
                }
            default:  // a run of random bytes
                let at = Int(rng.next() % UInt64(bytes.count)), n = min(bytes.count - at, 1 + Int(rng.next() % 16))
                for j in 0..<n { bytes[at + j] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            return Data(bytes)
        }
    }

    /// Runs `read-check --kind kind` over `files`, restarting after a trap; returns (ok, errors, traps, messages).
    private func readAll(_ files: [String], kind: String, in dir: URL) throws -> (Int, Int, [String], Set<String>) {
        var remaining = files[...], ok = 0, errors = 0, traps: [String] = [], messages = Set<String>()
        while !remaining.isEmpty {
            let r = try ChildProcess.run(["read-check", "--kind", kind] + remaining, in: dir, timeout: 120)
            let lines = r.stdout.split(separator: "\n")
            for line in lines {
                if line.hasPrefix("ok ") { ok += 1 } else if line.hasPrefix("error ") {
                    errors += 1
                    // The message without the file's name and with numbers blanked: its kind, not its instance.
                    var text = line.split(separator: ":", maxSplits: 1).last.map(String.init) ?? ""
                    text = text.replacingOccurrences(of: dir.path, with: "")
                    for f in files { text = text.replacingOccurrences(of: f, with: "FILE") }
                    messages.insert(String(text.map { $0.isNumber ? "#" : $0 }.prefix(90)))
                }
            }
            remaining = remaining.dropFirst(lines.count)
            if r.status != 0 || r.signaled {
                guard let culprit = remaining.first else { break }
                traps.append("\(kind) \(culprit): status \(r.status) \(r.timedOut ? "(timed out)" : "")\n\(r.stderr.suffix(400))")
                remaining = remaining.dropFirst()
            }
        }
        return (ok, errors, traps, messages)
    }

    func testDamagedFilesNeverTrap() throws {
        let dir = try ChildProcess.workDirectory("filefuzz")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Originals: a checkpoint with optimizer state, a token file, text, a trained BPE tokenizer.
        let spec = try ModelSpec.parse(Data(#"{"dim": 16, "layers": 2, "heads": 2, "context_length": 16}"#.utf8))
        let model = try TransformerModel(spec: spec, seed: 3)
        var config = TrainConfig()
        config.steps = 2
        let ckpt = dir.appendingPathComponent("original.ckpt.safetensors")
        try Checkpoint.save(to: ckpt, model: model, optimizer: AdamW(parameters: model.parameters(), options: .init()),
                            config: config, step: 2, plannedSteps: 2, sampler: nil, tokensSeen: 64, elapsedSeconds: 1)
        let text = try Data(contentsOf: dir.appendingPathComponent("corpus.txt"))
        let tokens = dir.appendingPathComponent("original.tokens")
        try TokenDataset(textFile: dir.appendingPathComponent("corpus.txt"), tokenizer: ByteTokenizer()).write(to: tokens)
        let tokenizer = dir.appendingPathComponent("original.tokenizer.json")
        try BPETokenizer.train(text: String(decoding: text, as: UTF8.self), vocabSize: 280).save(to: tokenizer)

        var rng = RNG(seed: 2026)
        let plan: [(String, URL, Int)] = [("checkpoint", ckpt, 90), ("safetensors", ckpt, 30), ("tokens", tokens, 40),
                                          ("text", dir.appendingPathComponent("corpus.txt"), 20), ("tokenizer", tokenizer, 40)]
        var total = 0, ok = 0, errors = 0, traps: [String] = [], messages = Set<String>()
        for (kind, original, count) in plan {
            let datas = variants(of: try Data(contentsOf: original), count: count, rng: &rng)
            var files: [String] = []
            for (i, d) in datas.enumerated() {
                let name = "\(kind)-\(i).bin"
                try d.write(to: dir.appendingPathComponent(name))
                files.append(name)
            }
            let (o, e, t, m) = try readAll(files, kind: kind, in: dir)
            total += files.count; ok += o; errors += e; traps += t; messages.formUnion(m)
            XCTAssertEqual(o + e + t.count, files.count, "\(kind): every file gets a line or a trap")
        }
        XCTAssertGreaterThanOrEqual(total, 200)
        XCTAssertTrue(traps.isEmpty, "traps:\n" + traps.joined(separator: "\n\n"))
        print("file fuzz: \(total) damaged files, \(ok) read, \(errors) refused with \(messages.count) distinct messages, \(traps.count) traps")
    }
}
