/// GPT-2's byte-level pieces (Radford et al. 2019, as in Hugging Face `ByteLevel`): the byte ↔ printable
/// character table used to spell tokens in `tokenizer.json`, and the pre-tokenizer that splits text into
/// words before BPE so merges never cross a word/space/punctuation/digit boundary.
package enum ByteLevel {
    /// byte → character. Printable Latin-1 bytes ('!'...'~', '¡'...'¬', '®'...'ÿ') map to themselves;
    /// the other 68 bytes map, in byte order, to U+0100, U+0101, … so every token is printable.
    package static let byteToChar: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            let scalar = printable ? UInt32(b) : { defer { next += 1 }; return next }()
            table[b] = Character(Unicode.Scalar(scalar)!)
        }
        return table
    }()

    /// character → byte (inverse of `byteToChar`).
    package static let charToByte: [Character: UInt8] = {
        var map: [Character: UInt8] = [:]
        for (b, c) in byteToChar.enumerated() { map[c] = UInt8(b) }
        return map
    }()

    /// The table spelling of raw bytes.
    package static func spell(_ bytes: some Sequence<UInt8>) -> String {
        var s = ""
        for b in bytes { s.append(byteToChar[Int(b)]) }
        return s
    }

    /// Raw bytes of a table spelling, or nil if a character is not in the table.
    package static func unspell(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.unicodeScalars.count)
        for c in s {
            guard let b = charToByte[c] else { return nil }
            out.append(b)
        }
        return out
    }

    private enum Kind { case letter, number, space, other }

    /// Decodes the scalar starting at `i` of valid UTF-8 `bytes`: its class and its byte length.
    private static func scalar(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Kind, Int) {
        let b0 = bytes[i]
        if b0 < 0x80 {
            switch b0 {
            case 0x41...0x5A, 0x61...0x7A: return (.letter, 1)
            case 0x30...0x39: return (.number, 1)
            case 0x09...0x0D, 0x20: return (.space, 1)
            default: return (.other, 1)
            }
        }
        let len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 1
        guard len > 1, i + len <= bytes.count else { return (.other, 1) }
        var v = UInt32(b0) & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07)
        for k in 1..<len { v = v << 6 | (UInt32(bytes[i + k]) & 0x3F) }
        guard let u = Unicode.Scalar(v) else { return (.other, len) }
        let props = u.properties
        if props.isWhitespace { return (.space, len) }
        switch props.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return (.letter, len)
        case .decimalNumber, .letterNumber, .otherNumber: return (.number, len)
        default: return (.other, len)
        }
    }

    /// Splits valid UTF-8 `bytes` like GPT-2's pattern
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (first matching alternative wins), calling `body` with each piece's byte range in order.
    package static func preTokenize(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let n = bytes.count
        var i = 0
        func kind(at j: Int) -> (Kind, Int) { scalar(bytes, j) }
        /// End of the run of scalars of class `k` starting at `j`.
        func run(from j: Int, while k: Kind) -> Int {
            var e = j
            while e < n { let (kk, l) = kind(at: e); if kk != k { break }; e += l }
            return e
        }
        while i < n {
            // Contractions (case-sensitive, as in GPT-2).
            if bytes[i] == 0x27, i + 1 < n {
                let c1 = bytes[i + 1], c2: UInt8 = i + 2 < n ? bytes[i + 2] : 0
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { body(i..<(i + 2)); i += 2; continue }
                if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {
                    body(i..<(i + 3)); i += 3; continue
                }
            }
            // ` ?X+` for letters, numbers, other: an optional single U+0020 then a run of one class.
            let start = i
            var j = i
            if bytes[j] == 0x20, j + 1 < n, kind(at: j + 1).0 != .space { j += 1 }
            let (k, _) = kind(at: j)
            switch k {
            case .letter, .number, .other:
                let e = run(from: j, while: k); body(start..<e); i = e
            case .space:
                // `\s+(?!\S)`: the whitespace run, minus its last scalar when more text follows, so a
                // final space can join the next word; a lone whitespace scalar falls to `\s+`.
                let e = run(from: i, while: .space)
                if e == n { body(i..<e); i = e; continue }
                var last = i, p = i
                while p < e { last = p; p += kind(at: p).1 }
                if last > i { body(i..<last); i = last } else { body(i..<e); i = e }
            }
        }
    }
}
