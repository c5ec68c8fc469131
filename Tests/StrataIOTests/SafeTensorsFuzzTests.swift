import Foundation
import StrataCore
import StrataIO
import XCTest

/// Seeded corruption of real and synthetic files: every case must either open and read back consistently
/// or throw a `SafeTensorsError` naming the file — never trap, never read out of bounds.
final class SafeTensorsFuzzTests: XCTestCase {
    func testRandomCorruptionsLoadConsistentlyOrThrow() throws {
        let scratch = try ScratchDirectory()
        let baseURL = scratch.file("base.safetensors")
        try SafeTensorsWriter.write(Self.baseEntries(), metadata: ["format": "pt", "k": "v"], to: baseURL)
        let base = Array(try Data(contentsOf: baseURL))
        let headerEnd = 8 + Int(base[0]) + Int(base[1]) << 8  // the base header is < 64 KiB

        var rng = RNG(seed: 20_240_501)
        var opened = 0, rejected = 0
        var reasonsSeen = Set<String>()
        for trial in 0..<3200 {
            let bytes: [UInt8]
            switch trial % 8 {
            case 0: bytes = Array(base.prefix(Int(rng.next() % UInt64(base.count))))
            case 1: bytes = Self.flipBits(base, in: 0..<8, count: 1 + Int(rng.next() % 3), rng: &rng)
            case 2: bytes = Self.flipBits(base, in: 8..<headerEnd, count: 1 + Int(rng.next() % 4), rng: &rng)
            case 3: bytes = Self.injectToken(base, headerRange: 8..<headerEnd, rng: &rng)
            case 4: bytes = Self.flipBits(base, in: headerEnd..<base.count, count: 1 + Int(rng.next() % 8), rng: &rng)
            case 5, 6: bytes = Self.syntheticFile(rng: &rng)
            default: bytes = Self.spliceHeader(base, headerRange: 8..<headerEnd, rng: &rng)
            }
            // A fresh name per trial: rewriting one file through O_TRUNC makes ext4 flush it on close.
            let url = scratch.file("fuzz-\(trial).safetensors")
            defer { unlink(url.path) }
            try writeBytes(bytes, to: url)
            do {
                let file = try SafeTensorsFile(url: url)
                try Self.checkConsistent(file, bytes: bytes, trial: trial)
                opened += 1
            } catch let error as SafeTensorsError {
                XCTAssertEqual(error.path, url.path)
                XCTAssertTrue(error.description.contains(url.path), "trial \(trial): \(error)")
                XCTAssertNotEqual(trial % 8, 4, "flipping data bytes must not make a file unreadable: \(error)")
                reasonsSeen.insert(String("\(error.reason)".prefix { $0 != "(" }))
                rejected += 1
            } catch {
                XCTFail("trial \(trial): \(type(of: error)) is not a SafeTensorsError: \(error)")
            }
        }
        // Both outcomes must be well exercised for the test to mean anything.
        XCTAssertGreaterThan(opened, 400)
        XCTAssertGreaterThan(rejected, 1500)
        let expected: Set = ["fileTooShort", "headerTooLarge", "headerBeyondFile", "headerNotUTF8", "invalidJSON",
                             "headerNotObject", "entryNotObject", "wrongFieldType", "unknownDType", "invalidShape",
                             "sizeOverflow", "invalidOffsets", "dataOutOfBounds", "byteSizeMismatch", "overlappingData",
                             "invalidMetadata"]
        XCTAssertEqual(expected.subtracting(reasonsSeen), [], "every open-time check is reached by some trial")
    }

    private static func baseEntries() -> [SafeTensorsEntry] {
        var rng = RNG(seed: 5)
        return [
            SafeTensorsEntry("w", rng.normal([3, 4])),
            SafeTensorsEntry("h", rng.normal([5]), dtype: .f16),
            SafeTensorsEntry("b", rng.normal([2, 2]), dtype: .bf16),
            SafeTensorsEntry("ids", int32s: [1, -2, 3], shape: [3]),
            SafeTensorsEntry("pos", int64s: [1 << 33, -4], shape: [2]),
            SafeTensorsEntry("mask", dtype: .bool, shape: [3], rawBytes: [1, 0, 1]),
            SafeTensorsEntry("none", dtype: .u8, shape: [0], rawBytes: []),
            SafeTensorsEntry("s", Tensor(scalar: 0.5), dtype: .f64),
        ]
    }

    /// Everything the reader promises about an opened file, re-derived from the bytes.
    private static func checkConsistent(_ file: SafeTensorsFile, bytes: [UInt8], trial: Int) throws {
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let dataStart = 8 + length, bufferSize = bytes.count - dataStart
        XCTAssertEqual(Set(file.names).count, file.names.count, "trial \(trial): unique names")
        for info in file.infos {
            let product = info.shape.contains(0) ? 0 : info.shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            XCTAssertEqual(product, info.count, "trial \(trial): \(info.name)")
            XCTAssertEqual(info.count * info.dtype.byteSize, info.byteCount, "trial \(trial): \(info.name)")
            XCTAssertTrue(info.byteRange.lowerBound >= 0 && info.byteRange.upperBound <= bufferSize, "trial \(trial)")
            let stored = Array(bytes[(dataStart + info.byteRange.lowerBound)..<(dataStart + info.byteRange.upperBound)])
            XCTAssertEqual(try file.rawBytes(info.name), stored, "trial \(trial): \(info.name)")
            let tensor = try file.tensor(info.name)
            XCTAssertEqual(tensor.shape, info.shape)
            if info.dtype == .f32 {
                XCTAssertEqual(littleEndianBytes(tensor.scalars.map(\.bitPattern)), stored, "trial \(trial): \(info.name)")
            }
            if !info.dtype.isFloatingPoint { XCTAssertEqual(try file.int64s(info.name).count, info.count) }
        }
        let ranges = file.infos.map(\.byteRange).filter { !$0.isEmpty }
        for i in ranges.indices {
            for j in ranges.indices where j > i { XCTAssertFalse(ranges[i].overlaps(ranges[j]), "trial \(trial): overlap") }
        }
    }

