import Foundation
import XCTest

/// The `strata` executable that `swift test` builds next to the test bundle, for end-to-end command tests.
enum StrataExecutable {
    /// Its location: the test runner is `.build/<triple>/release/StrataPackageTests.xctest` (Linux) or a bundle
    /// inside that folder (macOS); the executable sits in the same folder.
    static func url() throws -> URL {
        var dir = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).standardizedFileURL.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("strata")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        XCTFail("the strata executable was not found next to the test bundle; run `swift build -c release` first")
        throw CocoaError(.fileNoSuchFile)
    }

    /// Runs `strata arguments` in `directory`, asserts its exit status, and returns stdout followed by stderr.
    @discardableResult
    static func run(_ arguments: [String], in directory: URL, expect status: Int32 = 0,
                    file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let process = Process()
        process.executableURL = try url()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self), errText = String(decoding: errors, as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, status, "strata \(arguments.joined(separator: " ")):\n\(text)\n\(errText)",
                       file: file, line: line)
        return text + errText
    }
}
