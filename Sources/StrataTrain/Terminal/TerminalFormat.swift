import Foundation

/// Locale-independent number and duration formatting for terminal output (tables, progress bars).
public enum TerminalFormat {
    /// `5120` → `"5,120"`; negative numbers keep their sign.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return value < 0 ? "-" + out : out
    }

    /// `192` → `"3m12s"`, `45` → `"45s"`, `7_380` → `"2h03m"`; non-finite or negative → `"--"`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "--" }
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        if h > 0 { return "\(h)h\(two(m))m" }
        if m > 0 { return "\(m)m\(two(s))s" }
        return "\(s)s"
    }

    /// Fixed-point with `digits` decimals (`fixed(2.3149, 2)` → `"2.31"`); NaN and infinities spelled out.
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        return String(format: "%.\(max(0, digits))f", value)
    }

    /// Bytes with a binary unit: `1536` → `"1.5 KiB"`.
    public static func bytes(_ value: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var amount = Double(value)
        var unit = 0
        while abs(amount) >= 1024 && unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : fixed(amount, amount < 10 ? 1 : 0) + " " + units[unit]
    }
}
