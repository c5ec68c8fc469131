import ArgumentParser
import Foundation
import Strata

/// `strata spec`: work on specs without training them.
struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spec", abstract: "Check specs without training them.", subcommands: [SpecCheckCommand.self])
}

/// What `strata spec check --json` prints for one spec.
struct SpecCheckReport: Encodable {
    /// One problem, with its key path.
    struct Problem: Encodable {
        var path: String
        var message: String
    }
    var spec: String
    var valid: Bool
    var problems: [Problem]
    var resolved: StrataModels.JSONValue?
    var parameters: Int?
    var forwardFlopsPerToken: Double?
    var trainingFlopsPerToken: Double?
    var batch: Int
    var trainingMemory: MemoryEstimate?
    var trainingMemoryBytes: Double?
    var inferenceMemoryBytes: Double?
    var fits: Bool?
    var memoryLimitBytes: Double
    var physicalMemoryBytes: Double

    enum CodingKeys: String, CodingKey {
        case spec, valid, problems, resolved, parameters, batch, fits
        case forwardFlopsPerToken = "forward_flops_per_token", trainingFlopsPerToken = "training_flops_per_token"
        case trainingMemory = "training_memory", trainingMemoryBytes = "training_memory_bytes"
        case inferenceMemoryBytes = "inference_memory_bytes", memoryLimitBytes = "memory_limit_bytes"
        case physicalMemoryBytes = "physical_memory_bytes"
    }
}

