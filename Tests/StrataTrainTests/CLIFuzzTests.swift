import Foundation
import StrataCore
import XCTest

/// Random values for every numeric flag of the commands that train, sample, evaluate and measure, each run in a
/// child `strata` process: every case must end in success or a clear error (exit 0, 1 or 64 with an `Error:` line),
/// never a trap. Fixed seed, so a failure names a case that reproduces.
final class CLIFuzzTests: XCTestCase {
    static let integerValues = ["-1", "0", "1", "2", "3", "-9223372036854775808", "9223372036854775807", "99999999999999999999",
                                "1e3", "abc", "", "7.5", "100000"]
    static let realValues = ["-1", "0", "1e-30", "0.5", "1", "2", "inf", "-inf", "nan", "1e39", "abc", "", "3e-3"]

    /// (command prefix, flag, integer or real) for every numeric flag exercised.
    static let flags: [([String], String, Bool)] = {
        let train = ["train", "spec.json"] + CLIHardeningTests.tinyTrain
        var f: [([String], String, Bool)] = []
        for flag in ["--steps", "--batch", "--accumulation", "--warmup", "--eval-every", "--eval-batches", "--seed", "--threads"] {
            f.append((train, flag, true))
        }
        for flag in ["--lr", "--weight-decay"] { f.append((train, flag, false)) }
        f.append((train, "--time", false))
        let sample = ["sample", "model.safetensors", "--tokens", "8"]
        for flag in ["--tokens", "--top-k", "--seed", "--threads"] { f.append((sample, flag, true)) }
        for flag in ["--temperature", "--top-p", "--min-p"] { f.append((sample, flag, false)) }
        let eval = ["eval", "model.safetensors", "--data", "corpus.txt"]
        for flag in ["--batches", "--threads"] { f.append((eval, flag, true)) }
        let bench = ["bench", "train", "spec.json"]
        for flag in ["--batch", "--threads"] { f.append((bench, flag, true)) }
        f.append((["bench", "decode", "spec.json"], "--threads", true))
        f.append((["tokenizer", "train", "--data", "corpus.txt", "--out", "tok.json"], "--vocab", true))
        return f
    }()

    func testRandomNumericFlagsNeverTrap() throws {
        let dir = try ChildProcess.workDirectory("clifuzz")
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = #"{"dim": 16, "layers": 1, "heads": 2, "context_length": 16}"#
        try spec.write(to: dir.appendingPathComponent("spec.json"), atomically: true, encoding: .utf8)
        let trained = try ChildProcess.run(["train", "spec.json"] + CLIHardeningTests.tinyTrain, in: dir)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let runs = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("runs").path)
        let runID = try XCTUnwrap(runs.first { !$0.hasPrefix("strata.sqlite") && !$0.hasPrefix(".") })
        try FileManager.default.copyItem(at: dir.appendingPathComponent("runs/\(runID)/checkpoints/latest.safetensors"),
                                         to: dir.appendingPathComponent("model.safetensors"))

        var rng = RNG(seed: 18)
        var outcomes: [String: Int] = [:], messages = Set<String>(), traps: [String] = []
        let cases = 120
        for _ in 0..<cases {
            let (prefix, flag, integer) = rng.pick(Self.flags)
            let value = rng.pick(integer ? Self.integerValues : Self.realValues)
            var arguments = prefix
            // A repeated flag would be an ArgumentParser usage error; replace the prefix's own value instead.
            if let i = arguments.firstIndex(of: flag) { arguments[i + 1] = value } else { arguments += [flag, value] }
            let r = try ChildProcess.run(arguments, in: dir, timeout: 5)
            let label = "strata \(arguments.joined(separator: " "))"
            if r.trapped { traps.append("\(label): status \(r.status)\n\(r.stderr.suffix(600))") }
            if r.timedOut {
                outcomes["ran past 5 s (valid, long)", default: 0] += 1
            } else if r.status == 0 {
                outcomes["ok", default: 0] += 1
            } else {
                outcomes["error \(r.status)", default: 0] += 1
                XCTAssertTrue([1, 64].contains(r.status), "\(label): exit \(r.status)\n\(r.stderr)")
                let line = r.errorLine
                XCTAssertNotNil(line, "\(label): failed without an Error: line\n\(r.stderr)")
                if let line { messages.insert(line.replacingOccurrences(of: value, with: "V")) }
            }
        }
        XCTAssertTrue(traps.isEmpty, "traps:\n" + traps.joined(separator: "\n\n"))
        print("CLI fuzz: \(cases) cases, \(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), "
              + "\(messages.count) distinct error messages, \(traps.count) traps")
    }
}

extension RNG {
    /// One of `items`, uniformly (the fuzzers' choice of value or flag).
    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
}
