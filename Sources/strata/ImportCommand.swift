import ArgumentParser
import Foundation
import Strata

/// `strata import`: reads a Hugging Face GPT-2 or LLaMA-style directory into a Strata checkpoint.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a Hugging Face GPT-2 or LLaMA-style directory as a Strata checkpoint.",
        discussion: """
            Reads config.json and model.safetensors (family from model_type: gpt2, llama, mistral) and writes a \
            checkpoint that `strata eval`, `strata sample` and `strata export` accept. The tokenizer: Strata's byte \
            tokenizer when the directory's tokenizer.json is the 256-token byte-level BPE `strata export` writes (or \
            when there is none); any other byte-level BPE tokenizer.json is copied next to the checkpoint as \
            NAME.tokenizer.json and recorded by absolute path.
            """)

    @Argument(help: "Hugging Face model directory (config.json, model.safetensors, optional tokenizer.json).")
    var directory: String
    @Option(help: "Output checkpoint file (.safetensors).")
    var out: String
    @Option(help: "Tokenizer to record instead of the directory's: byte, or a tokenizer.json path.")
    var tokenizer: String?
    @Option(help: "Text file recorded as the checkpoint's data (what `strata eval` uses without --data).")
    var data: String?
    @Flag(help: "Replace an existing checkpoint file at --out.")
    var force = false

    func run() throws {
        let dir = URL(fileURLWithPath: directory)
        try OutputPath.checkFile(URL(fileURLWithPath: out), flag: "--out", force: force, notInside: dir)
        let configURL = dir.appendingPathComponent("config.json")
        let family = try HFConfigFile.family(try HFConfigFile.read(configURL), file: configURL.path)
        let model = family == "gpt2" ? try HFGPT2Import.load(directory: dir) : try HFLlamaImport.load(directory: dir)
        let outURL = URL(fileURLWithPath: out)
        var config = TrainConfig()
        config.tokenizer = try recordedTokenizer(from: dir, checkpoint: outURL)
        if let data { config.data = URL(fileURLWithPath: data).path }
        let vocab = config.tokenizer == "byte" ? 256 : try BPETokenizer.load(from: URL(fileURLWithPath: config.tokenizer)).vocabSize
        guard vocab <= model.spec.vocabSize else {
            throw CLIError("the tokenizer (\(config.tokenizer)) has \(vocab) tokens but the model's vocab_size is "
                           + "\(model.spec.vocabSize); pass --tokenizer with a matching tokenizer.json")
        }
        try Checkpoint.save(to: outURL, model: model, optimizer: nil, config: config, step: 0, plannedSteps: 0, sampler: nil,
                            tokensSeen: 0, elapsedSeconds: 0)
        print("imported  \(dir.path) → \(outURL.path) (\(family), \(TerminalFormat.grouped(model.parameterCount)) parameters)")
        print("tokenizer \(config.tokenizer)")
    }

    /// `byte` or the absolute path of a byte-level BPE tokenizer.json (copied next to the checkpoint).
    func recordedTokenizer(from dir: URL, checkpoint: URL) throws -> String {
        if let tokenizer {
            guard tokenizer != "byte" else { return "byte" }
            _ = try BPETokenizer.load(from: URL(fileURLWithPath: tokenizer))
            return URL(fileURLWithPath: tokenizer).path
        }
        let source = dir.appendingPathComponent("tokenizer.json")
        guard let json = try? Data(contentsOf: source) else { return "byte" }
        if HFTokenizerExport.isByteTokenizer(json) { return "byte" }
        do { _ = try BPETokenizer.load(from: source) } catch {
            throw CLIError("\(error)\n(Strata reads byte-level BPE tokenizers; pass --tokenizer byte or --tokenizer FILE)")
        }
        let copy = checkpoint.deletingPathExtension().appendingPathExtension("tokenizer.json")
        try? FileManager.default.removeItem(at: copy)
        try FileManager.default.copyItem(at: source, to: copy)
        return copy.path
    }
}