    private static func flipBits(_ bytes: [UInt8], in range: Range<Int>, count: Int, rng: inout RNG) -> [UInt8] {
        var out = bytes
        guard !range.isEmpty else { return out }
        for _ in 0..<count {
            let i = range.lowerBound + Int(rng.next() % UInt64(range.count))
            out[i] ^= UInt8(1) << UInt8(rng.next() % 8)
        }
        return out
    }

    /// Overwrites a few header bytes with JSON punctuation, digits or huge numbers.
    private static func injectToken(_ bytes: [UInt8], headerRange: Range<Int>, rng: inout RNG) -> [UInt8] {
        let tokens = ["{", "}", "[", "]", ",", ":", "\"", "-", "0", "9", ".", "e", " ", "\\", "\\u", "null",
                      "18446744073709551616", "9223372036854775807", "1e400", "-0", "4294967296", "\u{0}", "\u{ff}"]
        var out = bytes
        for _ in 0..<(1 + Int(rng.next() % 3)) {
            let token = Array(tokens[Int(rng.next() % UInt64(tokens.count))].utf8)
            let at = headerRange.lowerBound + Int(rng.next() % UInt64(headerRange.count))
            for (k, b) in token.enumerated() where at + k < headerRange.upperBound { out[at + k] = b }
        }
        return out
    }

    /// Inserts or deletes header bytes without fixing the length prefix, or fixes it to match.
    private static func spliceHeader(_ bytes: [UInt8], headerRange: Range<Int>, rng: inout RNG) -> [UInt8] {
        var out = bytes
        let at = headerRange.lowerBound + Int(rng.next() % UInt64(headerRange.count))
        let n = 1 + Int(rng.next() % 6)
        var delta = 0
        if rng.next() % 2 == 0 {
            out.removeSubrange(at..<min(at + n, headerRange.upperBound))
            delta = -min(n, headerRange.upperBound - at)
        } else {
            out.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            delta = n
        }
        if rng.next() % 2 == 0 {  // keep the prefix honest so the JSON parser, not the length check, is hit
            let length = UInt64(headerRange.count + delta)
            withUnsafeBytes(of: length.littleEndian) { out.replaceSubrange(0..<8, with: $0) }
        }
        return out
    }

    /// A header built from random entries, mostly valid, with one in four fields drawn from a bad list.
    private static func syntheticFile(rng: inout RNG) -> [UInt8] {
        let dtypes = ["F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64", "U8", "BOOL"]
        let badDims = ["-1", "1.5", "1e3", "4294967296", "4611686018427387904", "99999999999999999999999", "\"3\"", "null"]
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
        func chance(_ oneIn: UInt64) -> Bool { rng.next() % oneIn == 0 }
        var entries: [String] = []
        var offset = 0
        for k in 0..<(Int(rng.next() % 5)) {
            let dtype = chance(12) ? pick(["F8_E4M3", "f32", "", "U16"]) : pick(dtypes)
            let width = pick([1, 2, 4, 8])
            let byteSize = ["F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I16": 2, "F64": 8, "I64": 8][dtype] ?? 1
            let dims = (0..<Int(rng.next() % 4)).map { _ in Int(rng.next() % 4) }
            let count = dims.reduce(1, *)
            var shapeText = "[" + dims.map(String.init).joined(separator: ",") + "]"
            if chance(6) { shapeText = "[" + pick(badDims) + "]" }
            var begin = offset, end = offset + count * byteSize
            if chance(5) {  // overlapping, reversed, misaligned or far-away offsets
                begin = max(0, offset - Int(rng.next() % 8)) + (chance(2) ? 0 : width)
                end = chance(3) ? begin - 1 : begin + count * byteSize + (chance(2) ? 0 : 1 << 40)
            }
            var offsetsText = "[\(begin),\(end)]"
            if chance(20) { offsetsText = pick(["[0]", "[0,1,2]", "\"0,4\"", "[0,18446744073709551616]", "[-0,0]"]) }
            let name = chance(15) ? "__metadata__" : "t\(k)"
            let dtypeText = chance(30) ? pick(["5", "null", "[\"F32\"]"]) : "\"\(dtype)\""
            if chance(30) { shapeText = pick(["\"2\"", "{}", "2"]) }
            var entryText = "{\"dtype\":\(dtypeText),\"shape\":\(shapeText),\"data_offsets\":\(offsetsText)}"
            if chance(30) { entryText = pick(["3", "[]", "\"x\"", "null", "{}"]) }
            entries.append("\"\(name)\":" + entryText)
            offset = max(offset, end)
        }
        if chance(4) { entries.insert("\"__metadata__\":" + pick(["{\"a\":\"b\"}", "{\"a\":1}", "[]", "null"]), at: 0) }
        let header = chance(40) ? pick(["[]", "\"x\"", "3", "null"]) : "{" + entries.joined(separator: ",") + "}"
        let dataLength = max(0, min(offset, 4096) + Int(rng.next() % 3) - 1)
        return safetensorsImage(header, data: (0..<dataLength).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }
}
