import ArgumentParser
import Foundation
import Strata

/// Loads a sentence-transformers directory, turning load errors into messages that name the directory.
func loadEmbedder(_ model: String) throws -> SentenceEmbedder {
    let dir = URL(fileURLWithPath: model)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: model, isDirectory: &isDir), isDir.boolValue else {
        throw CLIError("--model \(model): not a directory; expected a Hugging Face / sentence-transformers model directory (config.json, model.safetensors, tokenizer.json)")
    }
    do { return try SentenceEmbedder.load(directory: dir) } catch { throw CLIError("--model \(model): \(error)") }
}

/// Texts of `file` for `--file`: a .json file is a JSON array of strings, any other file one text per line.
func readTextFile(_ file: String) throws -> [String] {
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
        throw CLIError("--file \(file): cannot read the file (\(fileErrorReason(error, path: file)))")
    }
    if file.hasSuffix(".json") {
        guard case .array(let items)? = try? JSONValue.parse(data) else {
            throw CLIError("--file \(file): expected a JSON array of strings")
        }
        return try items.enumerated().map { i, v in
            guard let s = v.stringValue else { throw CLIError("--file \(file): item \(i) is \(v.typeName), expected a string") }
            return s
        }
    }
    var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
    if lines.last == "" { lines.removeLast() }
    return lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
}

/// `strata embed`: sentence embeddings from a Hugging Face sentence-transformers model (BERT + pooling).
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed", abstract: "Embed texts with a sentence-transformers model directory (e.g. all-MiniLM-L6-v2).",
        discussion: "Texts come from the arguments or --file (a .json file is a JSON array of strings, any other file one text per line). JSON output is an array of vectors in input order; npy output is a float32 [N, C] array.")

    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json, modules.json).")
    var model: String
    @Argument(help: "Texts to embed.")
    var texts: [String] = []
    @Option(help: "Read texts from a file instead: .json = array of strings, else one text per line.")
    var file: String?
    @Option(help: "Output format: json or npy.")
    var format = "json"
    @Option(help: "Write to this file instead of standard output.")
    var out: String?
    @Option(parsing: .unconditional, help: "Texts per forward pass.")
    var batchSize = 16

    func validate() throws {
        guard ["json", "npy"].contains(format) else { throw ValidationError("--format must be json or npy; got \(format)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1; got \(batchSize)") }
        if file != nil && !texts.isEmpty { throw ValidationError("give texts as arguments or --file, not both") }
        if file == nil && texts.isEmpty { throw ValidationError("no texts: pass them as arguments or with --file") }
    }

    func readTexts() throws -> [String] {
        guard let file else { return texts }
        return try readTextFile(file)
    }

    func run() throws {
        let texts = try readTexts()
        let embedder = try loadEmbedder(model)
        let vectors = embedder.embed(texts, batchSize: batchSize)
        let data: Data
        if format == "npy" {
            data = SentenceEmbedder.npy(vectors)
        } else {
            let rows = vectors.map { "[" + $0.map { "\($0)" }.joined(separator: ", ") + "]" }
            data = Data(("[\n" + rows.joined(separator: ",\n") + "\n]\n").utf8)
        }
        if let out {
            do { try data.write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw CLIError("--out \(out): cannot write (\(error.localizedDescription))")
            }
        } else {
            FileHandle.standardOutput.write(data)
        }
    }
}

/// `strata similarity`: cosine similarity of two texts' sentence embeddings.
struct SimilarityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similarity", abstract: "Cosine similarity of two texts under a sentence-transformers model.")

    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json, modules.json).")
    var model: String
    @Argument(help: "First text.")
    var a: String
    @Argument(help: "Second text.")
    var b: String

    func run() throws {
        let v = try loadEmbedder(model).embed([a, b])
        print(String(format: "%.6f", SentenceEmbedder.cosine(v[0], v[1])))
    }
}
