import ArgumentParser
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
                      LogitsCommand.self, SpecCommand.self])
}
