import ArgumentParser
import Foundation
import Strata

/// `strata report`: writes the self-contained HTML report of some runs or of a comparison.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write an HTML report (loss curves, probes, speed) of runs or a comparison.",
        discussion: "Without arguments: the 10 most recent training runs. Prints the path of the written file.")

    @Argument(help: "Run ids or unique prefixes.")
    var ids: [String] = []
    @Option(name: .customLong("compare"), help: "Report the members of this comparison (id or unique prefix).")
    var compareID: String?
    @Option(help: "Output file (default: report.html in the comparison's directory, or in the run store).")
    var out: String?
    @Option(help: "Report title.")
    var title: String?
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if compareID != nil && !ids.isEmpty { throw ValidationError("give run ids or --compare ID, not both") }
    }

    func run() throws {
        let s = try store.open()
        var runIDs: [String]
        var names: [String: String] = [:]
        var heading = title ?? "Strata report"
        var defaultOut = s.root.appendingPathComponent("report.html")
        if let compareID {
            let compare = try s.run(id: compareID)
            guard compare.kind == .compare else {
                throw CLIError("--compare \(compareID): run \(compare.id) is a \(compare.kind.rawValue) run, not a comparison")
            }
            let members = try s.comparison(compareID: compare.id)
            guard !members.isEmpty else { throw CLIError("comparison \(compare.id) has no member runs") }
            runIDs = members.map(\.runID)
            for m in members { names[m.runID] = "\(m.label) seed \(m.seed)" }
            heading = title ?? "Comparison \(compare.id)"
            defaultOut = compare.directory.appendingPathComponent("report.html")
        } else if !ids.isEmpty {
            runIDs = try ids.map { try s.run(id: $0).id }
        } else {
            runIDs = try s.runs().filter { $0.kind != .compare }.prefix(10).map(\.id)
            guard !runIDs.isEmpty else { throw CLIError("no training runs in \(s.root.path) to report on") }
        }
        let runs = try runIDs.map { id in
            var run = try ReportRun.load(from: s, id: id)
            if let name = names[id] { run.name = name }
            return run
        }
        let url = out.map { URL(fileURLWithPath: $0) } ?? defaultOut
        try HTMLReport(title: heading, runs: runs, subtitle: "\(runs.count) runs from \(s.root.path)").write(to: url)
        print(url.path)
    }
}
