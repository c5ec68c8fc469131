import Foundation
import StrataCore
import StrataIO

/// A `tokenizer.json` that cannot be read as a byte-level BPE: names the file and the key at fault.
public struct TokenizerFileError: Error, CustomStringConvertible, Equatable {
    /// Path of the file.
    public var file: String
    /// JSON key path (`model.merges[12]`), or "" for the file as a whole.
    public var key: String
    /// What is wrong and what would be valid.
    public var message: String

    public var description: String { key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)" }
}

extension BPETokenizer {
    /// Writes Hugging Face `tokenizer.json` form: model type "BPE" with `vocab` (token spelled in GPT-2's
    /// byte alphabet → id, in id order) and `merges` ("left right", in rank order), ByteLevel
    /// pre-tokenizer and decoder.
    public func save(to url: URL) throws {
        // Added tokens are listed only under "added_tokens" (their content is not byte-alphabet spelled).
        let addedIds = Set(addedTokens.values)
        var vocab: [String] = []
        for (id, bytes) in tokenBytes.enumerated() where !bytes.isEmpty && !addedIds.contains(Int32(id)) {
            vocab.append("    \(jsonQuoted(ByteLevel.spell(bytes))): \(id)")
        }
        let mergeLines = merges.map {
            "    " + jsonQuoted(ByteLevel.spell(tokenBytes[Int($0.left)]) + " " + ByteLevel.spell(tokenBytes[Int($0.right)]))
        }
        let added = addedTokens.sorted { $0.value < $1.value }.map {
            "{\"id\": \($0.value), \"content\": \(jsonQuoted($0.key)), \"single_word\": false, \"lstrip\": false, "
                + "\"rstrip\": false, \"normalized\": false, \"special\": true}"
        }
        let byteLevel = "{\"type\": \"ByteLevel\", \"add_prefix_space\": \(addPrefixSpace), \"trim_offsets\": true, "
            + "\"use_regex\": true}"
        let json = """
        {
          "version": "1.0",
          "truncation": null,
          "padding": null,
          "added_tokens": [\(added.joined(separator: ", "))],
          "normalizer": null,
          "pre_tokenizer": \(byteLevel),
          "post_processor": null,
          "decoder": \(byteLevel),
          "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "vocab": {
        \(vocab.joined(separator: ",\n"))
            },
            "merges": [
        \(mergeLines.joined(separator: ",\n"))
            ]
          }
        }

        """
        do {
            try Data(json.utf8).write(to: url, options: .atomic)
        } catch {
            throw TokenizerFileError(file: url.path, key: "", message: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Reads a Hugging Face `tokenizer.json` whose model is byte-level BPE (the form `save` writes; also
    /// GPT-2-style files). Errors name the file and the key at fault.
    public static func load(from url: URL) throws -> BPETokenizer {
        let file = url.path
        func fail(_ key: String, _ message: String) -> TokenizerFileError {
            TokenizerFileError(file: file, key: key, message: message)
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw fail("", "cannot read: \(fileErrorReason(error, path: file))")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("", "not a JSON object")
        }
        guard let model = root["model"] as? [String: Any] else { throw fail("model", "missing or not an object") }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw fail("model.type", "is \"\(type)\"; supported: \"BPE\"") }
        if let n = root["normalizer"], !(n is NSNull) { throw fail("normalizer", "is not supported; valid: null") }

        var addPrefixSpace = false
        for key in ["pre_tokenizer", "decoder"] {
            guard let part = root[key], !(part is NSNull) else { continue }
            let kind = (part as? [String: Any])?["type"] as? String ?? "?"
            guard kind == "ByteLevel" else { throw fail("\(key).type", "is \"\(kind)\"; supported: \"ByteLevel\"") }
            if key == "pre_tokenizer" { addPrefixSpace = (part as? [String: Any])?["add_prefix_space"] as? Bool ?? false }
        }

        guard let vocab = model["vocab"] as? [String: Any] else { throw fail("model.vocab", "missing or not an object") }
        var idOf: [String: Int32] = [:]
        var maxId: Int32 = -1
        for (token, value) in vocab {
            guard let n = value as? NSNumber, let id = Int32(exactly: n.doubleValue), id >= 0 else {
                throw fail("model.vocab[\(jsonQuoted(token))]", "id must be a non-negative integer, got \(value)")
            }
            idOf[token] = id
            maxId = max(maxId, id)
        }
        var added: [String: Int32] = [:]
        for (i, entry) in ((root["added_tokens"] as? [[String: Any]]) ?? []).enumerated() {
            guard let content = entry["content"] as? String, let n = entry["id"] as? NSNumber,
                  let id = Int32(exactly: n.doubleValue), id >= 0 else {
                throw fail("added_tokens[\(i)]", "needs a string \"content\" and a non-negative integer \"id\"")
            }
            if idOf[content] != id { added[content] = id }
            maxId = max(maxId, id)
        }

        var tokenBytes = [[UInt8]](repeating: [], count: Int(maxId + 1))
        for (token, id) in idOf { tokenBytes[Int(id)] = ByteLevel.unspell(token) ?? Array(token.utf8) }
        for (content, id) in added { tokenBytes[Int(id)] = Array(content.utf8) }
        var byteIds: [Int32] = []
        for b in 0..<256 {
            let spelled = String(ByteLevel.byteToChar[b])
            guard let id = idOf[spelled] else {
                throw fail("model.vocab", "has no token for byte 0x\(String(b, radix: 16)) (\"\(spelled)\"); a byte-level BPE needs all 256")
            }
            byteIds.append(id)
        }

        guard let rawMerges = model["merges"] as? [Any] else { throw fail("model.merges", "missing or not an array") }
        var merges: [Merge] = []
        merges.reserveCapacity(rawMerges.count)
        for (i, raw) in rawMerges.enumerated() {
            let parts: [String]
            if let s = raw as? String {
                parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let pair = raw as? [String] {
                parts = pair
            } else {
                parts = []
            }
            guard parts.count == 2 else {
                throw fail("model.merges[\(i)]", "must be \"left right\" or [\"left\", \"right\"], got \(raw)")
            }
            guard let l = idOf[parts[0]], let r = idOf[parts[1]], let m = idOf[parts[0] + parts[1]] else {
                throw fail("model.merges[\(i)]", "\"\(parts[0]) \(parts[1])\": both parts and their concatenation must be in model.vocab")
            }
            merges.append(Merge(left: l, right: r, result: m))
        }
        return BPETokenizer(tokenBytes: tokenBytes, byteIds: byteIds, merges: merges,
                            addPrefixSpace: addPrefixSpace, addedTokens: added)
    }
}
