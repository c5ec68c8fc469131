import ArgumentParser
import Foundation
import Strata

/// `strata compare`: trains several specs under one budget and the same seeds, then prints a leaderboard.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Train specs under the same budget and seeds; print a leaderboard sorted by validation bits per byte.",
        discussion: """
            Every spec is trained once per seed (1…N) with the same data, batch, optimizer and schedule. Runs are \
            grouped under one comparison run: `strata runs show ID`, `strata report --compare ID`.
            """)

    @Argument(help: "Spec files or preset names (labels are the file names without .json).")
    var specs: [String]
    @Option(help: "Budget per run: steps:N or time:DURATION (e.g. steps:500, time:5m); --steps N / --time D also work.")
    var budget: String?
    @Option(help: "Seeds per spec (seeds 1…N).")
    var seeds = 1
    @Option(name: .customLong("set"), help: "Override a value in every spec, key.path=value (repeatable).")
    var settings: [String] = []
    @OptionGroup var flags: TrainingFlags
    @OptionGroup var store: StoreOptions
    @Option(help: "Also write the HTML report of the comparison to FILE.")
    var report: String?
    @Flag(help: "Print the leaderboard as JSON instead of a table.")
    var json = false
    @Flag(help: "No progress bars.")
    var quiet = false
    @Option(help: "Compare on a capability task (see `strata tasks list`) instead of language modelling; needs a step budget.")
    var task: String?
    @Option(name: .customLong("knob"), help: "Task option with --task, name=value (repeatable).")
    var knobs: [String] = []

    func validate() throws {
        if specs.isEmpty { throw ValidationError("give at least one spec file or preset to compare") }
        if budget != nil && (flags.steps != nil || flags.time != nil) {
            throw ValidationError("give the budget once: --budget, --steps or --time")
        }
        if budget == nil && flags.steps == nil && flags.time == nil {
            throw ValidationError("give a budget per run: --budget steps:N or --budget time:DURATION (e.g. steps:500, time:5m)")
        }
        if flags.steps != nil && flags.time != nil { throw ValidationError("give --steps or --time, not both") }
        if flags.seed != nil { throw ValidationError("compare uses seeds 1…N; set N with --seeds, not --seed") }
        if seeds < 1 { throw ValidationError("--seeds must be at least 1 (got \(seeds))") }
    }

    func run() throws {
        // Flag values are checked only now; report them as plain errors, not as a usage problem.
        do { try compare() } catch let e as ValidationError { throw CLIError(e.message) }
    }

    private func compare() throws {
        if let task { return try compareOnTask(task) }
        let parsedBudget: ComparisonBudget
        if let budget {
            parsedBudget = try ComparisonBudget(parsing: budget)
        } else {
            // --steps / --time, read (and their errors worded) exactly as `strata train` reads them.
            let c = try flags.config(defaultTime: nil)
            parsedBudget = c.steps.map { .steps($0) } ?? .time(c.timeBudget ?? 0)
        }
        let config = try flags.config(base: parsedBudget.applied(to: TrainConfig()), defaultTime: nil)
        let entries = try specs.map { (label: CompareCommand.label(of: $0), spec: try loadSpec($0, settings: settings)) }
        let comparison = try Comparison(entries: entries, config: config, budget: parsedBudget, seedCount: seeds)
        let s = try store.open()
        let result = try comparison.run(store: s, threads: flags.threadCount, quiet: quiet) { index, total, label, seed in
            guard !json else { return }
            FileHandle.standardError.write(Data("[\(index + 1)/\(total)] \(label), seed \(seed)\n".utf8))
        }
        if let report {
            let members = try s.comparison(compareID: result.compareID)
            let runs = try members.map { m in
                var run = try ReportRun.load(from: s, id: m.runID)
                run.name = "\(m.label) seed \(m.seed)"
                return run
            }
            try HTMLReport(title: "Comparison \(result.compareID)", runs: runs,
                           subtitle: "budget \(parsedBudget.text), seeds 1…\(seeds)").write(to: URL(fileURLWithPath: report))
        }
        // An interrupted comparison exits like an interrupted train (130 after Ctrl-C, 143 after SIGTERM).
        if json {
            try printJSON(result.rows)
            if !result.complete { throw ExitCode(Interrupt.exitStatus) }
            return
        }
        print("")
        print(CompareCommand.table(result.rows, summaries: comparison.summaries).render(), terminator: "")
        print("\ncomparison \(result.compareID)\(result.complete ? "" : " (interrupted: rows cover the finished runs)")")
        for run in result.runs where run.error != nil { print("failed     \(run.label) seed \(run.seed): \(run.error!)") }
        if let report { print("report     \(report)") }
        if !result.complete { throw ExitCode(Interrupt.exitStatus) }
    }

    /// The label of a spec argument: the file name without extension (a preset's name as is).
    static func label(of argument: String) -> String {
        let name = URL(fileURLWithPath: argument).lastPathComponent
        return name.hasSuffix(".json") ? String(name.dropLast(5)) : name
    }

    /// The leaderboard as a text table, best first.
    static func table(_ rows: [LeaderboardRow], summaries: [ProbeSummary]) -> TextTable {
        var table = TextTable(headers: ["#", "label", "params", "val bpb", "± std", "seeds", "tok/s", "peak MB"]
                              + summaries.map(\.title))
        for (i, r) in rows.enumerated() {
            table.addRow(["\(i + 1)", r.label, TerminalFormat.grouped(r.parameters), TerminalFormat.fixed(r.bpbMean, 4),
                          TerminalFormat.fixed(r.bpbStd, 4), r.failures > 0 ? "\(r.seeds) (\(r.failures) failed)" : "\(r.seeds)",
                          r.tokensPerSecond.isFinite ? TerminalFormat.grouped(Int(r.tokensPerSecond.rounded())) : "--",
                          TerminalFormat.fixed(r.peakMemoryMB, 0)]
                         + summaries.map { s in r.probes[s.title].map { TerminalFormat.fixed($0, 3) } ?? "--" })
        }
        return table
    }
}

