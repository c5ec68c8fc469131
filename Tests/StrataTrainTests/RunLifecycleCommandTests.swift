import Foundation
import XCTest
import StrataTrain

/// The built `strata` binary under signals: kill -9, SIGTERM, a second trainer, a damaged store; and the flags
/// `--resume` refuses. Each test trains a model of a few thousand parameters for a few seconds at most.
final class RunLifecycleCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-signals-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let verse = "In the beginning God created the heaven and the earth. And the earth was without form, and void.\n"
        try String(repeating: verse, count: 400).write(to: directory.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A tiny model on the test corpus, one thread (bit-exact comparisons need equal thread counts).
    private let tiny = ["--set", "dim=32", "--set", "layers=1", "--set", "heads=2", "--set", "context_length=16", "--batch", "2",
                        "--eval-every", "1000", "--eval-batches", "1", "--data", "corpus.txt", "--threads", "1"]

    /// Starts `strata arguments` in the background with stdout into `stdout` (in the test directory).
    private func launch(_ arguments: [String], stdout: String) throws -> Process {
        let process = Process()
        process.executableURL = try StrataExecutable.url()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        FileManager.default.createFile(atPath: directory.appendingPathComponent(stdout).path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent(stdout))
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits (at most 60 s) until `condition` holds.
    private func wait(for what: String, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(60)
        while !condition() {
            guard Date() < deadline else { XCTFail("timed out waiting for \(what)"); throw CocoaError(.userCancelled) }
            usleep(20_000)
        }
    }

    /// The single run directory under `store` (the first one by name).
    private func runDirectory(_ store: String) -> URL? {
        let root = directory.appendingPathComponent(store)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") && !$0.hasPrefix("strata.sqlite") }
        return names.sorted().first.map { root.appendingPathComponent($0) }
    }

    private func json(_ text: String) throws -> [String: Any] {
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("{") }, text)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    func testKill9ThenListShowsProcessGoneAndResumeMatchesAnUninterruptedRun() throws {
        let steps = 1200
        let killed = try launch(["train"] + tiny + ["--steps", "\(steps)", "--checkpoint-every", "0.2s", "--runs", "A", "--json"], stdout: "a.json")
        var checkpoint: URL?
        try wait(for: "the first wall-time checkpoint") {
            checkpoint = runDirectory("A")?.appendingPathComponent("checkpoints/latest.safetensors")
            return checkpoint.map { FileManager.default.fileExists(atPath: $0.path) } ?? false
        }
        usleep(300_000)
        XCTAssertTrue(killed.isRunning, "training ended before the kill; raise `steps`")
        kill(killed.processIdentifier, SIGKILL)
        killed.waitUntilExit()
        XCTAssertEqual(killed.terminationReason, .uncaughtSignal)
        let id = try XCTUnwrap(runDirectory("A")).lastPathComponent
        XCTAssertTrue(try StrataExecutable.run(["runs", "list", "--runs", "A"], in: directory).contains("interrupted (process gone)"))
        let resumedFrom = try Checkpoint.load(XCTUnwrap(checkpoint)).step
        XCTAssertTrue(resumedFrom > 0 && resumedFrom < steps, "checkpoint at step \(resumedFrom)")

        let resumed = try json(StrataExecutable.run(["train", "--resume", id, "--runs", "A", "--threads", "1", "--json"], in: directory))
        let whole = try json(StrataExecutable.run(["train"] + tiny + ["--steps", "\(steps)", "--runs", "B", "--json"], in: directory))
        XCTAssertEqual(resumed["status"] as? String, "finished")
        XCTAssertEqual(resumed["val_loss"] as? Double, whole["val_loss"] as? Double, "final validation loss differs")
        let a = try RunStore(root: directory.appendingPathComponent("A")), b = try RunStore(root: directory.appendingPathComponent("B"))
        let resumedLosses = try a.metrics(runID: id, name: RunMetric.trainLoss)
        let wholeLosses = try b.metrics(runID: XCTUnwrap(whole["run_id"] as? String), name: RunMetric.trainLoss)
        XCTAssertEqual(resumedLosses.map(\.step), wholeLosses.map(\.step), "duplicate or missing metric rows")
        // Rows average over 10 steps; the first after the checkpoint covers steps from both processes' sides.
        let compared = { (points: [MetricPoint]) in points.filter { $0.step > resumedFrom + 10 } }
        XCTAssertFalse(compared(wholeLosses).isEmpty)
        XCTAssertEqual(compared(resumedLosses), compared(wholeLosses), "losses after resume differ from an uninterrupted run")
    }

    func testSIGTERMStopsLikeCtrlCExits143AndALiveRunCannotBeResumedOrRemoved() throws {
        let process = try launch(["train"] + tiny + ["--steps", "1000000", "--checkpoint-every", "0", "--runs", "A", "--json"], stdout: "a.json")
        try wait(for: "the run's lock") { runDirectory("A").map { FileManager.default.fileExists(atPath: $0.appendingPathComponent("lock").path) } ?? false }
        let id = try XCTUnwrap(runDirectory("A")).lastPathComponent
        let list = try StrataExecutable.run(["runs", "list", "--runs", "A"], in: directory)
        XCTAssertTrue(list.contains("running") && !list.contains("process gone"), list)
        XCTAssertTrue(try StrataExecutable.run(["runs", "show", id, "--runs", "A"], in: directory).contains("pid \(process.processIdentifier)"))
        XCTAssertTrue(try StrataExecutable.run(["train", "--resume", id, "--runs", "A"], in: directory, expect: 1).contains("still being trained"))
        XCTAssertTrue(try StrataExecutable.run(["runs", "rm", id, "--runs", "A"], in: directory, expect: 1).contains("still being trained"))
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 143)
        let outcome = try json(String(decoding: try Data(contentsOf: directory.appendingPathComponent("a.json")), as: UTF8.self))
        XCTAssertEqual(outcome["status"] as? String, "interrupted")
        let after = try StrataExecutable.run(["runs", "list", "--runs", "A"], in: directory)
        XCTAssertTrue(after.contains("interrupted") && !after.contains("process gone"), after)
        XCTAssertTrue(FileManager.default.fileExists(atPath: try XCTUnwrap(runDirectory("A")).appendingPathComponent("checkpoints/latest.safetensors").path))
    }

    func testAnInterruptedCompareExitsNonZeroRanksNothingPartialAndIsNotLeftRunning() throws {
        for name in ["a", "b"] { try Data("{\"name\": \"\(name)\"}".utf8).write(to: directory.appendingPathComponent("\(name).json")) }
        let process = try launch(["compare", "a.json", "b.json"] + tiny + ["--steps", "1000000", "--runs", "C", "--json", "--quiet"],
                                 stdout: "c.json")
        try wait(for: "the first member's lock") {
            let root = directory.appendingPathComponent("C")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
            return names.contains { $0.contains("-a-") && FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/spec.json").path) }
        }
        usleep(300_000)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 143)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("c.json"))) as? [[String: Any]])
        XCTAssertEqual(rows.first?["seeds"] as? Int, 0, "an interrupted run was ranked: \(rows)")
        let list = try StrataExecutable.run(["runs", "list", "--runs", "C"], in: directory)
        XCTAssertFalse(list.contains("running"), list)
        XCTAssertTrue(list.contains("compare  interrupted"), list)
    }

    func testResumeRefusesEveryFlagItWouldIgnoreAndAFinishedRunNeedsALargerTotal() throws {
        let first = try json(StrataExecutable.run(["train"] + tiny + ["--steps", "3", "--runs", "A", "--json"], in: directory))
        let id = try XCTUnwrap(first["run_id"] as? String)
        // Every option of `train` that takes a value, read from its help, so a flag added later is covered too.
        let help = try StrataExecutable.run(["train", "--help"], in: directory)
        let options = Set(help.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard let first = words.first, first.hasPrefix("--"), words.count > 1, words[1].hasPrefix("<") else { return nil }
            return String(first)
        })
        let allowed: Set<String> = ["--steps", "--threads", "--checkpoint-every", "--runs", "--resume", "--prompt"]
        XCTAssertTrue(options.isSuperset(of: ["--lr", "--data", "--set", "--seed", "--time"]), "\(options)")
        for option in options.subtracting(allowed).sorted() {
            let out = try StrataExecutable.run(["train", "--resume", id, "--runs", "A", option, "1"], in: directory, expect: 64)
            XCTAssertTrue(out.contains("would be ignored: \(option)"), "\(option): \(out)")
        }
        XCTAssertTrue(try StrataExecutable.run(["train", "default", "--resume", id, "--runs", "A"], in: directory, expect: 64)
            .contains("would be ignored: the spec argument"))
        XCTAssertTrue(try StrataExecutable.run(["train", "--resume", id, "--runs", "A"], in: directory, expect: 1)
            .contains("finished its 3 steps"))
        XCTAssertTrue(try StrataExecutable.run(["train", "--resume", id, "--runs", "A", "--steps", "3"], in: directory, expect: 1)
            .contains("must exceed it"))
        let store = try RunStore(root: directory.appendingPathComponent("A"))
        XCTAssertEqual(try store.evaluations(runID: id).map(\.step), [3], "a refused resume added rows")
    }

    func testAPoisonedCheckpointIsRefusedOnResumeNamingTheTensor() throws {
        let first = try json(StrataExecutable.run(["train"] + tiny + ["--steps", "3", "--runs", "A", "--json"], in: directory))
        let id = try XCTUnwrap(first["run_id"] as? String)
        // Poison one weight of block 0 in the checkpoint. The checkpoint reader refuses non-finite weights before
        // training starts (the NaN guard inside the loop is tested in RunLifecycleTests).
        let url = directory.appendingPathComponent("A/\(id)/checkpoints/latest.safetensors")
        let file = try SafeTensorsProbe(url: url)
        let name = try XCTUnwrap(file.names.first { $0.hasPrefix("model.blocks.0.") && $0.hasSuffix("weight") })
        var bytes = try Data(contentsOf: url)
        var nan = Float.nan.bitPattern.littleEndian
        withUnsafeBytes(of: &nan) { bytes.replaceSubrange(file.offset(of: name)..<file.offset(of: name) + 4, with: $0) }
        try bytes.write(to: url)
        let out = try StrataExecutable.run(["train", "--resume", id, "--runs", "A", "--steps", "6", "--json"], in: directory, expect: 1)
        XCTAssertTrue(out.contains("tensor \(name) holds a non-finite value"), out)
        XCTAssertFalse(try StrataExecutable.run(["runs", "list", "--runs", "A"], in: directory).contains("running"))
    }

    func testATruncatedStoreIsAClearErrorAndRunsRepairRecoversIt() throws {
        _ = try StrataExecutable.run(["train"] + tiny + ["--steps", "3", "--runs", "A", "--json"], in: directory)
        let database = directory.appendingPathComponent("A/strata.sqlite")
        let bytes = try Data(contentsOf: database)
        try bytes.prefix(bytes.count / 3).write(to: database)
        let out = try StrataExecutable.run(["runs", "list", "--runs", "A"], in: directory, expect: 1)
        XCTAssertTrue(out.contains("strata.sqlite") && out.contains("strata runs repair"), out)
        let repair = try StrataExecutable.run(["runs", "repair", "--runs", "A"], in: directory)
        XCTAssertTrue(repair.contains("1 run recovered") && repair.contains("finished, step 3"), repair)
        XCTAssertTrue(try StrataExecutable.run(["runs", "list", "--runs", "A"], in: directory).contains("finished"))
    }
}

/// Reads a safetensors header by hand (names and byte offsets), to poison one tensor of a checkpoint file.
private struct SafeTensorsProbe {
    var names: [String]
    private var offsets: [String: Int]

    init(url: URL) throws {
        let data = try Data(contentsOf: url)
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + length)) as? [String: Any])
        var offsets: [String: Int] = [:]
        for (name, value) in header where name != "__metadata__" {
            let range = try XCTUnwrap((value as? [String: Any])?["data_offsets"] as? [Int])
            offsets[name] = 8 + length + range[0]
        }
        self.offsets = offsets
        names = offsets.keys.sorted()
    }

    func offset(of name: String) -> Int { offsets[name] ?? 0 }
}
