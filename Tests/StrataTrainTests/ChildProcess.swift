import Foundation
import XCTest

/// How a child `strata` process ended: its exit status, whether a signal ended it (a trap is SIGILL or SIGTRAP,
/// an abort SIGABRT), whether the test's own time limit killed it, and what it printed.
struct ChildResult {
    var status: Int32
    var signaled: Bool
    var timedOut: Bool
    var stdout: String
    var stderr: String

    /// A crash: a signal the test did not send, or an exit status of 128 or more (a shell's way of saying one).
    var trapped: Bool { (signaled && !timedOut) || (!signaled && status >= 128) }
    /// The first line that says what went wrong (ArgumentParser prints `Error: …`).
    var errorLine: String? {
        (stderr + "\n" + stdout).split(separator: "\n").first { $0.hasPrefix("Error:") || $0.hasPrefix("error") }.map(String.init)
    }
}

/// Runs the built `strata` executable in a child process, with extra environment and a time limit.
enum ChildProcess {
    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:],
                    timeout: Double = 60) throws -> ChildResult {
        let process = Process()
        process.executableURL = try StrataExecutable.url()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let outURL = directory.appendingPathComponent(".child-\(UUID().uuidString).out")
        let errURL = directory.appendingPathComponent(".child-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        // Files, not pipes: a chatty child cannot fill a pipe buffer and stall while the test waits on it.
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline { timedOut = true; kill(process.processIdentifier, SIGKILL) }
            usleep(5_000)
        }
        process.waitUntilExit()
        return ChildResult(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                           timedOut: timedOut,
                           stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                           stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// A fresh temporary directory with a small text corpus (`corpus.txt`, about 14 KB).
    static func workDirectory(_ label: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let corpus = String(repeating: "In the beginning God created the heaven and the earth. Ünïcödé café.\n", count: 200)
        try corpus.write(to: dir.appendingPathComponent("corpus.txt"), atomically: true, encoding: .utf8)
        return dir
    }
}
