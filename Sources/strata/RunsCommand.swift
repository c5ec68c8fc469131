import ArgumentParser
import Foundation
import Strata

/// `strata runs …`: list, inspect and delete runs in the store.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List, show, remove runs; rebuild a damaged store.",
        subcommands: [RunsList.self, RunsShow.self, RunsRemove.self, RunsRepair.self], defaultSubcommand: RunsList.self)
}

/// `yyyy-MM-dd HH:mm` in UTC, independent of locale.
func utcTimestamp(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd HH:mm"
    return formatter.string(from: date)
}

/// `strata runs list`: the most recent runs, one line each.
struct RunsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the most recent runs.")
    @Option(help: "Show at most N runs.")
    var limit = 20
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1 (got \(limit))") }
    }

    func run() throws {
        let s = try store.open()
        // A `running` row whose process is gone is marked as such (best effort: a read-only store still lists).
        _ = try? s.markGoneRunsInterrupted()
        let runs = try s.runs(limit: limit)
        guard !runs.isEmpty else { print("no runs in \(s.root.path)"); return }
        var table = TextTable(headers: ["id", "kind", "status", "params", "steps", "val bpb", "tok/s", "created (UTC)"])
        for r in runs {
            let n = r.summaryNumbers
            table.addRow([r.id, r.kind.rawValue, s.displayStatus(of: r),
                          r.kind == .compare ? "" : TerminalFormat.grouped(r.parameterCount),
                          n["steps"].map { TerminalFormat.grouped(Int($0)) } ?? "",
                          n["val_bpb"].map { TerminalFormat.fixed($0, 4) } ?? "",
                          n["tokens_per_s"].map { TerminalFormat.grouped(Int($0.rounded())) } ?? "",
                          utcTimestamp(r.createdAt)])
        }
        print(table.render(), terminator: "")
    }
}

