import Foundation
import StrataReport
import StrataTrain
import XCTest

/// Occurrences of `needle` in `text`.
private func count(_ needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

/// The `points` attribute of every polyline, keyed by its tooltip (series name, escaped).
private func polylines(in html: String) -> [String: [String]] {
    var result: [String: [String]] = [:]
    for chunk in html.components(separatedBy: "<polyline").dropFirst() {
        guard let pointsStart = chunk.range(of: "points=\""),
              let pointsEnd = chunk[pointsStart.upperBound...].firstIndex(of: "\""),
              let titleStart = chunk.range(of: "<title>"),
              let titleEnd = chunk.range(of: "</title>")
        else { continue }
        let points = chunk[pointsStart.upperBound..<pointsEnd].split(separator: " ").map(String.init)
        result[String(chunk[titleStart.upperBound..<titleEnd.lowerBound])] = points
    }
    return result
}

/// Checks that every SVG's elements nest properly: each open tag is closed in order or self-closed.
private func assertBalancedSVG(_ html: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(count("<svg", in: html), count("</svg>", in: html), "svg open/close", file: file, line: line)
    for svg in html.components(separatedBy: "<svg").dropFirst() {
        var stack = ["svg"]
        var rest = Substring(svg)
        if let end = rest.firstIndex(of: ">") { rest = rest[rest.index(after: end)...] }
        while let open = rest.firstIndex(of: "<"), !stack.isEmpty {
            guard let close = rest[open...].firstIndex(of: ">") else {
                return XCTFail("unterminated tag", file: file, line: line)
            }
            let tag = rest[rest.index(after: open)..<close]
            rest = rest[rest.index(after: close)...]
            if tag.hasPrefix("/") {
                XCTAssertEqual(stack.popLast(), String(tag.dropFirst()), "closing tag order", file: file, line: line)
            } else if !tag.hasSuffix("/") {
                stack.append(String(tag.prefix { $0 != " " && $0 != "\n" }))
            }
        }
        XCTAssertTrue(stack.isEmpty, "unclosed: \(stack)", file: file, line: line)
        XCTAssertFalse(svg.contains("nan") || svg.contains("inf\""), "no non-finite coordinates", file: file, line: line)
    }
}

final class HTMLReportTests: XCTestCase {
    private func sampleRuns() -> [ReportRun] {
        let nasty = ReportRun(
            id: "20261202-0335-model-3f2a", name: "<&> model", specSummary: "d_model=64 & <tied>", parameterCount: 10_800_000,
            evaluations: [
                EvaluationRecord(step: 0, split: "val", loss: 5.5, bpb: 7.9, tokensSeen: 0, elapsedSeconds: 0),
                EvaluationRecord(step: 50, split: "val", loss: 2.5, bpb: 3.6, tokensSeen: 1000, elapsedSeconds: 4),
                EvaluationRecord(step: 100, split: "val", loss: 2.0, bpb: 2.9, tokensSeen: 2000, elapsedSeconds: 8),
            ],
            trainLoss: [MetricPoint(step: 1, value: 5.6), MetricPoint(step: 25, value: 3.1),
                        MetricPoint(step: 50, value: .nan), MetricPoint(step: 75, value: 2.4),
                        MetricPoint(step: 100, value: .infinity), MetricPoint(step: 100, value: 2.1)],
            probes: [ProbeRecord(step: 50, layer: 0, name: "rms", value: 9),
                     ProbeRecord(step: 100, layer: 0, name: "rms", value: 1),
                     ProbeRecord(step: 100, layer: 1, name: "rms", value: 2),
                     ProbeRecord(step: 100, layer: 2, name: "rms", value: 3),
                     ProbeRecord(step: 100, layer: 0, name: "entropy", value: 0.5)],
            tokensPerSecond: 5120, peakMemoryBytes: 3 << 20)
        let plain = ReportRun(id: "20261202-0336-plain-0001", name: "plain",
                              trainLoss: [MetricPoint(step: 1, value: 5), MetricPoint(step: 100, value: 2.5)])
        return [nasty, plain]
    }

    /// Task runs store an accuracy; the summary then gains a "Best accuracy" column (absent otherwise).
    func testSummaryShowsBestAccuracyOnlyWhenARunHasOne() {
        XCTAssertFalse(HTMLReport(title: "r", runs: sampleRuns()).render().contains("Best accuracy"))
        let task = ReportRun(id: "20261202-0337-mqar-0002", name: "mqar", evaluations: [
            EvaluationRecord(step: 100, split: "test", loss: 0.4, bpb: nil, tokensSeen: 0, elapsedSeconds: 1, accuracy: 0.875),
            EvaluationRecord(step: 100, split: "test@128", loss: 1.4, bpb: nil, tokensSeen: 0, elapsedSeconds: 1, accuracy: 0.5),
        ])
        let html = HTMLReport(title: "r", runs: sampleRuns() + [task]).render()
        XCTAssertTrue(html.contains("Best accuracy"))
        XCTAssertTrue(html.contains(">87.5%<"))
    }

    func testReportHasOneSVGPerPlotEscapedNamesAndRightPointCounts() {
        let html = HTMLReport(title: "A <b> report", runs: sampleRuns(), subtitle: "strata compare a & b").render()
        // Loss + two probe names (entropy, rms) + throughput.
        XCTAssertEqual(count("<svg", in: html), 4)
        assertBalancedSVG(html)
        XCTAssertFalse(html.contains("<&>"), "raw run name leaked")
        XCTAssertFalse(html.contains("<b>") || html.contains("<tied>"))
        XCTAssertTrue(html.contains("&lt;&amp;&gt; model"))
        XCTAssertTrue(html.contains("<title>A &lt;b&gt; report</title>"))
        XCTAssertTrue(html.contains("strata compare a &amp; b"))
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>\n"))

        let lines = polylines(in: html)
        XCTAssertEqual(lines["&lt;&amp;&gt; model (train)"]?.count, 4, "NaN and inf points are skipped")
        XCTAssertEqual(lines["&lt;&amp;&gt; model (val)"]?.count, 3)
        XCTAssertEqual(lines["plain (train)"]?.count, 2)
        XCTAssertEqual(lines["&lt;&amp;&gt; model (step 100)"]?.count, 3, "probe plot uses the last step only")
        // A single probe value is a dot, not an invisible one-point polyline.
        XCTAssertTrue(html.contains("<circle"))
        // The throughput chart shows the measured run and marks the other as not available.
        XCTAssertTrue(html.contains(">5,120</text>") && html.contains(">n/a</text>"))
        XCTAssertTrue(html.contains("10,800,000") && html.contains("3.0 MiB"))
    }

    func testReportIsDeterministicAndWrittenAtomically() throws {
        let report = HTMLReport(runs: sampleRuns(), logLossAxis: true)
        XCTAssertEqual(report.render(), report.render())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("strata-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("report.html")
        try report.write(to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), report.render())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["report.html"])
        assertBalancedSVG(report.render())
    }

    func testEmptyReportStillRenders() {
        let html = HTMLReport(runs: []).render()
        XCTAssertEqual(count("<svg", in: html), 2, "loss and throughput charts, no probe charts")
        XCTAssertEqual(count("no data", in: html), 2)
        XCTAssertTrue(html.contains("no runs"))
        assertBalancedSVG(html)
    }

    func testLineChartEdgeCases() {
        let options = PlotOptions(title: "t & <u>")
        let empty = SVGPlot.lineChart([], options: options)
        XCTAssertTrue(empty.contains("no data") && empty.contains("t &amp; &lt;u&gt;"))
        assertBalancedSVG(empty)

        let allNaN = SVGPlot.lineChart([PlotSeries(name: "x", points: [PlotPoint(x: 1, y: .nan)], color: "red")],
                                       options: options)
        XCTAssertTrue(allNaN.contains("no data"))
        assertBalancedSVG(allNaN)

        let single = SVGPlot.lineChart([PlotSeries(name: "one", points: [PlotPoint(x: 3, y: 3)], color: "red")],
                                       options: options)
        XCTAssertEqual(count("<circle", in: single), 1)
        XCTAssertEqual(count("<polyline", in: single), 0)
        assertBalancedSVG(single)

        // On a log axis, zero and negative values cannot be placed and are skipped.
        var logOptions = options
        logOptions.logY = true
        let log = SVGPlot.lineChart([PlotSeries(name: "l", points: [1, 0, -1, 10, 100].enumerated().map {
            PlotPoint(x: Double($0.offset), y: $0.element)
        }, color: "blue", dashed: true)], options: logOptions)
        XCTAssertEqual(polylines(in: log)["l"]?.count, 3)
        XCTAssertTrue(log.contains("stroke-dasharray"))
        assertBalancedSVG(log)
    }

    func testBarChartHandlesNonFiniteAndEscapes() {
        let svg = SVGPlot.barChart([PlotBar(label: "a<b", value: 10, color: "red"),
                                    PlotBar(label: "c", value: .nan, color: "blue")], options: PlotOptions(title: "speed"))
        XCTAssertEqual(count("<rect", in: svg), 2, "frame plus one bar")
        XCTAssertTrue(svg.contains("a&lt;b") && !svg.contains("a<b"))
        assertBalancedSVG(svg)
        XCTAssertTrue(SVGPlot.barChart([], options: PlotOptions(title: "none")).contains("no data"))
    }

    func testNiceTicks() {
        let linear = PlotScale.linear(minimum: 0.3, maximum: 9.7)
        XCTAssertEqual(linear.ticks, [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(linear.labels(), ["0", "2", "4", "6", "8", "10"])
        XCTAssertEqual(PlotScale.linear(minimum: 2.05, maximum: 2.47).labels(), ["2.0", "2.1", "2.2", "2.3", "2.4", "2.5"])
        XCTAssertEqual(PlotScale.linear(minimum: 0, maximum: 20_000).labels(), ["0", "5k", "10k", "15k", "20k"])
        XCTAssertEqual(PlotScale.linear(minimum: 0, maximum: 3_000_000).labels(), ["0", "1M", "2M", "3M"])
        let log = PlotScale.logarithmic(minimum: 0.02, maximum: 80)
        XCTAssertEqual(log.labels(), ["0.01", "0.1", "1", "10", "100"])
        XCTAssertEqual(log.position(1), 0.5, accuracy: 1e-12)
        let point = PlotScale.linear(minimum: 5, maximum: 5)
        XCTAssertLessThan(point.lower, 5)
        XCTAssertGreaterThan(point.upper, 5)
        let narrowLog = PlotScale.logarithmic(minimum: 2, maximum: 3)
        XCTAssertTrue(narrowLog.ticks.allSatisfy { $0 > 0 })
        XCTAssertFalse(narrowLog.ticks.isEmpty)
    }

    func testMarkupEscapesEverythingXMLForbids() {
        XCTAssertEqual(Markup.escape("a<b & \"c\" 'd'\u{01}\n"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;\u{FFFD}\n")
        XCTAssertEqual(Markup.truncate("abcdef", 4), "abc…")
        XCTAssertEqual(Markup.truncate("abc", 4), "abc")
    }

    func testLoadFromStore() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("strata-report-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let store = try RunStore(root: root)
        let run = try store.createRun(
            name: "bench <char>", kind: .train,
            specJSON: #"{"d_model": 384, "n_layers": 6, "norm": {"kind": "layer_norm"}, "tied": true, "blocks": [1]}"#,
            configJSON: "{}", parameterCount: 42, seed: 1, threads: 2)
        for (step, speed) in [100.0, 5000, 5100, 5200].enumerated() {
            try store.logMetrics(runID: run.id, step: step + 1, [RunMetric.trainLoss: 4 - Double(step), RunMetric.tokensPerSecond: speed])
        }
        try store.logEvaluation(runID: run.id, step: 4, split: "val", loss: 1.5, bpb: 2.1, tokensSeen: 64, elapsedSeconds: 1)
        try store.logProbes(runID: run.id, step: 4, [(layer: 0, name: "rms", value: 1)])
        try store.finish(runID: run.id, status: .finished, summary: ["peak_memory_bytes": 2048.0])

        let loaded = try ReportRun.load(from: store, id: String(run.id.prefix(run.id.count - 2)))
        XCTAssertEqual(loaded.id, run.id)
        XCTAssertEqual(loaded.name, "bench <char>")
        XCTAssertEqual(loaded.specSummary, "d_model=384, n_layers=6, norm.kind=layer_norm, tied=true")
        XCTAssertEqual(loaded.parameterCount, 42)
        XCTAssertEqual(loaded.trainLoss.map(\.value), [4, 3, 2, 1])
        XCTAssertEqual(loaded.tokensPerSecond, 5100, "median of the logged speeds")
        XCTAssertEqual(loaded.peakMemoryBytes, 2048, "from the summary")
        XCTAssertEqual(loaded.evaluations.count, 1)
        XCTAssertEqual(loaded.probes, [ProbeRecord(step: 4, layer: 0, name: "rms", value: 1)])
    }
}
