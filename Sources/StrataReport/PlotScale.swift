import Foundation

/// One axis of a chart: the data interval widened to round tick values, and the ticks.
public struct PlotScale: Sendable, Equatable {
    /// Lower end of the axis, in axis units (log10 of the value on a log axis).
    public var lower: Double
    /// Upper end of the axis, in axis units.
    public var upper: Double
    /// Tick values in data units (not log10), inside the axis.
    public var ticks: [Double]
    /// Whether positions are log10 of the values.
    public var logarithmic: Bool

    /// Fraction 0...1 of the way along the axis for a data value.
    public func position(_ value: Double) -> Double {
        let v = logarithmic ? log10(value) : value
        return upper > lower ? (v - lower) / (upper - lower) : 0.5
    }

    /// A linear axis covering `minimum...maximum` with about `count` "nice" ticks (1, 2 or 5 × 10^k).
    ///
    /// Heckbert's "nice numbers" (Graphics Gems, 1990); a single value gets a window around it.
    public static func linear(minimum: Double, maximum: Double, count: Int = 6) -> PlotScale {
        var lo = minimum, hi = maximum
        if !(lo.isFinite && hi.isFinite) { lo = 0; hi = 1 }
        if hi < lo { swap(&lo, &hi) }
        if hi - lo <= Swift.max(abs(lo), abs(hi)) * 1e-12 {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        let step = niceNumber(niceNumber(hi - lo, round: false) / Double(Swift.max(count - 1, 1)), round: true)
        let first = (lo / step).rounded(.down) * step
        let last = (hi / step).rounded(.up) * step
        var ticks: [Double] = []
        var k = 0
        while true {
            var v = first + Double(k) * step
            if v > last + step * 1e-9 { break }
            if abs(v) < step * 1e-9 { v = 0 }  // no "-0" or "1e-17" label at the origin
            ticks.append(v)
            k += 1
        }
        return PlotScale(lower: first, upper: last, ticks: ticks, logarithmic: false)
    }

    /// A log10 axis for positive `minimum...maximum`: decade ticks when the data spans a decade or more,
    /// else nice linear ticks placed on the log axis.
    public static func logarithmic(minimum: Double, maximum: Double, count: Int = 6) -> PlotScale {
        let lo = log10(minimum), hi = log10(maximum)
        guard lo.isFinite, hi.isFinite, minimum > 0 else {
            return linear(minimum: minimum, maximum: maximum, count: count)
        }
        if hi - lo >= 1 {
            let first = lo.rounded(.down), last = hi.rounded(.up)
            let decades = Int(last - first)
            let stride = Swift.max(1, (decades + count - 1) / count)  // skip decades on very wide ranges
            let ticks = Swift.stride(from: Int(first), through: Int(last), by: stride).map { pow(10, Double($0)) }
            return PlotScale(lower: first, upper: last, ticks: ticks, logarithmic: true)
        }
        let scale = linear(minimum: minimum, maximum: maximum, count: count)
        // Below one decade the linear ticks read better; the axis starts at the data if the nice
        // lower end is not positive (log10 of it would be undefined).
        let lower = scale.lower > 0 ? scale.lower : minimum
        let upper = scale.upper > lower ? scale.upper : maximum * 1.1
        let ticks = scale.ticks.filter { $0 >= lower && $0 <= upper }
        return PlotScale(lower: log10(lower), upper: log10(upper), ticks: ticks, logarithmic: true)
    }

    /// The nice number (1, 2, 5 or 10 × 10^k) closest to `x` (`round`) or at least `x`.
    static func niceNumber(_ x: Double, round: Bool) -> Double {
        guard x > 0, x.isFinite else { return 1 }
        let exponent = log10(x).rounded(.down)
        let fraction = x / pow(10, exponent)
        let nice: Double
        if round {
            nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
        } else {
            nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        }
        return nice * pow(10, exponent)
    }

    /// Tick labels with just enough decimals to tell neighbours apart; k / M suffixes for big values.
    public func labels() -> [String] {
        if logarithmic && upper - lower >= 1 {
            return ticks.map { PlotScale.format($0, step: $0, largest: abs($0)) }
        }
        let step = ticks.count > 1 ? abs(ticks[1] - ticks[0]) : Swift.max(abs(ticks.first ?? 1), 1e-12)
        // One unit for the whole axis, chosen by its largest tick, so "5000" never sits beside "10k".
        let largest = ticks.map(abs).max() ?? 0
        return ticks.map { PlotScale.format($0, step: step, largest: largest) }
    }

    /// Formats `value` for an axis whose ticks are `step` apart and reach `largest` in magnitude.
    static func format(_ value: Double, step: Double, largest: Double) -> String {
        if value == 0 { return "0" }
        if largest >= 1e15 || largest < 1e-6 { return String(format: "%.0e", value) }
        if largest >= 1e6 && step >= 1e5 { return trimmed(value / 1e6, step: step / 1e6) + "M" }
        if largest >= 1e4 && step >= 1e3 { return trimmed(value / 1e3, step: step / 1e3) + "k" }
        return trimmed(value, step: step)
    }

    private static func trimmed(_ value: Double, step: Double) -> String {
        let decimals = Swift.min(Swift.max(0, Int(-log10(step).rounded(.down))), 8)
        return String(format: "%.\(decimals)f", value)
    }
}