extension CompareCommand {
    /// `--task`: trains every spec on the task once per seed (same steps, batch and learning rate) and prints
    /// held-out accuracy, mean ± sample standard deviation over seeds. Each run is kept in the store (kind task).
    fileprivate func compareOnTask(_ id: String) throws {
        var knobValues: [String: String] = [:]
        for k in knobs {
            guard let eq = k.firstIndex(of: "="), eq != k.startIndex else { throw CLIError("--knob expects name=value, got \"\(k)\"") }
            knobValues[String(k[..<eq])] = String(k[k.index(after: eq)...])
        }
        let capability = try CapabilityTasks.make(id, knobs: knobValues)
        let steps: Int
        if let budget {
            guard case .steps(let n) = try ComparisonBudget(parsing: budget) else {
                throw CLIError("--task needs a step budget (--budget steps:N or --steps N); task runs are compared at equal steps")
            }
            steps = n
        } else if let s = flags.steps {
            steps = s
        } else {
            throw CLIError("--task needs a step budget (--budget steps:N or --steps N); task runs are compared at equal steps")
        }
        var config = TaskRunConfig()
        config.steps = steps
        if let lr = flags.lr { config.learningRate = lr }
        if let batch = flags.batch { config.batchSize = batch }
        let runStore = try store.open()
        var table = TextTable(headers: ["spec", "params", "accuracy", "± std", "seeds", "chance", "seconds"])
        var rows: [(String, [TaskResult])] = []
        for argument in specs {
            var spec = try loadSpec(argument, settings: settings)
            if spec.name == "unnamed" { spec.name = CompareCommand.label(of: argument) }
            var results: [TaskResult] = []
            for seed in 1...seeds {
                config.seed = UInt64(seed)
                let runner = try TaskRunner(task: capability, spec: spec, config: config, store: runStore,
                                            threads: flags.threadCount)
                runner.quiet = quiet
                results.append(try runner.run())
            }
            rows.append((CompareCommand.label(of: argument), results))
        }
        func pct(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
        for (label, results) in rows.sorted(by: { mean($0.1.map { $0.accuracy ?? .nan }) > mean($1.1.map { $0.accuracy ?? .nan }) }) {
            let acc = results.map { $0.accuracy ?? .nan }
            table.addRow([label, TerminalFormat.grouped(results[0].parameters), pct(mean(acc)), pct(std(acc)), "\(results.count)",
                          pct(results[0].chance), String(format: "%.0f", results.reduce(0) { $0 + $1.elapsedSeconds })])
        }
        print("")
        print("\(capability.id), \(steps) steps per run")
        print(table.render())
    }
}

private func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }

/// Sample standard deviation (n − 1); 0 for a single value.
private func std(_ v: [Double]) -> Double {
    guard v.count > 1 else { return 0 }
    let m = mean(v)
    return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
}
