import Foundation
import StrataCore
import StrataIO
import StrataKernels
import StrataModels
import StrataNN
import StrataTrain
import XCTest

/// Regression tests for issue 18's command-line and file cases: each once trapped, misled or destroyed data; each
/// must now be a clear error (exit 1, or 64 for bad usage) naming the flag, variable or file.
final class CLIHardeningTests: XCTestCase {
    /// LLaMA-shaped, so that it exports.
    static let tinySpec = #"{"dim": 16, "layers": 1, "heads": 2, "context_length": 16, "positional": "rope", "block": {"norm": "rms_norm", "channel_mixer": "swiglu"}, "tie_embeddings": false}"#
    static let tinyTrain = ["--data", "corpus.txt", "--steps", "2", "--batch", "2", "--eval-every", "2",
                            "--eval-batches", "1", "--runs", "runs"]

    private func expectError(_ arguments: [String], in dir: URL, environment: [String: String] = [:], status: Int32,
                             mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try ChildProcess.run(arguments, in: dir, environment: environment)
        let text = r.stdout + r.stderr
        XCTAssertFalse(r.trapped, "trapped: strata \(arguments.joined(separator: " "))\n\(text)", file: file, line: line)
        XCTAssertEqual(r.status, status, "strata \(arguments.joined(separator: " "))\n\(text)", file: file, line: line)
        for m in mentions { XCTAssertTrue(text.contains(m), "expected \"\(m)\" in:\n\(text)", file: file, line: line) }
        XCTAssertFalse(text.contains("NSCocoaErrorDomain"), text, file: file, line: line)
    }

    private func setUpDirectory() throws -> URL {
        let dir = try ChildProcess.workDirectory("cli")
        try Self.tinySpec.write(to: dir.appendingPathComponent("spec.json"), atomically: true, encoding: .utf8)
        return dir
    }

