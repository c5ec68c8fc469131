import ArgumentParser
import Foundation
import Strata

/// `strata tasks …`: synthetic capability probes (MQAR, ListOps, passkey, state tracking, …).
struct TasksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "Synthetic capability tasks: list them, or train specs on one and compare accuracy.",
        subcommands: [TasksList.self, TasksRun.self])
}

/// `strata tasks list`: every task id with its summary, chance level and knobs.
struct TasksList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tasks, their knobs and defaults.")

    func run() throws {
        for task in CapabilityTasks.all() {
            print("\(task.id) — \(task.summary)")
            print("  T \(task.length), vocab \(task.vocabSize)" + (task.chance > 0 ? String(format: ", chance %.3f", task.chance) : ""))
            var table = TextTable(headers: ["knob", "default", "meaning"], alignments: [.left, .left, .left])
            for k in task.knobs { table.addRow([k.name, k.value, k.help]) }
            print(table.render().split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n")
        }
    }
}

/// `strata tasks run TASK SPEC...`: trains each spec on the task and prints held-out accuracy side by side.
struct TasksRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Train specs on a task and print held-out accuracy (stores one run per spec).")

    @Argument(help: "Task id (see `strata tasks list`).")
    var task: String
    @Argument(help: "Spec files or preset names (configs/<name>.json works too).")
    var specs: [String]
    @Option(help: "Optimizer steps per spec.")
    var steps = 300
    @Option(help: "Sequences per step (and per evaluation batch).")
    var batch = 16
    @Option(help: "Peak AdamW learning rate (warmup, then cosine to 10%).")
    var lr: Float = 1e-3
    @Option(help: "Warmup steps.")
    var warmup = 20
    @Option(help: "Seed of initialization and data (test data come from a disjoint stream).")
    var seed: UInt64 = 1
    @Option(help: "Held-out batches per evaluated length.")
    var evalBatches = 8
    @Option(help: "Also test at these lengths, comma-separated (tasks with a length knob), e.g. 256,512.")
    var evalLengths: String?
    @Option(name: .customLong("set"), help: "Override a spec value for every spec, key.path=value (repeatable).")
    var settings: [String] = []
    @Option(name: .customLong("knob"), help: "Task option, name=value (repeatable; see `strata tasks list`).")
    var knobs: [String] = []
    @Option(help: "Threads (default: all cores).")
    var threads: Int?
    @Option(help: "Run store directory (default: $STRATA_RUNS or ./runs).")
    var runs: String?
    @Flag(help: "Print one JSON object per spec instead of a table.")
    var json = false

    func validate() throws {
        if specs.isEmpty { throw ValidationError("give at least one spec, e.g. `strata tasks run mqar configs/default.json`") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        var knobValues: [String: String] = [:]
        for k in knobs {
            guard let eq = k.firstIndex(of: "="), eq != k.startIndex else { throw ValidationError("--knob expects name=value, got \"\(k)\"") }
            knobValues[String(k[..<eq])] = String(k[k.index(after: eq)...])
        }
        let capability = try CapabilityTasks.make(task, knobs: knobValues)
        var config = TaskRunConfig()
        config.steps = steps; config.batchSize = batch; config.learningRate = lr; config.warmup = warmup
        config.seed = seed; config.evalBatches = evalBatches
        if let evalLengths {
            config.evalLengths = try evalLengths.split(separator: ",").map {
                guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v > 0 else {
                    throw ValidationError("--eval-lengths: \"\($0)\" is not a positive integer")
                }
                return v
            }
        }
        let overrides = try parseSettings(settings)
        let models = try specs.map { try Presets.resolve($0, overrides: overrides) }
        let store = try RunStore(root: runs.map { URL(fileURLWithPath: $0) })
        let threadCount = min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)
        var results: [TaskResult] = []
        for (argument, spec) in zip(specs, models) {
            var named = spec
            if named.name == "unnamed" { named.name = URL(fileURLWithPath: argument).deletingPathExtension().lastPathComponent }
            let runner = try TaskRunner(task: capability, spec: named, config: config, store: store, threads: threadCount)
            let result = try runner.run()
            results.append(result)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            }
        }
        if !json { print(""); print(table(results, task: capability).render()) }
    }

    /// One row per spec; extra test lengths become extra columns.
    private func table(_ results: [TaskResult], task: any CapabilityTask) -> TextTable {
        let lengths = results.first?.evaluations.dropFirst().map(\.length) ?? []
        if task is ICLRegressionTask {
            var t = TextTable(headers: ["spec", "params", "test MSE", "OLS MSE", "zero MSE", "train loss", "seconds", "run"])
            for r in results {
                let e = r.evaluations[0]
                t.addRow([r.spec, TerminalFormat.grouped(r.parameters), String(format: "%.4f", e.loss),
                          String(format: "%.4f", e.leastSquaresMSE ?? .nan), String(format: "%.4f", e.zeroMSE ?? .nan),
                          String(format: "%.4f", r.finalTrainLoss), String(format: "%.0f", r.elapsedSeconds), r.runID ?? "-"])
            }
            return t
        }
        let sequences = task.scoresSequences
        var headers = ["spec", "params", "accuracy"] + (sequences ? ["seq acc"] : []) + ["chance", "test loss"]
        headers += lengths.map { "acc@\($0)" } + ["seconds", "run"]
        var t = TextTable(headers: headers)
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "-" }
        for r in results {
            var row = [r.spec, TerminalFormat.grouped(r.parameters), pct(r.accuracy)]
            if sequences { row.append(pct(r.sequenceAccuracy)) }
            row += [pct(r.chance), String(format: "%.4f", r.testLoss)]
            row += r.evaluations.dropFirst().map { pct($0.accuracy) }
            row += [String(format: "%.0f", r.elapsedSeconds), r.runID ?? "-"]
            t.addRow(row)
        }
        return t
    }
}
