import Foundation
import StrataTrain

/// A named line of (x, y) points for `SVGPlot.lineChart`.
public struct PlotSeries: Sendable {
    /// Legend text (escaped when drawn).
    public var name: String
    /// Points in data units; non-finite ones (and non-positive y on a log axis) are skipped.
    public var points: [PlotPoint]
    /// CSS colour of the line.
    public var color: String
    /// Dashed lines mark held-out (validation) curves next to solid training curves.
    public var dashed: Bool

    /// Memberwise initializer.
    public init(name: String, points: [PlotPoint], color: String, dashed: Bool = false) {
        self.name = name
        self.points = points
        self.color = color
        self.dashed = dashed
    }
}

/// One (x, y) point of a series.
public struct PlotPoint: Sendable, Equatable {
    /// Horizontal value.
    public var x: Double
    /// Vertical value.
    public var y: Double
    /// Memberwise initializer.
    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// One bar of `SVGPlot.barChart`.
public struct PlotBar: Sendable {
    /// Text under the bar (escaped, shortened; the full text is in a tooltip).
    public var label: String
    /// Bar height in data units; a non-finite value draws no bar and the label "n/a".
    public var value: Double
    /// CSS colour of the bar.
    public var color: String
    /// Memberwise initializer.
    public init(label: String, value: Double, color: String) {
        self.label = label
        self.value = value
        self.color = color
    }
}

/// Size and text of a chart.
public struct PlotOptions: Sendable {
    /// Heading drawn inside the SVG.
    public var title: String
    /// Text under the x axis.
    public var xLabel: String
    /// Text beside the y axis.
    public var yLabel: String
    /// Outer width in pixels.
    public var width: Double
    /// Height of the plot area plus axes, in pixels (a legend adds rows below).
    public var height: Double
    /// Plot y on a log10 axis (line charts only).
    public var logY: Bool

    /// Options with defaults sized for a full-width chart.
    public init(title: String, xLabel: String = "", yLabel: String = "", width: Double = 720, height: Double = 320,
                logY: Bool = false) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.width = width
        self.height = height
        self.logY = logY
    }
}

