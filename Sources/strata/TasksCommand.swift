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
    @Argument(help: "Spec files or preset names (configs/<name>.json works too); for icl_linear_regression, `lsa` is the catalog's one-layer linear self-attention reference model.")
    var specs: [String]
    @Option(parsing: .unconditional, help: "Optimizer steps per spec.")
    var steps = 300
    @Option(parsing: .unconditional, help: "Sequences per step (and per evaluation batch).")
    var batch = 16
    @Option(help: "Peak AdamW learning rate (warmup, then cosine to 10%).")
    var lr: Float = 1e-3
    @Option(parsing: .unconditional, help: "Warmup steps.")
    var warmup = 20
    @Option(parsing: .unconditional, help: "Seed of initialization and data (test data come from a disjoint stream).")
    var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Held-out batches per evaluated length.")
    var evalBatches = 8
    @Option(help: "Also test at these lengths, comma-separated (tasks with a length knob), e.g. 256,512.")
    var evalLengths: String?
    @Option(name: .customLong("set"), help: "Override a spec value for every spec, key.path=value (repeatable).")
    var settings: [String] = []
    @Option(name: .customLong("knob"), help: "Task option, name=value (repeatable; see `strata tasks list`).")
    var knobs: [String] = []
    @Option(name: .customLong("eval-knob"), help: "Also test on the task with this knob changed, name=value (repeatable), e.g. covariate_scale=2.")
    var evalKnobs: [String] = []
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @Option(help: "Run store directory (default: $STRATA_RUNS or ./runs).")
    var runs: String?
    @Flag(help: "Print one JSON object per spec instead of a table.")
    var json = false

    func validate() throws {
        if specs.isEmpty { throw ValidationError("give at least one spec, e.g. `strata tasks run mqar configs/default.json`") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    private func pairs(_ settings: [String], option: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for k in settings {
            guard let eq = k.firstIndex(of: "="), eq != k.startIndex else { throw ValidationError("\(option) expects name=value, got \"\(k)\"") }
            values[String(k[..<eq])] = String(k[k.index(after: eq)...])
        }
        return values
    }

    func run() throws {
        let capability = try CapabilityTasks.make(task, knobs: try pairs(knobs, option: "--knob"))
        var config = TaskRunConfig()
        config.steps = steps; config.batchSize = batch; config.learningRate = lr; config.warmup = warmup
        config.seed = seed; config.evalBatches = evalBatches
        config.evalKnobs = try pairs(evalKnobs, option: "--eval-knob")
        if let evalLengths {
            config.evalLengths = try evalLengths.split(separator: ",").map {
                guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v > 0 else {
                    throw ValidationError("--eval-lengths: \"\($0)\" is not a positive integer")
                }
                return v
            }
        }
        let overrides = try parseSettings(settings)
        let isICL = capability is ICLRegressionTask
        let models = try specs.map { $0 == "lsa" && isICL ? nil : try Presets.resolve($0, overrides: overrides) }
        let store = try RunStore(root: runs.map { URL(fileURLWithPath: $0) })
        let threadCount = min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)
        var results: [TaskResult] = []
        var notes: [String] = []
        for (argument, spec) in zip(specs, models) {
            guard var named = spec else {
                let (result, note) = try runLSA(capability as! ICLRegressionTask, config: config, threads: threadCount)
                results.append(result)
                notes.append(note)
                if json { try printJSON(result) }
                continue
            }
            if named.name == "unnamed" { named.name = URL(fileURLWithPath: argument).deletingPathExtension().lastPathComponent }
            let runner = try TaskRunner(task: capability, spec: named, config: config, store: store, threads: threadCount)
            let result = try runner.run()
            results.append(result)
            if json { try printJSON(result) }
        }
        if !json {
            print("")
            print(table(results, task: capability).render())
            if let icl = capability as? ICLRegressionTask { print(ICLReport.theoryLine(icl, evalKnobs: config.evalKnobs)) }
            if let signal = capability as? DelayedSignalTask {
                // The untrained LMU memory on the same held-out sequences as the specs.
                var rng = TaskRunner.evaluationRNG(seed: seed)
                let nrmse = signal.legendreNRMSE(order: 16, batches: evalBatches, batchSize: batch, rng: &rng)
                print(String(format: "reference: closed-form LMU Legendre delay line (q = 16, θ = θ' + 1 = %d), no training: NRMSE %.4f",
                             signal.delay + 1, nrmse))
            }
            notes.forEach { print($0) }
        }
    }

    private func printJSON(_ result: TaskResult) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
    }

    /// Trains the catalog's LSA reference and returns its row and a note with catalog check b.
    private func runLSA(_ task: ICLRegressionTask, config: TaskRunConfig, threads: Int) throws -> (TaskResult, String) {
        let (result, r) = try LSAReference.run(task: task, config: config, threads: threads)
        let note = String(format: "lsa: learned preconditioner M = u_y·Aᵀ + b·u_xᵀ vs Γ⁻¹: cosine %.4f, norm ratio %.3f (catalog check b)",
                          r.preconditionerCosine, r.preconditionerScale)
        return (result, note)
    }

    /// One row per spec; extra test lengths become extra columns.
    private func table(_ results: [TaskResult], task: any CapabilityTask) -> TextTable {
        let lengths = results.first?.evaluations.dropFirst().map(\.length) ?? []
        if task is ICLRegressionTask { return ICLReport.table(results) }
        if task is DelayedSignalTask {
            var t = TextTable(headers: ["spec", "params", "test MSE", "NRMSE", "train loss", "seconds", "run"])
            for r in results {
                let e = r.evaluations[0]
                t.addRow([r.spec, TerminalFormat.grouped(r.parameters), String(format: "%.4f", e.loss),
                          String(format: "%.4f", e.nrmse ?? .nan), String(format: "%.4f", r.finalTrainLoss),
                          String(format: "%.0f", r.elapsedSeconds), r.runID ?? "-"])
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

/// The in-context regression table: each spec's MSE beside OLS and the LSA global minimum on the same prompts.
enum ICLReport {
    /// One row per (spec, test distribution).
    static func table(_ results: [TaskResult]) -> TextTable {
        var t = TextTable(headers: ["spec", "test", "params", "model MSE", "OLS MSE", "LSA-min MSE", "model/OLS", "model/LSA-min",
                                    "zero MSE", "train loss", "seconds", "run"])
        func f(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "-" }
        func ratio(_ a: Double, _ b: Double?) -> String {
            guard let b else { return "-" }
            guard b > 0, a / b < 1e4 else { return a > 0 ? "> 1e4" : "-" }   // noiseless OLS is exact up to rounding
            return String(format: "%.3f", a / b)
        }
        for r in results {
            for e in r.evaluations {
                t.addRow([r.spec, e.shift ?? "train dist", TerminalFormat.grouped(r.parameters), f(e.loss), f(e.leastSquaresMSE),
                          f(e.globalMinimumMSE), ratio(e.loss, e.leastSquaresMSE), ratio(e.loss, e.globalMinimumMSE),
                          f(e.zeroMSE), String(format: "%.4f", r.finalTrainLoss), String(format: "%.0f", r.elapsedSeconds),
                          r.runID ?? "-"])
            }
        }
        return t
    }

    /// The theory's expected errors for the training distribution (and the shifted test, if any).
    static func theoryLine(_ task: ICLRegressionTask, evalKnobs: [String: String]) -> String {
        func line(_ label: String, _ s: Double, _ q: Double) -> String {
            let ols = ICLBaselines.expectedLeastSquaresMSE(dimension: task.dimension, examples: task.examples, noise: task.noise,
                                                           covariateScale: s, queryScale: q)
            let lsa = ICLBaselines.expectedGlobalMinimumMSE(dimension: task.dimension, examples: task.examples, noise: task.noise,
                                                            covariateScale: s, queryScale: q)
            return String(format: "theory (%@): E[OLS MSE] %.4f, E[LSA-min MSE] %.4f", label, ols, lsa)
        }
        guard task.covariateScale == 1 else { return "theory: the expected errors assume training at covariate_scale 1" }
        var lines = [line("train dist", 1, task.queryScale)]
        if !evalKnobs.isEmpty {
            let s = evalKnobs["covariate_scale"].flatMap(Double.init) ?? task.covariateScale
            let q = evalKnobs["query_scale"].flatMap(Double.init) ?? task.queryScale
            lines.append(line("shifted", s, q))
        }
        return lines.joined(separator: "\n")
    }
}
