import Foundation
import XCTest

/// End-to-end runs of the `strata` executable (built next to the test bundle by `swift test`): train a tiny
/// model, evaluate it, sample from it, convert it with the Pre-LN equivalence transform, list the runs.
final class CommandLineTests: XCTestCase {
    private func strata() throws -> URL { try StrataExecutable.url() }

    @discardableResult
    private func run(_ arguments: [String], in directory: URL, expect status: Int32 = 0,
                     file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try StrataExecutable.run(arguments, in: directory, expect: status, file: file, line: line)
    }

    func testTrainEvalSampleConvertAndListRuns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = String(repeating: "In the beginning God created the heaven and the earth.\n", count: 400)
        try corpus.write(to: dir.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
        let spec = #"{"name": "tiny", "dim": 32, "layers": 2, "heads": 2, "context_length": 32, "block": {"norm": "layer_norm"}}"#
        try spec.write(to: dir.appendingPathComponent("tiny.json"), atomically: true, encoding: .utf8)

        let trained = try run(["train", "tiny.json", "--data", "corpus.txt", "--steps", "6", "--batch", "2",
                               "--eval-every", "3", "--eval-batches", "1", "--runs", "runs", "--json"], in: dir)
        let json = try XCTUnwrap(trained.split(separator: "\n").first { $0.hasPrefix("{") })
        let outcome = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        let runID = try XCTUnwrap(outcome["run_id"] as? String)
        XCTAssertEqual(outcome["steps"] as? Int, 6)

        let evaluated = try run(["eval", runID, "--runs", "runs", "--json"], in: dir)
        XCTAssertTrue(evaluated.contains("\"val_bpb\""), evaluated)
        let sampled = try run(["sample", runID, "--runs", "runs", "--tokens", "20", "--greedy"], in: dir)
        XCTAssertFalse(sampled.isEmpty)
        let converted = try run(["convert", runID, "--to", "crms_norm", "--out", "crms.safetensors", "--runs", "runs"], in: dir)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("crms.safetensors").path), converted)
        let reevaluated = try run(["eval", "crms.safetensors", "--data", "corpus.txt", "--json"], in: dir)
        XCTAssertTrue(reevaluated.contains("\"val_bpb\""), reevaluated)
        let listed = try run(["runs", "list", "--runs", "runs"], in: dir)
        XCTAssertTrue(listed.contains(runID), listed)

        let onTask = try run(["compare", "tiny.json", "--task", "mqar", "--knob", "pairs=2", "--knob", "length=16",
                              "--steps", "3", "--seeds", "2", "--quiet", "--runs", "runs"], in: dir)
        XCTAssertTrue(onTask.contains("mqar, 3 steps per run") && onTask.contains("tiny"), onTask)

        // Bad input: a clear error naming the key, and a failing exit status.
        let bad = try run(["train", "tiny.json", "--set", "block.norm=rms_nrm", "--steps", "1", "--runs", "runs"], in: dir, expect: 1)
        XCTAssertTrue(bad.contains("block.norm.id: unknown norm \"rms_nrm\""), bad)
    }

    /// Processes opening the same new run store at once (two `strata tasks run` started together) must all
    /// succeed; before the migration retry the loser of the race failed with "table runs already exists"
    /// in about one round in five.
    func testConcurrentProcessesCreateOneStore() throws {
        let executable = try strata()
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("strata-race-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        for round in 0..<12 {
            let root = base.appendingPathComponent("runs-\(round)")
            let processes = try (0..<6).map { _ -> (Process, Pipe) in
                let process = Process(), err = Pipe()
                process.executableURL = executable
                process.arguments = ["runs", "list", "--runs", root.path]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = err
                try process.run()
                return (process, err)
            }
            for (process, err) in processes {
                let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                XCTAssertEqual(process.terminationStatus, 0, "round \(round): \(message)")
            }
        }
    }
}