/// Self-contained SVG charts (no scripts, no external assets) for the HTML report.
public enum SVGPlot {
    /// Colour-blind-friendly categorical palette (Okabe & Ito, 2008), darkened yellow for contrast.
    public static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                                 "#B8A000"]

    /// The palette colour for the `index`-th run, cycling when there are more runs than colours.
    public static func color(_ index: Int) -> String { palette[((index % palette.count) + palette.count) % palette.count] }

    static let margin = (left: 64.0, right: 16.0, top: 34.0, bottom: 44.0)
    static let legendRow = 16.0

    /// A line chart: one polyline per series with two or more drawable points, a dot for a single point.
    public static func lineChart(_ series: [PlotSeries], options: PlotOptions) -> String {
        let cleaned = series.map { s in
            PlotSeries(name: s.name, points: s.points.filter {
                $0.x.isFinite && $0.y.isFinite && (!options.logY || $0.y > 0)
            }, color: s.color, dashed: s.dashed)
        }
        let all = cleaned.flatMap(\.points)
        let legendHeight = Double(series.count) * legendRow + (series.isEmpty ? 0 : 8)
        var svg = open(options, totalHeight: options.height + legendHeight)
        guard let first = all.first else {
            svg += noData(options)
            return svg + "</svg>"
        }
        var (xMin, xMax, yMin, yMax) = (first.x, first.x, first.y, first.y)
        for p in all {
            xMin = min(xMin, p.x); xMax = max(xMax, p.x)
            yMin = min(yMin, p.y); yMax = max(yMax, p.y)
        }
        let frame = plotFrame(options)
        // About one x tick per 80 px on wide charts, at least 6 (small per-layer charts then get one per layer).
        let xScale = PlotScale.linear(minimum: xMin, maximum: xMax, count: max(6, Int(frame.width / 80)))
        let yScale = options.logY ? PlotScale.logarithmic(minimum: yMin, maximum: yMax)
                                  : PlotScale.linear(minimum: yMin, maximum: yMax)
        svg += axes(frame: frame, x: xScale, y: yScale, options: options)
        for s in cleaned where !s.points.isEmpty {
            let coords = s.points.map { p in
                (frame.x + xScale.position(p.x) * frame.width, frame.y + (1 - yScale.position(p.y)) * frame.height)
            }
            let tooltip = "<title>\(Markup.escape(s.name))</title>"
            if coords.count == 1 {
                svg += "<circle cx=\"\(fmt(coords[0].0))\" cy=\"\(fmt(coords[0].1))\" r=\"3\" fill=\"\(Markup.escape(s.color))\">"
                    + tooltip + "</circle>\n"
            } else {
                let points = coords.map { "\(fmt($0.0)),\(fmt($0.1))" }.joined(separator: " ")
                svg += "<polyline fill=\"none\" stroke=\"\(Markup.escape(s.color))\" stroke-width=\"1.5\""
                    + (s.dashed ? " stroke-dasharray=\"6 3\"" : "") + " points=\"\(points)\">" + tooltip + "</polyline>\n"
            }
        }
        svg += legend(series, top: options.height + 4)
        return svg + "</svg>"
    }

    /// A vertical bar chart with the value printed above each bar.
    public static func barChart(_ bars: [PlotBar], options: PlotOptions) -> String {
        var svg = open(options, totalHeight: options.height)
        let values = bars.map(\.value).filter(\.isFinite)
        guard !values.isEmpty else {
            svg += noData(options)
            return svg + "</svg>"
        }
        let yScale = PlotScale.linear(minimum: min(0, values.min()!), maximum: max(0, values.max()!))
        let xScale = PlotScale(lower: 0, upper: 1, ticks: [], logarithmic: false)
        let frame = plotFrame(options)
        svg += axes(frame: frame, x: xScale, y: yScale, options: options)
        let slot = frame.width / Double(bars.count)
        let baseline = frame.y + (1 - yScale.position(0)) * frame.height
        let labelLimit = max(3, Int(slot / 6.5))
        for (i, bar) in bars.enumerated() {
            let center = frame.x + slot * (Double(i) + 0.5)
            let label = "<title>\(Markup.escape(bar.label))</title>"
            svg += "<text x=\"\(fmt(center))\" y=\"\(fmt(frame.y + frame.height + 14))\" text-anchor=\"middle\">"
                + label + Markup.escape(Markup.truncate(bar.label, labelLimit)) + "</text>\n"
            guard bar.value.isFinite else {
                svg += "<text x=\"\(fmt(center))\" y=\"\(fmt(baseline - 4))\" text-anchor=\"middle\">n/a</text>\n"
                continue
            }
            let top = frame.y + (1 - yScale.position(bar.value)) * frame.height
            let barWidth = min(slot * 0.7, 80)
            svg += "<rect x=\"\(fmt(center - barWidth / 2))\" y=\"\(fmt(min(top, baseline)))\" width=\"\(fmt(barWidth))\" "
                + "height=\"\(fmt(abs(baseline - top)))\" fill=\"\(Markup.escape(bar.color))\">" + label + "</rect>\n"
            svg += "<text x=\"\(fmt(center))\" y=\"\(fmt(min(top, baseline) - 4))\" text-anchor=\"middle\">"
                + Markup.escape(valueLabel(bar.value)) + "</text>\n"
        }
        return svg + "</svg>"
    }

    // MARK: Pieces

    /// Area inside the axes.
    private static func plotFrame(_ o: PlotOptions) -> (x: Double, y: Double, width: Double, height: Double) {
        (margin.left, margin.top, max(o.width - margin.left - margin.right, 10),
         max(o.height - margin.top - margin.bottom, 10))
    }

    private static func open(_ o: PlotOptions, totalHeight: Double) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(fmt(o.width))\" height=\"\(fmt(totalHeight))\" "
            + "viewBox=\"0 0 \(fmt(o.width)) \(fmt(totalHeight))\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n"
            + "<title>\(Markup.escape(o.title))</title>\n"
            + "<text x=\"\(fmt(o.width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">"
            + Markup.escape(o.title) + "</text>\n"
    }

    private static func noData(_ o: PlotOptions) -> String {
        "<text x=\"\(fmt(o.width / 2))\" y=\"\(fmt(o.height / 2))\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n"
    }

    /// Grid lines, tick labels, the frame and the axis titles.
    private static func axes(frame f: (x: Double, y: Double, width: Double, height: Double),
                             x: PlotScale, y: PlotScale, options: PlotOptions) -> String {
        var out = "<g stroke=\"#e4e4e4\" stroke-width=\"1\">\n"
        for tick in x.ticks {
            let px = f.x + x.position(tick) * f.width
            out += "<line x1=\"\(fmt(px))\" y1=\"\(fmt(f.y))\" x2=\"\(fmt(px))\" y2=\"\(fmt(f.y + f.height))\"/>\n"
        }
        for tick in y.ticks {
            let py = f.y + (1 - y.position(tick)) * f.height
            out += "<line x1=\"\(fmt(f.x))\" y1=\"\(fmt(py))\" x2=\"\(fmt(f.x + f.width))\" y2=\"\(fmt(py))\"/>\n"
        }
        out += "</g>\n<rect x=\"\(fmt(f.x))\" y=\"\(fmt(f.y))\" width=\"\(fmt(f.width))\" height=\"\(fmt(f.height))\" "
            + "fill=\"none\" stroke=\"#888\"/>\n"
        for (tick, label) in zip(x.ticks, x.labels()) {
            let px = f.x + x.position(tick) * f.width
            out += "<text x=\"\(fmt(px))\" y=\"\(fmt(f.y + f.height + 14))\" text-anchor=\"middle\">"
                + Markup.escape(label) + "</text>\n"
        }
        for (tick, label) in zip(y.ticks, y.labels()) {
            let py = f.y + (1 - y.position(tick)) * f.height
            out += "<text x=\"\(fmt(f.x - 6))\" y=\"\(fmt(py + 4))\" text-anchor=\"end\">" + Markup.escape(label) + "</text>\n"
        }
        if !options.xLabel.isEmpty {
            out += "<text x=\"\(fmt(f.x + f.width / 2))\" y=\"\(fmt(f.y + f.height + 32))\" text-anchor=\"middle\">"
                + Markup.escape(options.xLabel) + "</text>\n"
        }
        if !options.yLabel.isEmpty {
            let cy = f.y + f.height / 2
            out += "<text x=\"14\" y=\"\(fmt(cy))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(fmt(cy)))\">"
                + Markup.escape(options.yLabel) + (options.logY ? " (log)" : "") + "</text>\n"
        }
        return out
    }

    /// One row per series under the plot: a line sample (dashed like the series) and the name.
    private static func legend(_ series: [PlotSeries], top: Double) -> String {
        var out = ""
        for (i, s) in series.enumerated() {
            let y = top + Double(i) * legendRow + 8
            out += "<line x1=\"\(fmt(margin.left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(margin.left + 24))\" y2=\"\(fmt(y))\" "
                + "stroke=\"\(Markup.escape(s.color))\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6 3\"" : "")
                + "/>\n<text x=\"\(fmt(margin.left + 30))\" y=\"\(fmt(y + 4))\">" + Markup.escape(s.name) + "</text>\n"
        }
        return out
    }

    /// Short value text for bar tops: 5,120 / 12.5 / 0.031.
    static func valueLabel(_ v: Double) -> String {
        let magnitude = abs(v)
        if magnitude >= 1000 && magnitude < 1e15 { return TerminalFormat.grouped(Int(v.rounded())) }
        if magnitude >= 10 { return String(format: "%.1f", v) }
        return String(format: "%.3g", v)
    }

    /// Coordinates with one decimal: enough for screens, and keeps files small.
    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
}