/// `strata runs show`: one run in full — spec summary, config, evaluations, final probes (or members of a comparison).
struct RunsShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one run: spec, config, evaluations, probes.")
    @Argument(help: ArgumentHelp("Run id or unique prefix.", valueName: "run"))
    var target: String
    @OptionGroup var store: StoreOptions

    func run() throws {
        let s = try store.open()
        _ = try? s.markGoneRunsInterrupted()
        let r = try s.run(id: target)
        print("run        \(r.id) (\(r.kind.rawValue), \(s.displayStatus(of: r)))")
        if r.status == .running, case .live(let holder) = s.liveness(of: r) {
            let age = Int(Date().timeIntervalSince(r.updatedAt).rounded())
            print("process    \(holder?.text ?? "holds the run's lock"); last write \(age) s ago")
        }
        print("name       \(r.name)")
        print("created    \(utcTimestamp(r.createdAt)) UTC, updated \(utcTimestamp(r.updatedAt)) UTC")
        print("directory  \(r.directory.path)")
        if r.kind != .compare {
            print("parameters \(TerminalFormat.grouped(r.parameterCount)), seed \(r.seed), \(r.threads) threads")
            print("spec       \(ReportRun.summarize(specJSON: r.specJSON, limit: 400))")
        }
        print("config\n" + r.configJSON.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        if r.kind == .compare { try showMembers(r, store: s) } else { try showEvaluations(r, store: s) }
    }

    private func showEvaluations(_ r: RunRecord, store s: RunStore) throws {
        if let summary = r.summaryJSON { print("summary    \(summary)") }
        let evaluations = try s.evaluations(runID: r.id)
        if evaluations.isEmpty { print("\nno evaluations"); return }
        let withAccuracy = evaluations.contains { $0.accuracy != nil }
        var table = TextTable(headers: ["step", "split", "loss", "bpb"] + (withAccuracy ? ["accuracy"] : []) + ["tokens", "elapsed"])
        for e in evaluations {
            let accuracy = withAccuracy ? [e.accuracy.map { String(format: "%.1f%%", 100 * $0) } ?? "--"] : []
            table.addRow(["\(e.step)", e.split, TerminalFormat.fixed(e.loss, 4), e.bpb.map { TerminalFormat.fixed($0, 4) } ?? "--"]
                         + accuracy + [TerminalFormat.grouped(e.tokensSeen), TerminalFormat.duration(e.elapsedSeconds)])
        }
        print("\nevaluations\n" + table.render(), terminator: "")
        let probes = try s.probes(runID: r.id)
        guard let last = probes.map(\.step).max() else { return }
        // Per-head entropies (attention_entropy.hN) would make the table unreadably wide; their mean is shown.
        let final = probes.filter { $0.step == last && !$0.name.contains(".") }
        let names = Array(Set(final.map(\.name))).sorted()
        var probeTable = TextTable(headers: ["layer"] + names)
        for layer in Array(Set(final.map(\.layer))).sorted() {
            probeTable.addRow(["\(layer)"] + names.map { name in
                final.first { $0.layer == layer && $0.name == name }.map { TerminalFormat.fixed($0.value, 4) } ?? ""
            })
        }
        print("\nprobes at step \(last)\n" + probeTable.render(), terminator: "")
    }

    private func showMembers(_ r: RunRecord, store s: RunStore) throws {
        let members = try s.comparison(compareID: r.id)
        var table = TextTable(headers: ["label", "seed", "run", "status", "val bpb"])
        for m in members {
            let member = try? s.run(id: m.runID)
            table.addRow([m.label, "\(m.seed)", m.runID, member?.status.rawValue ?? "removed",
                          member?.summaryNumbers["val_bpb"].map { TerminalFormat.fixed($0, 4) } ?? "--"])
        }
        print("\nmembers\n" + table.render(), terminator: "")
    }
}

/// `strata runs repair`: rebuilds a damaged or emptied `strata.sqlite` from the run directories.
struct RunsRepair: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair", abstract: "Rebuild strata.sqlite from the run directories (the old file is kept as a backup).",
        discussion: """
            Each run directory holds spec.json, config.json and checkpoints/latest.safetensors; a run's row is rebuilt \
            from them (step, tokens and elapsed time from the checkpoint; status finished if it reached its planned \
            steps, else interrupted). Metric, evaluation and probe history and comparisons are not recovered. The old \
            file is moved to strata.sqlite.broken-<time>. A store that opens and passes its integrity check is left \
            alone unless --force.
            """)
    @OptionGroup var store: StoreOptions
    @Flag(help: "Rebuild even a store that opens and passes its integrity check (its metric history is lost).")
    var force = false

    func run() throws {
        let report = try RunStore.repair(root: store.runs.map { URL(fileURLWithPath: $0) }, force: force)
        if let backup = report.backup { print("backup     \(backup.path)") }
        for r in report.recovered {
            print("recovered  \(r.id) (\(r.kind.rawValue), \(r.status.rawValue)\(r.step.map { ", step \($0)" } ?? ", no checkpoint"))")
        }
        for (directory, reason) in report.skipped { print("skipped    \(directory): \(reason)") }
        print("\(report.recovered.count) run\(report.recovered.count == 1 ? "" : "s") recovered, \(report.skipped.count) skipped")
    }
}

/// `strata runs rm`: deletes runs (rows and directories) without asking; refuses a run still being trained.
struct RunsRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove runs (rows and directories); asks no questions.")
    @Argument(help: "Run ids or unique prefixes.")
    var ids: [String]
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if ids.isEmpty { throw ValidationError("give at least one run id to remove") }
    }

    func run() throws {
        let s = try store.open()
        // Resolve every id first, so a typo in the last one removes nothing.
        var records: [RunRecord] = []
        for id in ids {
            let r = try s.run(id: id)
            if !records.contains(where: { $0.id == r.id }) { records.append(r) }
        }
        for r in records {
            try s.remove(runID: r.id)
            print("removed \(r.id) (\(r.kind.rawValue), \(r.directory.path))")
        }
    }
}
