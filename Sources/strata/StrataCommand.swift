import ArgumentParser
import Foundation
import Strata

/// The `strata` command: one tool for building, training, measuring and compressing transformer variants.
@main
struct StrataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Build, train, compare and compress transformer variants on the CPU.",
        version: StrataVersion.current,
        subcommands: [TrainCommand.self, EvalCommand.self, SampleCommand.self, CompareCommand.self, ReportCommand.self,
                      RunsCommand.self, TokenizerCommand.self, CatalogCommand.self, ConvertCommand.self, BenchCommand.self,
                      TasksCommand.self, EmbedCommand.self, SimilarityCommand.self, ExportCommand.self, ImportCommand.self,
                      LogitsCommand.self, ReadCheckCommand.self, SpecCommand.self])

    /// Checks the environment, parses, runs; every error leaves through `exit(withError:)` (exit 64 for bad usage,
    /// 1 for failures) after being said in terms of the file, flag or variable at fault.
    static func main() {
        do {
            try EnvironmentCheck.run()
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: UserFacingError.translate(error))
        }
    }
}

/// Environment variables the tool reads, checked before anything runs.
enum EnvironmentCheck {
    /// Refuses a `STRATA_THREADS` that is not a positive integer; notes when it exceeds the cores (it is capped).
    static func run(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let text = environment["STRATA_THREADS"] else { return }
        guard let n = ThreadPool.threadCount(parsing: text) else {
            throw ValidationError("STRATA_THREADS=\(text): expected a positive whole number of threads (unset it for all cores)")
        }
        let cores = ThreadPool.availableCores
        if n > cores {
            FileHandle.standardError.write(Data("note: STRATA_THREADS=\(n) is more than the \(cores) cores; using \(cores)\n".utf8))
        }
    }
}

/// Turns Foundation's file errors (which print as `NSCocoaErrorDomain error 256`) into sentences naming the file.
enum UserFacingError {
    static func translate(_ error: Error) -> Error {
        guard isFoundationFileError(error) else { return error }
        guard let path = fileErrorPath(error) else { return CLIError("file error: \(error)") }
        return CLIError("\(path): \(fileErrorReason(error, path: path))")
    }
}
