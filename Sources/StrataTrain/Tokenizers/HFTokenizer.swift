import Foundation
import StrataCore
import StrataModels

/// Loads Hugging Face tokenizers: `tokenizer.json` with a WordPiece model (BERT family) here, byte-level BPE
/// through `BPETokenizer.load`; `sentence_bert_config.json`'s `max_seq_length` overrides the truncation.
public enum HFTokenizer {
    /// The WordPiece tokenizer described by `url` (a `tokenizer.json`). Truncation comes from the file's
    /// `truncation.max_length` unless `maxLength` is given.
    public static func loadWordPiece(from url: URL, maxLength: Int? = nil) throws -> WordPieceTokenizer {
        let file = url.path
        func fail(_ key: String, _ message: String) -> TokenizerFileError {
            TokenizerFileError(file: file, key: key, message: message)
        }
        let root: [String: JSONValue]
        do {
            guard let o = try JSONValue.parse(Data(contentsOf: url)).objectValue else { throw fail("", "expected a JSON object") }
            root = o
        } catch let e as TokenizerFileError { throw e } catch {
            throw fail("", "cannot read as JSON: \(fileErrorReason(error, path: file))")
        }
        guard let model = root["model"]?.objectValue else { throw fail("model", "missing: expected an object with \"type\"") }
        guard model["type"]?.stringValue == "WordPiece" else {
            throw fail("model.type", "\(model["type"]?.scalarText ?? "missing") is not supported here; expected \"WordPiece\" (use BPETokenizer.load for byte-level \"BPE\")")
        }
        guard let vocabObject = model["vocab"]?.objectValue else { throw fail("model.vocab", "missing: expected an object token → id") }
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(vocabObject.count)
        for (token, value) in vocabObject {
            guard case .number(let n) = value, n >= 0, n == n.rounded(), n < Double(Int32.max) else {
                throw fail("model.vocab.\(token)", "expected a non-negative integer id, got \(value.scalarText ?? value.typeName)")
            }
            vocab[token] = Int32(n)
        }
        let normalizer = try readNormalizer(root["normalizer"], fail)
        if let pre = root["pre_tokenizer"], pre != .null, pre.objectValue?["type"]?.stringValue != "BertPreTokenizer" {
            throw fail("pre_tokenizer.type", "\(pre.objectValue?["type"]?.scalarText ?? pre.typeName) is not supported; expected \"BertPreTokenizer\"")
        }
        var added: [String: Int32] = [:]
        if case .array(let list)? = root["added_tokens"] {
            for (i, entry) in list.enumerated() {
                guard let o = entry.objectValue, let content = o["content"]?.stringValue, case .number(let n)? = o["id"] else {
                    throw fail("added_tokens[\(i)]", "expected {\"id\": int, \"content\": string, ...}")
                }
                if case .bool(true)? = o["normalized"] {
                    throw fail("added_tokens[\(i)].normalized", "true is not supported (tokens are matched in the raw text); expected false")
                }
                added[content] = Int32(n)
            }
        }
        let (cls, sep) = try readTemplate(root["post_processor"], fail)
        var truncation: Int?
        if let t = root["truncation"]?.objectValue, case .number(let n)? = t["max_length"] { truncation = Int(n) }
        func intOption(_ key: String, _ fallback: Int) -> Int {
            if case .number(let n)? = model[key] { return Int(n) } else { return fallback }
        }
        var padToken = "[PAD]"
        if let p = root["padding"]?.objectValue, let s = p["pad_token"]?.stringValue { padToken = s }
        do {
            return try WordPieceTokenizer(
                vocab: vocab, unkToken: model["unk_token"]?.stringValue ?? "[UNK]",
                continuingSubwordPrefix: model["continuing_subword_prefix"]?.stringValue ?? "##",
                maxInputCharsPerWord: intOption("max_input_chars_per_word", 100), normalizer: normalizer,
                addedTokens: added, clsToken: cls, sepToken: sep, padToken: padToken, maxLength: maxLength ?? truncation)
        } catch let e as WordPieceError {
            throw fail("model", e.message)
        }
    }

    /// The tokenizer of a sentence-transformers or Hugging Face model directory: `tokenizer.json`, truncated at
    /// `sentence_bert_config.json`'s `max_seq_length` when that file exists.
    public static func loadWordPiece(directory: URL) throws -> WordPieceTokenizer {
        let config = directory.appendingPathComponent("sentence_bert_config.json")
        var maxLength: Int?
        if FileManager.default.fileExists(atPath: config.path) {
            guard let o = try? JSONValue.parse(Data(contentsOf: config)).objectValue else {
                throw TokenizerFileError(file: config.path, key: "", message: "cannot read as a JSON object")
            }
            if let v = o["max_seq_length"] {
                guard case .number(let n) = v, n >= 1 else {
                    throw TokenizerFileError(file: config.path, key: "max_seq_length", message: "expected a positive integer, got \(v.scalarText ?? v.typeName)")
                }
                maxLength = Int(n)
            }
        }
        return try loadWordPiece(from: directory.appendingPathComponent("tokenizer.json"), maxLength: maxLength)
    }

    static func readNormalizer(_ value: JSONValue?, _ fail: (String, String) -> TokenizerFileError) throws -> BertNormalizer {
        guard let value, value != .null else { return BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false) }
        guard let o = value.objectValue, o["type"]?.stringValue == "BertNormalizer" else {
            throw fail("normalizer.type", "\(value.objectValue?["type"]?.scalarText ?? value.typeName) is not supported; expected \"BertNormalizer\" or null")
        }
        func flag(_ key: String, _ fallback: Bool) -> Bool { if case .bool(let b)? = o[key] { return b } else { return fallback } }
        var strip: Bool?
        if case .bool(let b)? = o["strip_accents"] { strip = b }
        return BertNormalizer(cleanText: flag("clean_text", true), handleChineseChars: flag("handle_chinese_chars", true),
                              stripAccents: strip, lowercase: flag("lowercase", true))
    }

    /// [CLS]/[SEP] from a `TemplateProcessing` or `BertProcessing` post-processor (single-sequence template).
    static func readTemplate(_ value: JSONValue?, _ fail: (String, String) -> TokenizerFileError) throws -> (String?, String?) {
        guard let value, value != .null else { return (nil, nil) }
        guard let o = value.objectValue else { throw fail("post_processor", "expected an object or null") }
        switch o["type"]?.stringValue {
        case "BertProcessing":
            func token(_ key: String) -> String? {
                if case .array(let a)? = o[key], let s = a.first?.stringValue { return s } else { return nil }
            }
            return (token("cls"), token("sep"))
        case "TemplateProcessing":
            guard case .array(let single)? = o["single"] else { throw fail("post_processor.single", "missing: expected the single-sequence template") }
            var before: [String] = [], after: [String] = [], seenSequence = false
            for piece in single {
                if piece.objectValue?["Sequence"] != nil { seenSequence = true; continue }
                guard let id = piece.objectValue?["SpecialToken"]?.objectValue?["id"]?.stringValue else {
                    throw fail("post_processor.single", "expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...} items")
                }
                if seenSequence { after.append(id) } else { before.append(id) }
            }
            guard before.count <= 1, after.count <= 1 else {
                throw fail("post_processor.single", "at most one special token before and after the sequence is supported, got \(before) and \(after)")
            }
            return (before.first, after.first)
        default:
            throw fail("post_processor.type", "\(o["type"]?.scalarText ?? "missing") is not supported; expected TemplateProcessing, BertProcessing or null")
        }
    }
}
