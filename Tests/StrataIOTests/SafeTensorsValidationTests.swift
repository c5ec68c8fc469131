import Foundation
import StrataIO
import XCTest

/// Every check made at open, each triggered by a hand-crafted file.
final class SafeTensorsValidationTests: XCTestCase {
    private typealias Reason = SafeTensorsError.Reason

    /// Writes `bytes`, opens it, and checks the reason and that the message names the file and `mentions`.
    private func check(_ bytes: [UInt8], _ expected: Reason, mentions: [String] = [],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("case.safetensors")
        try writeBytes(bytes, to: url)
        guard let error = expectSafeTensorsError(url, file: file, line: line) else { return }
        XCTAssertEqual(error.reason, expected, file: file, line: line)
        XCTAssertEqual(error.path, url.path, file: file, line: line)
        for text in [url.path] + mentions {
            XCTAssertTrue(error.description.contains(text), "'\(error)' should mention '\(text)'", file: file, line: line)
        }
    }

    /// A one-entry header for tensor "w" with the given field texts.
    private func entry(dtype: String = "\"F32\"", shape: String = "[2]", offsets: String = "[0,8]") -> String {
        "{\"w\":{\"dtype\":\(dtype),\"shape\":\(shape),\"data_offsets\":\(offsets)}}"
    }

    func testFileAndLengthPrefixChecks() throws {
        try check([1, 2, 3], .fileTooShort(size: 3), mentions: ["3 bytes"])
        try check([], .fileTooShort(size: 0))
        try check(safetensorsImage("{}", declaredLength: 100), .headerBeyondFile(length: 100, available: 2))
        try check(safetensorsImage("{}", declaredLength: 200_000_000),
                  .headerTooLarge(length: 200_000_000, limit: 100_000_000), mentions: ["200000000"])
        try check(safetensorsImage("{}", declaredLength: .max), .headerTooLarge(length: .max, limit: 100_000_000))
        try check(safetensorsImage("", declaredLength: 0), .invalidJSON(offset: 0, problem: "expected a value, found end of input"))
    }

    func testOpenFailuresNameThePath() throws {
        let scratch = try ScratchDirectory()
        let missing = scratch.file("absent.safetensors")
        guard let error = expectSafeTensorsError(missing) else { return }
        guard case let .io(operation, _) = error.reason else { return XCTFail("\(error)") }
        XCTAssertEqual(operation, "open")
        XCTAssertTrue(error.description.contains(missing.path))
        let directory = scratch.file("dir.safetensors")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        XCTAssertEqual(expectSafeTensorsError(directory)?.reason, .notRegularFile)
    }

    func testHeaderTextChecks() throws {
        try check(safetensorsImage(headerBytes: [0x7b, 0xff, 0x7d]), .headerNotUTF8)
        try check(safetensorsImage("{\"a\": }"), .invalidJSON(offset: 6, problem: "expected a value, found '}'"))
        try check(safetensorsImage("{\"a\":1,}"), .invalidJSON(offset: 7, problem: "expected a string key, found '}'"))
        try check(safetensorsImage("{} x"), .invalidJSON(offset: 3, problem: "unexpected 'x' after the value"))
        try check(safetensorsImage("{\"a\":\"\\ud800\"}"),
                  .invalidJSON(offset: 12, problem: "high surrogate \\ud800 without a low surrogate"))
        try check(safetensorsImage("{\"a\":01}"), .invalidJSON(offset: 5, problem: "number with a leading zero"))
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        try check(safetensorsImage("{\"a\":\(deep)}"), .invalidJSON(offset: 68, problem: "nesting deeper than 64 levels"))
        try check(safetensorsImage("[]"), .headerNotObject(found: "an array"))
        try check(safetensorsImage("\"w\""), .headerNotObject(found: "a string"))
        let twice = "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}," +
            "\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}"
        try check(safetensorsImage(twice), .invalidJSON(offset: 54, problem: "duplicate key \"w\""), mentions: ["\"w\""])
    }

