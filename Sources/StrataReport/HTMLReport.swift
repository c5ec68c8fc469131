import Foundation
import StrataTrain

/// One self-contained HTML page comparing runs: a summary table, loss curves, per-layer probe plots
/// and a throughput chart. Inline CSS and SVG only, so the file opens offline in any browser and can be
/// mailed or archived as is.
public struct HTMLReport: Sendable {
    /// Page heading and `<title>`.
    public var title: String
    /// Runs in display order; run i gets palette colour i in every chart.
    public var runs: [ReportRun]
    /// Plot loss on a log10 axis (useful when early losses dwarf late differences).
    public var logLossAxis: Bool
    /// Optional line under the heading (e.g. the command or date); the page has no clock of its own,
    /// so the same inputs always give the same bytes.
    public var subtitle: String?
    /// Longest training-loss curve drawn as is; longer ones are averaged over equal step buckets.
    public var maxCurvePoints: Int

    /// A report over `runs`.
    public init(title: String = "Strata report", runs: [ReportRun], logLossAxis: Bool = false,
                subtitle: String? = nil, maxCurvePoints: Int = 1500) {
        self.title = title
        self.runs = runs
        self.logLossAxis = logLossAxis
        self.subtitle = subtitle
        self.maxCurvePoints = maxCurvePoints
    }

