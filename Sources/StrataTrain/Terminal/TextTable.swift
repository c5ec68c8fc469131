import Foundation

/// A plain-text table with aligned columns, for leaderboards and `strata runs list`.
///
/// Columns whose cells all look numeric are right-aligned (so digits line up), others left-aligned,
/// unless an alignment is given. Widths count Characters, so accented names stay aligned.
public struct TextTable: Sendable {
    /// How a column's cells are padded.
    public enum Alignment: Sendable {
        case left, right
        /// Right when every non-empty body cell parses as a number, else left.
        case automatic
    }

    /// Column titles, in order.
    public var headers: [String]
    /// Alignment of each column (same count as `headers`).
    public var alignments: [Alignment]
    /// Body rows; short rows are padded with empty cells, long ones truncated to the column count.
    public private(set) var rows: [[String]] = []
    /// Text between columns.
    public var separator = "  "

    /// A table with these column titles, every column `.automatic` unless `alignments` is given.
    public init(headers: [String], alignments: [Alignment]? = nil) {
        self.headers = headers
        self.alignments = alignments ?? Array(repeating: .automatic, count: headers.count)
        if self.alignments.count < headers.count {
            self.alignments += Array(repeating: .automatic, count: headers.count - self.alignments.count)
        }
    }

    /// Appends one row of cells.
    public mutating func addRow(_ cells: [String]) {
        var row = Array(cells.prefix(headers.count))
        row += Array(repeating: "", count: headers.count - row.count)
        rows.append(row)
    }

    /// The table as lines: header, a rule of dashes, then the rows; no trailing spaces.
    public func render() -> String {
        let columns = headers.indices
        let widths = columns.map { c in rows.reduce(headers[c].count) { max($0, $1[c].count) } }
        let rightAligned = columns.map { c -> Bool in
            switch alignments[c] {
            case .left: return false
            case .right: return true
            case .automatic:
                let cells = rows.map { $0[c] }.filter { !$0.isEmpty }
                return !cells.isEmpty && cells.allSatisfy(TextTable.looksNumeric)
            }
        }
        func line(_ cells: [String]) -> String {
            let padded = columns.map { c -> String in
                let gap = String(repeating: " ", count: widths[c] - cells[c].count)
                return rightAligned[c] ? gap + cells[c] : cells[c] + gap
            }
            var text = padded.joined(separator: separator)
            while text.last == " " { text.removeLast() }
            return text
        }
        var lines = [line(headers), columns.map { String(repeating: "-", count: widths[$0]) }.joined(separator: separator)]
        lines += rows.map(line)
        return lines.joined(separator: "\n") + "\n"
    }

    /// True for cells like `12`, `-3.5e-4`, `5,120`, `12.5%`, `3.2x`, `10.8M`, `nan`, `--`.
    static func looksNumeric(_ cell: String) -> Bool {
        var text = cell.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: ",", with: "")
        if ["nan", "inf", "-inf", "--", "-"].contains(text) { return true }
        if let last = text.last, "%xXkKMGB".contains(last) { text.removeLast() }
        return !text.isEmpty && Double(text) != nil
    }
}
