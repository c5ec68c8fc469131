import Foundation

/// Run ids: `yyyyMMdd-HHmm-<slug>-<4 hex>` in UTC, so that sorting ids sorts runs by start time and a
/// short prefix (the date) or the slug is enough to find a run from the command line.
enum RunID {
    /// Longest slug kept from the run name, so ids stay readable in tables.
    static let maxSlugLength = 32

    /// A fresh id for a run called `name` started at `date`; `generator` draws the suffix.
    static func make(name: String, date: Date, using generator: inout some RandomNumberGenerator) -> String {
        let suffix = String(UInt16.random(in: 0...UInt16.max, using: &generator), radix: 16)
        let padded = String(repeating: "0", count: 4 - suffix.count) + suffix
        return "\(timestamp(date))-\(slug(name))-\(padded)"
    }

    /// `yyyyMMdd-HHmm` in UTC, computed by hand so it does not depend on locale or time zone settings.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        func two(_ v: Int?) -> String { let v = v ?? 0; return v < 10 ? "0\(v)" : "\(v)" }
        return "\(c.year ?? 1970)\(two(c.month))\(two(c.day))-\(two(c.hour))\(two(c.minute))"
    }

    /// Lower-case ASCII letters and digits, other runs of characters collapsed to one '-'; "run" if empty.
    static func slug(_ name: String) -> String {
        var out = ""
        var pendingDash = false
        for scalar in name.unicodeScalars {
            let lower = scalar.properties.lowercaseMapping
            if lower.unicodeScalars.count == 1, let c = lower.unicodeScalars.first, c.isASCII,
               ("a"..."z").contains(c) || ("0"..."9").contains(c) {
                if pendingDash && !out.isEmpty { out.append("-") }
                pendingDash = false
                out.unicodeScalars.append(c)
                if out.count >= maxSlugLength { break }
            } else {
                pendingDash = true
            }
        }
        return out.isEmpty ? "run" : out
    }
}
