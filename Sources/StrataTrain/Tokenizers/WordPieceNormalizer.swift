import Foundation

/// BERT's text normalizer (Hugging Face `BertNormalizer`): clean text, space out CJK ideographs, strip
/// accents, lowercase, in that order, each as configured.
public struct BertNormalizer: Sendable, Equatable {
    /// Drop NUL, U+FFFD and control/format characters; map every whitespace character to a space.
    public var cleanText: Bool
    /// Put spaces around CJK ideographs so each becomes its own word (BERT's Chinese-character rule).
    public var handleChineseChars: Bool
    /// Remove nonspacing marks after canonical decomposition; nil follows `lowercase` (as in `tokenizers`).
    public var stripAccents: Bool?
    /// Lowercase each character with the context-free Unicode mapping.
    public var lowercase: Bool

    /// A normalizer with BERT-uncased defaults.
    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    /// The normalized text.
    public func normalize(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        if cleanText {
            scalars = scalars.compactMap { s in
                if s.value == 0 || s.value == 0xFFFD || BertText.isControl(s) { return nil }
                return BertText.isWhitespace(s) ? " " : s
            }
        }
        if handleChineseChars {
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(scalars.count)
            for s in scalars {
                if BertText.isChineseChar(s) { out += [" ", s, " "] } else { out.append(s) }
            }
            scalars = out
        }
        if stripAccents ?? lowercase {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            // NFD splits "é" into "e" + U+0301; dropping the nonspacing marks (Mn) keeps the base letter.
            scalars = String(view).decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            // Per-character mapping (no final-sigma context), as Rust's `char::to_lowercase` does.
            var view = String.UnicodeScalarView()
            for s in scalars { view.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars) }
            return String(view)
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}

/// Character classes of BERT's basic tokenizer.
enum BertText {
    /// Whitespace: tab, newline, carriage return and Unicode White_Space.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// "Other" categories (Cc, Cf, Cn, Co, Cs) except tab, newline and carriage return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// ASCII punctuation (which includes symbols such as `$`, `^`, `` ` ``) or any Unicode P* category.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The CJK Unified Ideograph blocks BERT splits per character (not kana or hangul).
    static func isChineseChar(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    /// BERT pre-tokenization: split on whitespace (dropped) and around each punctuation character (kept).
    static func preTokenize(_ text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in text.unicodeScalars {
            if s.properties.isWhitespace || s == "\t" || s == "\n" || s == "\r" {
                if !current.isEmpty { words.append(current); current = [] }
            } else if isPunctuation(s) {
                if !current.isEmpty { words.append(current); current = [] }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
