import Foundation
import StrataModels

/// Tokenizer files of an exported Hugging Face directory (`tokenizer.json` + `tokenizer_config.json`), so that
/// `tokenizers` and `transformers.AutoTokenizer` produce the ids Strata's tokenizer produces.
public enum HFTokenizerExport {
    /// The tokenizer a Strata run was trained with.
    public enum Source: Sendable, Equatable {
        /// Strata's byte tokenizer (id = byte value, vocabulary 256).
        case byte
        /// A ready `tokenizer.json` (Strata's trained byte-level BPE is saved in this form), copied as is.
        case json(Data)
    }

    /// GPT-2's byte → character table (Radford et al., 2019, as in HF `ByteLevel`): printable Latin-1 bytes
    /// ('!'…'~', '¡'…'¬', '®'…'ÿ') stand for themselves, the other 68 bytes, in byte order, for U+0100, U+0101, …
    /// (the table StrataTrain's `ByteLevel` spells BPE tokens with; a StrataTrain test ties the two together).
    public static let byteLevelAlphabet: [String] = {
        var next: UInt32 = 256
        return (0..<256).map { b in
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            let scalar = printable ? UInt32(b) : { defer { next += 1 }; return next }()
            return String(Character(Unicode.Scalar(scalar)!))
        }
    }()

    /// The byte tokenizer as an HF byte-level BPE: 256 single-byte tokens, token id = byte value (each spelled by
    /// its `ByteLevel` character), no merges, no normalizer, no special tokens, no prefix space. The ByteLevel
    /// pre-tokenizer maps every byte of the text to its character and the BPE, having no merges, emits one token per
    /// character, so the ids are the UTF-8 bytes, for any text.
    public static func byteTokenizerJSON() -> String {
        var vocab: [String: StrataModels.JSONValue] = [:]
        for (b, c) in byteLevelAlphabet.enumerated() { vocab[c] = .number(Double(b)) }
        let byteLevel: StrataModels.JSONValue = .object([
            "type": .string("ByteLevel"), "add_prefix_space": .bool(false), "trim_offsets": .bool(false),
            "use_regex": .bool(false),
        ])
        let model: StrataModels.JSONValue = .object([
            "type": .string("BPE"), "dropout": .null, "unk_token": .null, "continuing_subword_prefix": .null,
            "end_of_word_suffix": .null, "fuse_unk": .bool(false), "byte_fallback": .bool(false),
            "ignore_merges": .bool(false), "vocab": .object(vocab), "merges": .array([]),
        ])
        let root: StrataModels.JSONValue = .object([
            "version": .string("1.0"), "truncation": .null, "padding": .null, "added_tokens": .array([]),
            "normalizer": .null, "pre_tokenizer": byteLevel, "post_processor": .null, "decoder": byteLevel, "model": model,
        ])
        return root.jsonText() + "\n"
    }

    /// `tokenizer_config.json`: the generic fast tokenizer class (so `AutoTokenizer` does not pick a model-specific
    /// class with its own special tokens and templates), no BOS/EOS added, no space clean-up on decode.
    public static func tokenizerConfigJSON(contextLength: Int) -> String {
        let root: StrataModels.JSONValue = .object([
            "tokenizer_class": .string("PreTrainedTokenizerFast"), "model_max_length": .number(Double(contextLength)),
            "clean_up_tokenization_spaces": .bool(false), "add_bos_token": .bool(false), "add_eos_token": .bool(false),
        ])
        return root.jsonText() + "\n"
    }

    /// Writes `tokenizer.json` and `tokenizer_config.json` into `directory`.
    public static func write(_ source: Source, contextLength: Int, to directory: URL) throws {
        let tokenizer: Data
        switch source {
        case .byte: tokenizer = Data(byteTokenizerJSON().utf8)
        case .json(let data): tokenizer = data
        }
        let files = [("tokenizer.json", tokenizer), ("tokenizer_config.json", Data(tokenizerConfigJSON(contextLength: contextLength).utf8))]
        for (name, data) in files {
            let url = directory.appendingPathComponent(name)
            do { try data.write(to: url, options: .atomic) } catch {
                throw HFImportError(file: url.path, key: "", "cannot write: \(error.localizedDescription)")
            }
        }
    }

    /// True when `tokenizerJSON` is exactly the byte tokenizer (a byte-level BPE whose 256 tokens are the 256
    /// bytes with id = byte value, no merges, no added tokens, no prefix space): importing it needs no file.
    public static func isByteTokenizer(_ tokenizerJSON: Data) -> Bool {
        guard let root = try? StrataModels.JSONValue.parse(tokenizerJSON).objectValue,
              let model = root["model"]?.objectValue, model["type"] == .string("BPE"),
              case .object(let vocab)? = model["vocab"], vocab.count == 256,
              model["merges"] == .array([]) || model["merges"] == nil,
              root["added_tokens"] == .array([]) || root["added_tokens"] == nil || root["added_tokens"] == .null,
              root["normalizer"] == nil || root["normalizer"] == .null,
              root["post_processor"] == nil || root["post_processor"] == .null,
              let pre = root["pre_tokenizer"]?.objectValue, pre["type"] == .string("ByteLevel"),
              pre["add_prefix_space"] != .bool(true) else { return false }
        for (b, c) in byteLevelAlphabet.enumerated() where vocab[c] != .number(Double(b)) { return false }
        return true
    }
}
