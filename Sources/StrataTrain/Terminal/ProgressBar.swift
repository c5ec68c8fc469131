import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A progress line on stderr: `label [#####...............] 120/600 loss 2.31 tok/s 5,120 ETA 3m12s`.
///
/// On a terminal the line is redrawn in place with `\r` (at most ~10 times a second). When stderr is a
/// file or pipe (CI logs, `nohup`), carriage returns would pile up into one huge line, so a plain line
/// is printed instead each time another 5% of the steps is done or 10 s have passed, whichever is first.
public final class ProgressBar {
    /// Step count at which the work is done.
    public var total: Int
    /// Text before the bar.
    public let label: String
    /// Number of cells in the bar.
    public var barWidth = 20

    private let interactive: Bool
    private let clock: () -> Double
    private let output: (String) -> Void
    private let initialStep: Int
    private let startTime: Double
    private var lastEmitTime: Double
    private var lastEmitStep: Int
    private var lastStep: Int
    private var lastFields: [(String, String)] = []
    private var finished = false

    /// Seconds between plain lines when stderr is not a terminal, even if 5% has not passed.
    public static let plainLineInterval = 10.0
    /// Seconds between redraws on a terminal.
    public static let redrawInterval = 0.1

    /// A bar on stderr, redrawn in place when stderr is a terminal; `initialStep` > 0 when resuming.
    public convenience init(total: Int, label: String, initialStep: Int = 0) {
        let start = DispatchTime.now().uptimeNanoseconds
        self.init(total: total, label: label, initialStep: initialStep, interactive: isatty(STDERR_FILENO) == 1,
                  clock: { Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9 },
                  output: { FileHandle.standardError.write(Data($0.utf8)) })
    }

    /// A bar with an explicit mode, clock (seconds, monotonic) and sink, so output can be captured.
    public init(total: Int, label: String, initialStep: Int = 0, interactive: Bool,
                clock: @escaping () -> Double, output: @escaping (String) -> Void) {
        self.total = max(total, 0)
        self.label = label
        self.initialStep = initialStep
        self.interactive = interactive
        self.clock = clock
        self.output = output
        startTime = clock()
        lastEmitTime = startTime
        lastEmitStep = initialStep
        lastStep = initialStep
    }

    /// Records that `step` steps are done and shows `fields` (name, formatted value) after the count.
    public func update(step: Int, fields: [(String, String)] = []) {
        guard !finished else { return }
        lastStep = step
        lastFields = fields
        let now = clock()
        let done = step >= total
        if interactive {
            guard done || now - lastEmitTime >= ProgressBar.redrawInterval || lastEmitStep == initialStep else { return }
            output("\r" + line(now: now) + "\u{1B}[K")
        } else {
            // One line per 5% of the steps (at least one step), or every 10 s on slow runs.
            let stride = max(1, total / 20)
            guard done || step >= lastEmitStep + stride || now - lastEmitTime >= ProgressBar.plainLineInterval
            else { return }
            output(line(now: now) + "\n")
        }
        lastEmitTime = now
        lastEmitStep = step
    }

    /// Prints a message on its own line above the bar (the bar is redrawn below it on a terminal).
    public func note(_ message: String) {
        guard !finished else { output(message + "\n"); return }
        if interactive {
            output("\r\u{1B}[K" + message + "\n" + line(now: clock()) + "\u{1B}[K")
        } else {
            output(message + "\n")
        }
    }

    /// Shows the final state with the total time and ends the line; later updates are ignored.
    public func finish() {
        guard !finished else { return }
        finished = true
        let elapsed = clock() - startTime
        let text = ProgressBar.render(label: label, step: lastStep, total: total, fields: lastFields,
                                      elapsed: elapsed, initialStep: initialStep, barWidth: barWidth, finished: true)
        output(interactive ? "\r" + text + "\u{1B}[K\n" : text + "\n")
    }

    private func line(now: Double) -> String {
        ProgressBar.render(label: label, step: lastStep, total: total, fields: lastFields, elapsed: now - startTime,
                           initialStep: initialStep, barWidth: barWidth, finished: false)
    }

    /// The text of one progress line; ETA extrapolates the mean rate since `initialStep`.
    public static func render(
        label: String, step: Int, total: Int, fields: [(String, String)], elapsed: Double,
        initialStep: Int = 0, barWidth: Int = 20, finished: Bool = false
    ) -> String {
        let fraction = total > 0 ? min(max(Double(step) / Double(total), 0), 1) : 1
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled)
        // The step is padded to the width of the total so the line keeps its length while redrawn.
        let totalText = String(total)
        let stepText = String(step)
        var parts = [label, "[\(bar)]",
                     String(repeating: " ", count: max(0, totalText.count - stepText.count)) + stepText + "/" + totalText]
        for (name, value) in fields { parts.append("\(name) \(value)") }
        if finished {
            parts.append("in " + TerminalFormat.duration(elapsed))
        } else {
            let doneSteps = step - initialStep
            let eta = doneSteps > 0 && elapsed > 0
                ? Double(max(total - step, 0)) * elapsed / Double(doneSteps) : Double.nan
            parts.append("ETA " + TerminalFormat.duration(eta))
        }
        return parts.filter { !$0.isEmpty }.joined(separator: " ")
    }
}
