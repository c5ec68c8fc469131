import ArgumentParser
import Foundation
import Strata

/// `strata export`: writes a run's (or a checkpoint's) decoder as a Hugging Face model directory.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a run or checkpoint as a Hugging Face directory (GPT-2 or LLaMA format).",
        discussion: """
            Writes config.json, model.safetensors, tokenizer.json and tokenizer_config.json (the run's tokenizer: the \
            byte tokenizer as a 256-token byte-level BPE, or its trained BPE tokenizer.json), loadable with \
            transformers' AutoModelForCausalLM and AutoTokenizer. The format is inferred from the spec unless given; \
            a spec neither format can express is refused with every reason. `strata import` reads the directory back.
            """)

    @Argument(help: ArgumentHelp("Run id (or unique prefix), run directory, or .safetensors checkpoint.", valueName: "run"))
    var target: String
    @Option(help: "Output directory (created if needed).")
    var out: String
    @Option(help: "gpt2 or llama (default: the one the spec fits).")
    var format: String?
    @Flag(help: "Do not write tokenizer files.")
    var noTokenizer = false
    @Flag(help: "Write into an existing non-empty directory, replacing the files export writes (others are kept).")
    var force = false
    @OptionGroup var store: StoreOptions

    func validate() throws {
        if let format, !["gpt2", "llama"].contains(format) {
            throw ValidationError("--format \(format): valid formats are gpt2, llama")
        }
    }

    /// The format for `spec`: `requested`, checked, or the first that fits.
    static func resolveFormat(_ requested: String?, spec: ModelSpec) throws -> String {
        let reasons = ["gpt2": HFGPT2Export.incompatibilities(spec), "llama": HFLlamaExport.incompatibilities(spec)]
        if let requested {
            guard let why = reasons[requested], !why.isEmpty else { return requested }
            throw CLIError("the spec cannot be written as \(requested): \(why.joined(separator: "; "))")
        }
        if let fit = ["gpt2", "llama"].first(where: { reasons[$0]!.isEmpty }) { return fit }
        throw CLIError("the spec fits neither export format.\n  gpt2: \(reasons["gpt2"]!.joined(separator: "; "))\n"
                       + "  llama: \(reasons["llama"]!.joined(separator: "; "))")
    }

    func run() throws {
        try OutputPath.checkDirectory(URL(fileURLWithPath: out), flag: "--out", force: force)
        let trained = try TrainedModel(argument: target, openStore: store.open)
        let chosen = try Self.resolveFormat(format, spec: trained.model.spec)
        var tokenizer: HFTokenizerExport.Source?
        if !noTokenizer {
            let name = trained.config.tokenizer
            if name == "byte" {
                tokenizer = .byte
            } else {
                do { tokenizer = .json(try Data(contentsOf: URL(fileURLWithPath: name))) } catch {
                    throw CLIError("cannot read the run's tokenizer \(name): \(fileErrorReason(error, path: name)) (or pass --no-tokenizer)")
                }
            }
        }
        let dir = URL(fileURLWithPath: out)
        if chosen == "gpt2" {
            try HFGPT2Export.save(trained.model, to: dir, tokenizer: tokenizer)
        } else {
            try HFLlamaExport.save(trained.model, to: dir, tokenizer: tokenizer)
        }
        print("exported  \(trained.checkpointURL.path) → \(dir.path) (\(chosen), \(TerminalFormat.grouped(trained.model.parameterCount)) parameters)")
        print("tokenizer \(noTokenizer ? "not written" : trained.config.tokenizer == "byte" ? "byte (256-token byte-level BPE)" : trained.config.tokenizer)")
    }
}

/// `strata logits` (hidden, for bench/hf_roundtrip.py): the token ids and next-token logits of prompts, as JSON.
struct LogitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logits", abstract: "Print the ids and logits of prompts as JSON (debugging aid).", shouldDisplay: false)

    @Argument(help: ArgumentHelp("Run id (or unique prefix), run directory, or .safetensors checkpoint.", valueName: "run"))
    var target: String
    @Option(help: "A prompt (repeatable); each is encoded with the run's tokenizer and run on its own.")
    var prompt: [String] = []
    @Option(parsing: .unconditional, help: "Threads (default: all cores).")
    var threads: Int?
    @OptionGroup var store: StoreOptions

    /// One prompt's result: ids [T] and logits [T][V].
    struct Row: Encodable {
        var text: String
        var ids: [Int32]
        var logits: [[Float]]
    }

    func run() throws {
        let trained = try TrainedModel(argument: target, openStore: store.open)
        let model = trained.model
        let v = model.spec.vocabSize
        let rows: [Row] = try prompt.map { text in
            let ids = trained.tokenizer.encode(text)
            guard !ids.isEmpty, ids.count <= model.spec.contextLength else {
                throw CLIError("prompt \"\(text)\" gives \(ids.count) tokens; need 1…\(model.spec.contextLength) (the context length)")
            }
            let flat = Threads.$limit.withValue(min(threads ?? ThreadPool.shared.threadCount, ThreadPool.shared.threadCount)) {
                withNoGrad { model.logits(ids, batch: 1, length: ids.count) }.scalars
            }
            return Row(text: text, ids: ids, logits: (0..<ids.count).map { Array(flat[$0 * v..<($0 + 1) * v]) })
        }
        try printJSON(["prompts": rows])
    }
}
