import ArgumentParser
import Foundation
import Strata

/// `strata read-check` (hidden; the file fuzzer in the tests drives it): reads each file with the reader a command
/// would use and prints one line per file, `ok …` or `error …`, so a trap is pinned to the file after the last line.
struct ReadCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read-check", abstract: "Read files with Strata's readers, one result line each (debugging aid).",
        shouldDisplay: false)

    /// The readers.
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case checkpoint, tokens, text, tokenizer, wordpiece, safetensors
    }

    @Option(help: "Reader: checkpoint (load, build, one forward), tokens, text, tokenizer (byte-level BPE), wordpiece, safetensors.")
    var kind: Kind
    @Argument(help: "Files to read.")
    var files: [String]

    func run() throws {
        for path in files {
            let url = URL(fileURLWithPath: path)
            let line: String
            do { line = "ok \(path): \(try read(url))" } catch {
                line = "error \(path): \(UserFacingError.translate(error))".replacingOccurrences(of: "\n", with: " | ")
            }
            // Unbuffered, so that a trap in the next file cannot swallow this file's line.
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    private func read(_ url: URL) throws -> String {
        switch kind {
        case .checkpoint:
            let ckpt = try Checkpoint.load(url)
            let model = try ckpt.makeModel()
            let t = min(4, model.spec.contextLength)
            let ids = (0..<t).map { Int32($0 % max(1, model.spec.vocabSize)) }
            let out = withNoGrad { model.logits(ids, batch: 1, length: t) }
            return "\(model.parameterCount) parameters, logits \(out.shape)"
        case .tokens:
            let d = try TokenDataset(tokenFile: url)
            return "\(d.count) tokens"
        case .text:
            let d = try TokenDataset(textFile: url, tokenizer: ByteTokenizer())
            return "\(d.count) tokens"
        case .tokenizer:
            let tok = try BPETokenizer.load(from: url)
            return "\(tok.vocabSize) tokens, \"hello\" → \(tok.encode("hello wörld ☃").count) ids"
        case .wordpiece:
            let tok = try HFTokenizer.loadWordPiece(from: url)
            return "\(tok.encode("hello world").count) ids"
        case .safetensors:
            let file = try SafeTensorsFile(url: url)
            let n = try file.names.reduce(0) { $0 + (try file.tensor($1)).scalars.count }
            return "\(file.names.count) tensors, \(n) scalars"
        }
    }
}
