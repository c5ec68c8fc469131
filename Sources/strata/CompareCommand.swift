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
        if json { try printJSON(result.rows); return }
        print("")
        print(CompareCommand.table(result.rows, summaries: comparison.summaries).render(), terminator: "")
        print("\ncomparison \(result.compareID)\(result.complete ? "" : " (interrupted: rows cover the finished runs)")")
        for run in result.runs where run.error != nil { print("failed     \(run.label) seed \(run.seed): \(run.error!)") }
        if let report { print("report     \(report)") }
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