    func testEntryFieldChecks() throws {
        let data = [UInt8](repeating: 0, count: 8)
        try check(safetensorsImage("{\"w\":3}"), .entryNotObject(tensor: "w", found: "the number 3"), mentions: ["'w'"])
        try check(safetensorsImage("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data: data),
                  .missingField(tensor: "w", field: "dtype"), mentions: ["'w'", "'dtype'"])
        try check(safetensorsImage("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data: data),
                  .missingField(tensor: "w", field: "shape"), mentions: ["'w'", "'shape'"])
        try check(safetensorsImage("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", data: data),
                  .missingField(tensor: "w", field: "data_offsets"), mentions: ["'w'", "'data_offsets'"])
        try check(safetensorsImage(entry(dtype: "5"), data: data),
                  .wrongFieldType(tensor: "w", field: "dtype", expected: "a string", found: "the number 5"), mentions: ["'w'"])
        try check(safetensorsImage(entry(shape: "\"2\""), data: data),
                  .wrongFieldType(tensor: "w", field: "shape", expected: "an array of integers", found: "a string"))
        try check(safetensorsImage(entry(dtype: "\"F8_E4M3\""), data: data),
                  .unknownDType(tensor: "w", dtype: "F8_E4M3"),
                  mentions: ["'w'", "F8_E4M3", "F32, F16, BF16, F64, I8, I16, I32, I64, U8, BOOL"])
    }

    func testShapeChecks() throws {
        let data = [UInt8](repeating: 0, count: 8)
        try check(safetensorsImage(entry(shape: "[-2]"), data: data),
                  .invalidShape(tensor: "w", problem: "dimension 0 is negative (-2)"), mentions: ["'w'"])
        try check(safetensorsImage(entry(shape: "[1, 2.0]"), data: data),
                  .invalidShape(tensor: "w", problem: "dimension 1 must be an integer, found the number 2.0"))
        try check(safetensorsImage(entry(shape: "[2e0]"), data: data),
                  .invalidShape(tensor: "w", problem: "dimension 0 must be an integer, found the number 2e0"))
        try check(safetensorsImage(entry(shape: "[null]"), data: data),
                  .invalidShape(tensor: "w", problem: "dimension 0 must be an integer, found null"))
        try check(safetensorsImage(entry(shape: "[99999999999999999999]"), data: data),
                  .invalidShape(tensor: "w", problem: "dimension 0 is too large (99999999999999999999 > \(Int.max))"))
        try check(safetensorsImage(entry(shape: "[4294967296,4294967296]"), data: data),
                  .sizeOverflow(tensor: "w", shape: [1 << 32, 1 << 32], dtype: .f32), mentions: ["'w'"])
        try check(safetensorsImage(entry(shape: "[4611686018427387904]"), data: data),
                  .sizeOverflow(tensor: "w", shape: [1 << 62], dtype: .f32), mentions: ["overflow"])
    }

    func testOffsetChecks() throws {
        let data = [UInt8](repeating: 0, count: 8)
        try check(safetensorsImage(entry(offsets: "[8]"), data: data),
                  .invalidOffsets(tensor: "w", problem: "must be [begin, end], found an array of 1 elements"), mentions: ["'w'"])
        try check(safetensorsImage(entry(offsets: "{}"), data: data),
                  .invalidOffsets(tensor: "w", problem: "must be [begin, end], found an object"))
        try check(safetensorsImage(entry(offsets: "[8,0]"), data: data),
                  .invalidOffsets(tensor: "w", problem: "begin 8 is after end 0"))
        try check(safetensorsImage(entry(offsets: "[-8,0]"), data: data),
                  .invalidOffsets(tensor: "w", problem: "begin is negative (-8)"))
        try check(safetensorsImage(entry(offsets: "[0,\"8\"]"), data: data),
                  .invalidOffsets(tensor: "w", problem: "end must be an integer, found a string"))
        try check(safetensorsImage(entry(offsets: "[0,8.0]"), data: data),
                  .invalidOffsets(tensor: "w", problem: "end must be an integer, found the number 8.0"))
        try check(safetensorsImage(entry(offsets: "[0,8]"), data: [0, 0, 0, 0]),
                  .dataOutOfBounds(tensor: "w", end: 8, bufferSize: 4), mentions: ["'w'"])
        // 2^53 + 1 would round to 2^53 through Double; the message must show the exact value.
        try check(safetensorsImage(entry(offsets: "[9007199254740985,9007199254740993]"), data: data),
                  .dataOutOfBounds(tensor: "w", end: 9_007_199_254_740_993, bufferSize: 8), mentions: ["9007199254740993"])
        try check(safetensorsImage(entry(offsets: "[0,4]"), data: data),
                  .byteSizeMismatch(tensor: "w", expected: 8, found: 4), mentions: ["'w'"])
    }

    func testOverlapChecks() throws {
        let data = [UInt8](repeating: 0, count: 16)
        let overlapping = """
            {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
             "b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}
            """
        try check(safetensorsImage(overlapping, data: data), .overlappingData(tensor: "b", other: "a"), mentions: ["'a'", "'b'"])
        let contained = """
            {"outer":{"dtype":"U8","shape":[16],"data_offsets":[0,16]},
             "mid":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},
             "inner":{"dtype":"U8","shape":[1],"data_offsets":[10,11]}}
            """
        try check(safetensorsImage(contained, data: data), .overlappingData(tensor: "mid", other: "outer"))
        // Empty tensors may sit anywhere, and gaps between tensors are allowed.
        let scratch = try ScratchDirectory()
        let url = scratch.file("ok.safetensors")
        let fine = """
            {"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},
             "e":{"dtype":"F32","shape":[0,3],"data_offsets":[2,2]},
             "b":{"dtype":"U8","shape":[4],"data_offsets":[8,12]}}
            """
        try writeBytes(safetensorsImage(fine, data: Array(0..<16)), to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(try file.rawBytes("b"), [8, 9, 10, 11])
        XCTAssertEqual(try file.tensor("e").shape, [0, 3])
    }

    func testMetadataChecks() throws {
        try check(safetensorsImage("{\"__metadata__\":3}"),
                  .invalidMetadata(key: "__metadata__", problem: "must be an object of strings, found the number 3"))
        try check(safetensorsImage("{\"__metadata__\":{\"epoch\":3}}"),
                  .invalidMetadata(key: "epoch", problem: "value must be a string, found the number 3"), mentions: ["'epoch'"])
        let scratch = try ScratchDirectory()
        let url = scratch.file("null.safetensors")
        try writeBytes(safetensorsImage("{\"__metadata__\":null}  "), to: url)
        XCTAssertEqual(try SafeTensorsFile(url: url).metadata, [:])
        XCTAssertEqual(try SafeTensorsFile(url: url).names, [])
    }
}
