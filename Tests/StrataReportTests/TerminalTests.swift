import StrataTrain
import XCTest

/// A settable clock so progress-bar throttling is tested without waiting.
private final class FakeClock {
    var now = 0.0
}

final class TerminalTests: XCTestCase {
    func testTextTableAlignsNumbersRightAndTextLeft() {
        var table = TextTable(headers: ["Run", "Loss", "Params"])
        table.addRow(["alpha", "2.31", "10,800"])
        table.addRow(["b", "12.5", "7"])
        XCTAssertEqual(table.render(), """
            Run    Loss  Params
            -----  ----  ------
            alpha  2.31  10,800
            b      12.5       7

            """)
    }

    func testTextTableExplicitAlignmentAndRaggedRows() {
        var table = TextTable(headers: ["id", "n"], alignments: [.right, .left])
        table.addRow(["x"])
        table.addRow(["abc", "12", "dropped"])
        XCTAssertEqual(table.render(), " id  n\n---  --\n  x\nabc  12\n")
        XCTAssertEqual(table.rows, [["x", ""], ["abc", "12"]])
    }

    func testTextTableMixedColumnStaysLeftAligned() {
        var table = TextTable(headers: ["value"])
        table.addRow(["1.5"])
        table.addRow(["n/a here"])
        XCTAssertEqual(table.render(), "value\n--------\n1.5\nn/a here\n")
    }

    func testTerminalFormats() {
        XCTAssertEqual(TerminalFormat.duration(192), "3m12s")
        XCTAssertEqual(TerminalFormat.duration(45.4), "45s")
        XCTAssertEqual(TerminalFormat.duration(7380), "2h03m")
        XCTAssertEqual(TerminalFormat.duration(.nan), "--")
        XCTAssertEqual(TerminalFormat.grouped(5120), "5,120")
        XCTAssertEqual(TerminalFormat.grouped(-1_234_567), "-1,234,567")
        XCTAssertEqual(TerminalFormat.grouped(999), "999")
        XCTAssertEqual(TerminalFormat.fixed(2.3149, 2), "2.31")
        XCTAssertEqual(TerminalFormat.fixed(.infinity, 2), "inf")
        XCTAssertEqual(TerminalFormat.bytes(1536), "1.5 KiB")
        XCTAssertEqual(TerminalFormat.bytes(512), "512 B")
    }

    func testProgressLineShowsBarFieldsAndETA() {
        // 120 of 600 steps in 48 s: 2.5 steps/s, so 480 steps left take 192 s.
        let line = ProgressBar.render(label: "train", step: 120, total: 600,
                                      fields: [("loss", "2.31"), ("tok/s", "5,120")], elapsed: 48)
        XCTAssertEqual(line, "train [####................] 120/600 loss 2.31 tok/s 5,120 ETA 3m12s")
        XCTAssertEqual(ProgressBar.render(label: "t", step: 0, total: 600, fields: [], elapsed: 0),
                       "t [....................]   0/600 ETA --")
        // Resumed at step 300: the rate counts only steps done since then (100 steps in 50 s).
        XCTAssertEqual(ProgressBar.render(label: "t", step: 400, total: 600, fields: [], elapsed: 50, initialStep: 300),
                       "t [#############.......] 400/600 ETA 1m40s")
        XCTAssertEqual(ProgressBar.render(label: "t", step: 600, total: 600, fields: [], elapsed: 75, finished: true),
                       "t [####################] 600/600 in 1m15s")
    }

    func testPlainModePrintsAboutEveryFivePercent() {
        let clock = FakeClock()
        var output: [String] = []
        let bar = ProgressBar(total: 600, label: "train", interactive: false, clock: { clock.now },
                              output: { output.append($0) })
        for step in 1...600 { bar.update(step: step, fields: [("loss", "1.00")]) }
        bar.finish()
        bar.update(step: 600)  // ignored after finish
        XCTAssertEqual(output.count, 21, "20 lines at each 5% plus the final one")
        XCTAssertTrue(output.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
        XCTAssertTrue(output[0].hasPrefix("train [#...................]  30/600 loss 1.00"), output[0])
        XCTAssertTrue(output.last!.hasSuffix("600/600 loss 1.00 in 0s\n"), output.last!)
    }

    func testPlainModeAlsoPrintsAfterTenSeconds() {
        let clock = FakeClock()
        var lines = 0
        let bar = ProgressBar(total: 10_000, label: "slow", interactive: false, clock: { clock.now },
                              output: { _ in lines += 1 })
        for step in 1...5 {
            clock.now += 11
            bar.update(step: step)
        }
        XCTAssertEqual(lines, 5, "each update is > 10 s after the previous line")
    }

    func testTerminalModeRedrawsInPlace() {
        let clock = FakeClock()
        var output: [String] = []
        let bar = ProgressBar(total: 4, label: "t", interactive: true, clock: { clock.now },
                              output: { output.append($0) })
        for step in 1...4 {
            clock.now += 1
            bar.update(step: step)
        }
        bar.finish()
        XCTAssertEqual(output.count, 5)
        XCTAssertTrue(output.allSatisfy { $0.hasPrefix("\r") })
        XCTAssertFalse(output.dropLast().contains { $0.contains("\n") }, "redraws stay on one line")
        XCTAssertTrue(output.last!.hasSuffix("\n"))
    }
}