    /// The whole page.
    public func render() -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Markup.escape(title))</title>
            <style>\(HTMLReport.css)</style>
            </head>
            <body>
            <h1>\(Markup.escape(title))</h1>

            """
        if let subtitle { html += "<p class=\"subtitle\">\(Markup.escape(subtitle))</p>\n" }
        html += "<h2>Summary</h2>\n" + summaryTable()
        html += "<h2>Loss</h2>\n<div class=\"figure\">\n" + lossChart() + "\n</div>\n"
        html += "<h2>Per-layer probes</h2>\n" + probeCharts()
        html += "<h2>Throughput</h2>\n<div class=\"figure\">\n" + speedChart() + "\n</div>\n"
        return html + "</body>\n</html>\n"
    }

    /// Renders and writes the page atomically (a reader never sees half a report).
    public func write(to url: URL) throws {
        try AtomicFile.write(render(), to: url)
    }

    // MARK: Sections

    private func summaryTable() -> String {
        // Capability-task runs carry an accuracy; the column appears when any run has one.
        let withAccuracy = runs.contains { $0.evaluations.contains { $0.accuracy != nil } }
        let headers = ["Run", "Id", "Spec", "Params", "Steps", "Train loss", "Best val loss", "Best val bpb"]
            + (withAccuracy ? ["Best accuracy"] : []) + ["Tokens/s", "Peak memory"]
        // Columns from "Params" on hold numbers: right-aligned like their cells.
        var html = "<table>\n<thead><tr>" + headers.enumerated().map { i, title in
            i >= 3 ? "<th class=\"num\">\(title)</th>" : "<th>\(title)</th>"
        }.joined() + "</tr></thead>\n<tbody>\n"
        for (i, run) in runs.enumerated() {
            let validation = HTMLReport.validationEvaluations(run)
            let bestLoss = validation.map(\.loss).filter(\.isFinite).min()
            let bestBPB = validation.compactMap(\.bpb).filter(\.isFinite).min()
            let bestAccuracy = validation.compactMap(\.accuracy).filter(\.isFinite).max()
            let lastTrain = run.trainLoss.last { $0.value.isFinite }
            let steps = max(run.trainLoss.last?.step ?? 0, run.evaluations.map(\.step).max() ?? 0)
            var cells: [(String, Bool)] = [
                ("<span class=\"swatch\" style=\"background:\(SVGPlot.color(i))\"></span>" + Markup.escape(run.name), false),
                ("<code>" + Markup.escape(run.id) + "</code>", false),
                (Markup.escape(run.specSummary), false),
                (TerminalFormat.grouped(run.parameterCount), true),
                (TerminalFormat.grouped(steps), true),
                (lastTrain.map { TerminalFormat.fixed($0.value, 4) } ?? "–", true),
                (bestLoss.map { TerminalFormat.fixed($0, 4) } ?? "–", true),
                (bestBPB.map { TerminalFormat.fixed($0, 4) } ?? "–", true),
            ]
            if withAccuracy {
                let text: String = bestAccuracy.map { String(format: "%.1f%%", 100 * $0) } ?? "–"
                cells.append((text, true))
            }
            cells.append((run.tokensPerSecond.map { TerminalFormat.grouped(Int($0.rounded())) } ?? "–", true))
            cells.append((run.peakMemoryBytes.map(TerminalFormat.bytes) ?? "–", true))
            html += "<tr>" + cells.map { $0.1 ? "<td class=\"num\">\($0.0)</td>" : "<td>\($0.0)</td>" }.joined() + "</tr>\n"
        }
        if runs.isEmpty { html += "<tr><td colspan=\"\(headers.count)\">no runs</td></tr>\n" }
        return html + "</tbody>\n</table>\n"
    }

    /// Train loss solid, each held-out split dashed, one colour per run.
    private func lossChart() -> String {
        var series: [PlotSeries] = []
        for (i, run) in runs.enumerated() {
            let color = SVGPlot.color(i)
            if !run.trainLoss.isEmpty {
                let points = HTMLReport.downsample(run.trainLoss.map { PlotPoint(x: Double($0.step), y: $0.value) },
                                                   to: maxCurvePoints)
                series.append(PlotSeries(name: "\(run.name) (train)", points: points, color: color))
            }
            let splits = Set(run.evaluations.map(\.split)).sorted()
            for split in splits where split != "train" || run.trainLoss.isEmpty {
                let points = run.evaluations.filter { $0.split == split }.map { PlotPoint(x: Double($0.step), y: $0.loss) }
                series.append(PlotSeries(name: "\(run.name) (\(split))", points: points, color: color,
                                         dashed: split != "train"))
            }
        }
        return SVGPlot.lineChart(series, options: PlotOptions(title: "Loss", xLabel: "step", yLabel: "loss (nats/token)",
                                                              logY: logLossAxis))
    }

    /// One small chart per probe name: value by layer at each run's last probed step.
    private func probeCharts() -> String {
        let names = Set(runs.flatMap { $0.probes.map(\.name) }).sorted()
        guard !names.isEmpty else { return "<p class=\"note\">No probes were logged for these runs.</p>\n" }
        var html = "<div class=\"grid\">\n"
        for name in names {
            var series: [PlotSeries] = []
            for (i, run) in runs.enumerated() {
                let rows = run.probes.filter { $0.name == name }
                guard let lastStep = rows.map(\.step).max() else { continue }
                let points = rows.filter { $0.step == lastStep }.sorted { $0.layer < $1.layer }
                    .map { PlotPoint(x: Double($0.layer), y: $0.value) }
                series.append(PlotSeries(name: "\(run.name) (step \(lastStep))", points: points, color: SVGPlot.color(i)))
            }
            html += "<div class=\"figure\">\n" + SVGPlot.lineChart(series, options: PlotOptions(
                title: name, xLabel: "layer", yLabel: name, width: 360, height: 240)) + "\n</div>\n"
        }
        return html + "</div>\n"
    }

    private func speedChart() -> String {
        let bars = runs.enumerated().map { i, run in
            PlotBar(label: run.name, value: run.tokensPerSecond ?? .nan, color: SVGPlot.color(i))
        }
        return SVGPlot.barChart(bars, options: PlotOptions(title: "Training throughput", yLabel: "tokens/s",
                                                           width: max(360, min(720, 120 + 90 * Double(runs.count))),
                                                           height: 280))
    }

    // MARK: Helpers

    /// The held-out evaluations of a run: split "val" when present, else every split but "train".
    static func validationEvaluations(_ run: ReportRun) -> [EvaluationRecord] {
        let val = run.evaluations.filter { $0.split == "val" }
        return val.isEmpty ? run.evaluations.filter { $0.split != "train" } : val
    }

    /// Averages consecutive points into `limit` buckets of equal count (keeps the curve's shape, and
    /// smooths step-to-step noise the way a plotted moving average would); non-finite points are
    /// dropped first so one NaN does not blank a bucket.
    static func downsample(_ points: [PlotPoint], to limit: Int) -> [PlotPoint] {
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        guard limit > 0, finite.count > limit else { return points }
        return (0..<limit).map { b in
            let range = (b * finite.count / limit)..<((b + 1) * finite.count / limit)
            let slice = finite[range]
            let n = Double(slice.count)
            return PlotPoint(x: slice.reduce(0) { $0 + $1.x } / n, y: slice.reduce(0) { $0 + $1.y } / n)
        }
    }

    static let css = """
        body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;\
        padding:0 1em;color:#222}
        h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
        .subtitle,.note{color:#666}
        table{border-collapse:collapse;font-size:.9em}
        th,td{padding:.3em .6em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
        th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        code{font-size:.95em;white-space:nowrap}
        .swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;border-radius:2px}
        .grid{display:flex;flex-wrap:wrap;gap:1em}
        .figure svg{max-width:100%;height:auto}
        """
}