    /// Trains the tiny spec for 2 steps and returns the run id.
    private func trainTiny(in dir: URL) throws -> String {
        let r = try ChildProcess.run(["train", "spec.json", "--json"] + Self.tinyTrain, in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("{") })
        return try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["run_id"] as? String)
    }

    func testNumericFlagsAreCheckedWithTheirNames() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // "-1" used to be read as a flag ("Missing value"); inf used to reach the JSON encoder.
        try expectError(["train", "spec.json", "--steps", "-1"], in: dir, status: 64, mentions: ["--steps must be at least 1 (got -1)"])
        try expectError(["train", "spec.json", "--steps", "2", "--lr", "inf"], in: dir, status: 64, mentions: ["--lr", "inf"])
        try expectError(["train", "spec.json", "--steps", "2", "--lr", "nan"], in: dir, status: 64, mentions: ["--lr"])
        try expectError(["train", "spec.json", "--steps", "2", "--threads", "0"], in: dir, status: 64, mentions: ["--threads must be at least 1"])
        try expectError(["train", "spec.json", "--time", "inf"], in: dir, status: 64, mentions: ["--time"])
        try expectError(["train", "spec.json", "--steps", "2", "--eval-batches", "0"], in: dir, status: 64, mentions: ["--eval-batches"])
        try expectError(["sample", "x", "--tokens", "-5"], in: dir, status: 64, mentions: ["--tokens must be at least 1"])
    }

    func testThreadEnvironmentVariable() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try expectError(["catalog"], in: dir, environment: ["STRATA_THREADS": "abc"], status: 64, mentions: ["STRATA_THREADS=abc"])
        try expectError(["catalog"], in: dir, environment: ["STRATA_THREADS": "0"], status: 64, mentions: ["STRATA_THREADS=0"])
        let capped = try ChildProcess.run(["catalog"], in: dir, environment: ["STRATA_THREADS": "1000"])
        XCTAssertEqual(capped.status, 0)
        XCTAssertTrue(capped.stderr.contains("STRATA_THREADS=1000 is more than"), capped.stderr)
        XCTAssertEqual(ThreadPool.configuredThreadCount(environment: ["STRATA_THREADS": "1000"]), ThreadPool.availableCores)
        XCTAssertEqual(ThreadPool.configuredThreadCount(environment: ["STRATA_THREADS": "1"]), 1)
    }

    func testFilesOfTheWrongKindAreNamed() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder"), withIntermediateDirectories: true)
        try expectError(["train", "spec.json", "--steps", "2", "--data", "folder"], in: dir, status: 1,
                        mentions: ["folder", "is a directory"])
        try expectError(["train", "spec.json", "--steps", "2", "--data", "corpus.txt", "--tokenizer", "folder"], in: dir,
                        status: 1, mentions: ["folder", "is a directory"])
        try expectError(["train", "spec.json", "--steps", "2", "--data", "missing.txt"], in: dir, status: 1,
                        mentions: ["missing.txt", "does not exist"])
        try "hello".write(to: dir.appendingPathComponent("short.txt"), atomically: true, encoding: .utf8)
        try expectError(["train", "spec.json", "--steps", "2", "--data", "short.txt"], in: dir, status: 1,
                        mentions: ["too few for context_length 16", "give more text"])
    }

    func testExportRefusesANonEmptyDirectoryAndImportItsOwnSource() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runID = try trainTiny(in: dir)
        let hf = dir.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: hf, withIntermediateDirectories: true)
        try "keep me".write(to: hf.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        try expectError(["export", runID, "--runs", "runs", "--out", "hf"], in: dir, status: 1, mentions: ["hf", "not empty", "--force"])
        XCTAssertEqual(try String(contentsOf: hf.appendingPathComponent("notes.txt"), encoding: .utf8), "keep me")
        let forced = try ChildProcess.run(["export", runID, "--runs", "runs", "--out", "hf", "--force"], in: dir)
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try String(contentsOf: hf.appendingPathComponent("notes.txt"), encoding: .utf8), "keep me")
        let weights = try Data(contentsOf: hf.appendingPathComponent("model.safetensors"))
        try expectError(["import", "hf", "--out", "hf/model.safetensors"], in: dir, status: 1, mentions: ["destroy the input"])
        try expectError(["import", "hf", "--out", "hf/model.safetensors", "--force"], in: dir, status: 1, mentions: ["destroy the input"])
        XCTAssertEqual(try Data(contentsOf: hf.appendingPathComponent("model.safetensors")), weights)
        XCTAssertEqual(try ChildProcess.run(["import", "hf", "--out", "back.safetensors"], in: dir).status, 0)
        try expectError(["import", "hf", "--out", "back.safetensors"], in: dir, status: 1, mentions: ["exists", "--force"])
        XCTAssertEqual(try ChildProcess.run(["import", "hf", "--out", "back.safetensors", "--force"], in: dir).status, 0)
        try expectError(["import", "hf", "--out", "hf"], in: dir, status: 1, mentions: ["is a directory"])
    }

    // MARK: - Checkpoints that lie

    private func tinyCheckpoint(at url: URL, runID: String? = nil, config: TrainConfig? = TrainConfig()) throws -> TransformerModel {
        let spec = try ModelSpec.parse(Data(Self.tinySpec.utf8))
        let model = try TransformerModel(spec: spec, seed: 1)
        try Checkpoint.save(to: url, model: model, optimizer: nil, config: config, step: 2, plannedSteps: 2, sampler: nil,
                            tokensSeen: 0, elapsedSeconds: 0, runID: runID)
        return model
    }

    /// Rewrites a checkpoint with `edit` applied to its tensors and metadata.
    private func rewrite(_ url: URL, to out: URL, edit: (inout [SafeTensorsEntry], inout [String: String]) throws -> Void) throws {
        let file = try SafeTensorsFile(url: url)
        var entries = try file.names.map { SafeTensorsEntry($0, try file.tensor($0)) }
        var meta = file.metadata
        try edit(&entries, &meta)
        try SafeTensorsWriter.write(entries, metadata: meta, to: out)
    }

    func testCheckpointWithIntegerTensorIsRefused() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.safetensors"), bad = dir.appendingPathComponent("int.safetensors")
        _ = try tinyCheckpoint(at: good)
        try rewrite(good, to: bad) { entries, _ in
            let i = try XCTUnwrap(entries.firstIndex { $0.name.hasPrefix("model.") })
            let e = entries[i]
            entries[i] = SafeTensorsEntry(e.name, int32s: [Int32](repeating: 7, count: e.shape.reduce(1, *)), shape: e.shape)
        }
        XCTAssertThrowsError(try Checkpoint.load(bad)) { XCTAssertTrue("\($0)".contains("is I32"), "\($0)") }
        try expectError(["eval", "int.safetensors", "--data", "corpus.txt"], in: dir, status: 1, mentions: ["int.safetensors", "I32"])
    }

    func testCheckpointWithNaNWeightsIsRefused() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.safetensors"), bad = dir.appendingPathComponent("nan.safetensors")
        _ = try tinyCheckpoint(at: good)
        try rewrite(good, to: bad) { entries, _ in
            let i = try XCTUnwrap(entries.lastIndex { $0.name.hasPrefix("model.") })
            var scalars = [Float](repeating: 0.5, count: entries[i].shape.reduce(1, *))
            scalars[scalars.count / 2] = .nan
            entries[i] = SafeTensorsEntry(entries[i].name, Tensor(scalars, shape: entries[i].shape))
        }
        try expectError(["eval", "nan.safetensors", "--data", "corpus.txt"], in: dir, status: 1, mentions: ["non-finite", "nan.safetensors"])
    }

    func testCheckpointWhoseSpecClaimsAHugeModelIsRefusedBeforeBuilding() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.safetensors"), bad = dir.appendingPathComponent("huge.safetensors")
        _ = try tinyCheckpoint(at: good)
        try rewrite(good, to: bad) { _, meta in
            meta["spec"] = try XCTUnwrap(meta["spec"]).replacingOccurrences(of: "\"dim\":16,", with: "\"dim\":65536,")
                .replacingOccurrences(of: "\"dim\": 16", with: "\"dim\": 65536")
            XCTAssertTrue(meta["spec"]!.contains("65536"))
        }
        let r = try ChildProcess.run(["eval", "huge.safetensors", "--data", "corpus.txt"], in: dir, timeout: 30)
        XCTAssertFalse(r.trapped || r.timedOut, r.stderr)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("parameters but the file holds only"), r.stderr)
    }

    func testCheckpointConfigThatCannotEvaluateIsRefused() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = TrainConfig()
        config.validationFraction = 0
        config.steps = 2
        config.data = "corpus.txt"
        _ = try tinyCheckpoint(at: dir.appendingPathComponent("vf0.safetensors"), config: config)
        try expectError(["eval", "vf0.safetensors"], in: dir, status: 1, mentions: ["validation_fraction 0"])
    }

    func testCheckpointCopiedFromAnotherRunIsRefused() throws {
        let dir = try setUpDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runID = try trainTiny(in: dir)
        let latest = dir.appendingPathComponent("runs/\(runID)/checkpoints/latest.safetensors")
        try FileManager.default.removeItem(at: latest)
        _ = try tinyCheckpoint(at: latest, runID: "some-other-run")
        try expectError(["eval", runID, "--runs", "runs", "--data", "corpus.txt"], in: dir, status: 1,
                        mentions: ["written by run some-other-run", runID])
    }

    func testReadersNameTheFileForForeignErrors() {
        let reason = fileErrorReason(CocoaError(.fileReadUnknown), path: FileManager.default.temporaryDirectory.path)
        XCTAssertEqual(reason, "is a directory; a file was expected")
        XCTAssertEqual(fileErrorReason(CocoaError(.fileReadUnknown), path: "/no/such/file"), "no such file or directory")
    }
}