/// `strata spec check`: validates specs (every problem at once, with key paths), prints each resolved spec with its
/// parameter count, FLOPs per token and the memory a training step needs, and exits 1 when any spec is invalid or
/// does not fit this machine.
struct SpecCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate specs without training: resolved spec, parameters, FLOPs per token, training memory.",
        discussion: """
            Exit status 0 when every spec is valid and its training step at --batch fits this machine's memory, \
            1 otherwise (every problem is printed first).
            """)

    @Argument(help: "Spec files or preset names.")
    var specs: [String]
    @Option(name: .customLong("set"), help: "Override a spec value, key.path=value (repeatable; applies to every spec).")
    var settings: [String] = []
    @Option(help: "Sequences per training step for the memory estimate (default: the trainer's batch, \(TrainConfig().batchSize)).")
    var batch: Int?
    @Flag(help: "Print a JSON array, one object per spec, instead of text.")
    var json = false
    /// For the spec fuzzer: build each valid spec and run one training step and a short decode on a tiny batch.
    @Flag(help: .hidden)
    var step = false
    /// Memory budget of `--step` in MB: larger specs are refused by the estimate instead of built.
    @Option(help: .hidden)
    var stepBudgetMb = 256

    func validate() throws {
        if specs.isEmpty { throw ValidationError("give at least one spec file or preset name") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1 (got \(batch))") }
        if stepBudgetMb < 1 { throw ValidationError("--step-budget-mb must be at least 1") }
        _ = try parseSettings(settings)
    }

    func run() throws {
        if step { try runSteps(); return }
        let batch = self.batch ?? TrainConfig().batchSize
        let reports = specs.map { check($0, batch: batch) }
        if json {
            try printJSON(reports)
        } else {
            for (i, r) in reports.enumerated() {
                if i > 0 { print("") }
                printText(r)
            }
        }
        if reports.contains(where: { !$0.valid || $0.fits == false }) { throw ExitCode(1) }
    }

    /// Loads `argument` with the settings; the problems when it does not load.
    func load(_ argument: String) -> Result<ModelSpec, SpecError> {
        do { return .success(try loadSpec(argument, settings: settings)) }
        catch let e as SpecError { return .failure(SpecError(e.issues, file: e.file ?? argument)) }
        catch { return .failure(SpecError([SpecIssue(path: "", message: "\(error)")], file: argument)) }
    }

    func check(_ argument: String, batch: Int) -> SpecCheckReport {
        var report = SpecCheckReport(spec: argument, valid: false, problems: [], batch: batch,
                                     memoryLimitBytes: MemoryBudget.defaultLimit, physicalMemoryBytes: MemoryBudget.physicalBytes)
        switch load(argument) {
        case .failure(let e):
            report.problems = e.issues.map { .init(path: $0.path, message: $0.message) }
        case .success(let spec):
            let cost = spec.cost(), memory = spec.trainingMemory(batch: batch)
            report.valid = true
            report.resolved = spec.resolvedJSON
            report.parameters = cost.parameters
            report.forwardFlopsPerToken = cost.forwardFlopsPerToken
            report.trainingFlopsPerToken = cost.trainingFlopsPerToken
            report.trainingMemory = memory
            report.trainingMemoryBytes = memory.total
            report.inferenceMemoryBytes = spec.inferenceMemory().total
            report.fits = MemoryBudget.fits(memory)
        }
        return report
    }

    func printText(_ r: SpecCheckReport) {
        guard r.valid, let resolved = r.resolved, let parameters = r.parameters, let memory = r.trainingMemory else {
            let count = r.problems.count == 1 ? "1 problem" : "\(r.problems.count) problems"
            print("\(r.spec): invalid (\(count))")
            for p in r.problems { print("  - \(p.path.isEmpty ? "" : p.path + ": ")\(p.message)") }
            return
        }
        func flops(_ x: Double) -> String { x >= 1e9 ? String(format: "%.2f G", x / 1e9) : String(format: "%.2f M", x / 1e6) }
        print("\(r.spec): valid")
        print("  parameters        \(TerminalFormat.grouped(parameters))")
        print("  FLOPs per token   \(flops(r.forwardFlopsPerToken ?? 0)) forward, \(flops(r.trainingFlopsPerToken ?? 0)) training")
        let fits = r.fits == true
            ? "fits (limit \(MemoryEstimate.format(r.memoryLimitBytes)) of \(MemoryEstimate.format(r.physicalMemoryBytes)))"
            : "DOES NOT FIT: the limit is \(MemoryEstimate.format(r.memoryLimitBytes)) of \(MemoryEstimate.format(r.physicalMemoryBytes)); lower --batch, context_length, dim or layers"
        print("  training memory   \(MemoryEstimate.format(memory.total)) at batch \(r.batch) (\(memory.breakdown)), \(fits)")
        print("  inference memory  \(MemoryEstimate.format(r.inferenceMemoryBytes ?? 0)) at batch 1")
        print("  resolved spec")
        for line in resolved.jsonText().split(separator: "\n", omittingEmptySubsequences: false) { print("    \(line)") }
    }

    /// `--step`: one line per spec, `step <spec>: ok|rejected|refused <detail>`, written and flushed as it happens,
    /// with a `start` line before each build so that a crash is attributable to its spec.
    func runSteps() throws {
        func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        let limit = Double(stepBudgetMb) * 1e6
        for argument in specs {
            switch load(argument) {
            case .failure(let e):
                say("step \(argument): rejected \(e.issues.map(\.description).joined(separator: " | "))")
            case .success(let spec):
                let length = min(spec.contextLength, 24)
                let estimate = spec.trainingMemory(batch: 2, sequenceLength: length)
                do { try MemoryBudget.require(estimate, for: "the step", limit: limit) } catch {
                    say("step \(argument): refused \(error)")
                    continue
                }
                say("step \(argument): start")
                let loss = try Threads.$limit.withValue(1) {
                    let model = try TransformerModel(spec: spec, seed: 1)
                    let loss = model.smokeStep(batch: 2, length: length)
                    // Generation past the context restarts on its last tokens (at least one, also at context_length 1).
                    if spec.model == .decoder {
                        _ = generate(model, prompt: [0], maxTokens: min(spec.contextLength + 2, 12), options: SamplingOptions(seed: 1))
                    }
                    return loss
                }
                say("step \(argument): ok loss \(loss)")
            }
        }
    }
}
