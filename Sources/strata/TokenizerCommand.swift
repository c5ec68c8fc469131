import ArgumentParser
import Foundation
import Strata

/// `strata tokenizer …`: tokenizer tools.
struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Train byte-level BPE tokenizers.", subcommands: [TokenizerTrain.self])
}

/// `strata tokenizer train`: learns a byte-level BPE on a text file and saves a Hugging Face style tokenizer.json.
struct TokenizerTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train", abstract: "Train a byte-level BPE tokenizer and save it as tokenizer.json.",
        discussion: "Use it for training with `strata train --tokenizer FILE --set vocab_size=N`.")

    @Option(help: "Training text (default: data/kjv.txt).")
    var data = "data/kjv.txt"
    @Option(parsing: .unconditional, help: "Vocabulary size, including the 256 byte tokens.")
    var vocab: Int
    @Option(help: "Output file (tokenizer.json).")
    var out: String

    func validate() throws {
        if vocab < 256 { throw ValidationError("--vocab must be at least 256 (the byte tokens); got \(vocab)") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: data)
        let bytes: Data
        do { bytes = try Data(contentsOf: url) } catch {
            throw CLIError("--data \(data): cannot read the file (\(fileErrorReason(error, path: url.path)))")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let bar = ProgressBar(total: vocab - 256, label: "bpe merges")
        let tokenizer = BPETokenizer.train(text: text, vocabSize: vocab) { done, _ in bar.update(step: done) }
        bar.finish()
        try tokenizer.save(to: URL(fileURLWithPath: out))
        let tokens = tokenizer.encode(text).count
        print("saved      \(out) (\(tokenizer.vocabSize) tokens, \(tokenizer.merges.count) merges)")
        if tokenizer.vocabSize < vocab {
            print("note       the corpus ran out of pairs to merge before reaching --vocab \(vocab)")
        }
        print("compression \(TerminalFormat.fixed(Double(text.utf8.count) / Double(max(tokens, 1)), 3)) bytes/token on \(data) "
              + "(\(TerminalFormat.grouped(text.utf8.count)) bytes → \(TerminalFormat.grouped(tokens)) tokens)")
    }
}
