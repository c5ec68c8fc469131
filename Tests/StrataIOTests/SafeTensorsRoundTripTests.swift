import Foundation
import StrataCore
import StrataIO
import XCTest

final class SafeTensorsRoundTripTests: XCTestCase {
    func testFloatTensorsRoundTripBitIdenticalWithMetadataAndOrder() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("model.safetensors")
        var rng = RNG(seed: 7)
        let specials: [Float] = [.nan, -.nan, Float(bitPattern: 0x7fa0_0001), -0.0, .infinity, -.infinity,
                                 .leastNonzeroMagnitude, -.leastNormalMagnitude, .greatestFiniteMagnitude, 1 / 3]
        let tensors: [(String, Tensor)] = [
            ("odd.weight", rng.normal([3, 5, 7])),
            ("empty", Tensor([], shape: [0])),
            ("scalar", Tensor(scalar: -2.5)),
            ("specials", Tensor(specials)),
            ("empty.middle", Tensor([], shape: [2, 0, 3])),
            ("single", Tensor([42], shape: [1, 1, 1])),
            ("weird \"name\"\n\\é✓", rng.uniform([1001])),
        ]
        let metadata = ["format": "pt", "note": "quotes \" backslash \\ newline \n tab \t é ✓", "": "empty key"]
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: url)

        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.names, tensors.map(\.0), "names come back in the order written")
        XCTAssertEqual(file.metadata, metadata)
        for (name, original) in tensors {
            let info = try file.info(name)
            XCTAssertEqual(info.dtype, .f32)
            XCTAssertEqual(info.shape, original.shape, name)
            XCTAssertEqual(info.count, original.count, name)
            XCTAssertEqual(info.byteCount, original.count * 4, name)
            let loaded = try file.tensor(name)
            XCTAssertEqual(loaded.shape, original.shape, name)
            XCTAssertEqual(loaded.scalars.map(\.bitPattern), original.scalars.map(\.bitPattern), "\(name) is bit-identical")
            XCTAssertEqual(try file.rawBytes(name), original.scalars.flatMap { littleEndianBytes([$0.bitPattern]) })
        }
        XCTAssertEqual(try file.tensors().map(\.0), file.names)
    }

    func testHeaderIsPaddedToEightBytesAndDataIsContiguous() throws {
        let scratch = try ScratchDirectory()
        for nameLength in 1...9 {  // every header length mod 8
            let url = scratch.file("pad\(nameLength).safetensors")
            let name = String(repeating: "x", count: nameLength)
            try SafeTensorsWriter.write([(name, Tensor([1, 2, 3])), ("b", Tensor([4]))], to: url)
            let bytes = Array(try Data(contentsOf: url))
            let n = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
            XCTAssertEqual(n % 8, 0, "header length \(n) is a multiple of 8")
            XCTAssertEqual(bytes.count, 8 + n + 16, "data follows the header with no gap")
            let text = String(decoding: bytes[8..<(8 + n)], as: UTF8.self)
            XCTAssertTrue(text.hasPrefix("{"))
            XCTAssertTrue(text.trimmingCharacters(in: .init(charactersIn: " ")).hasSuffix("}"), "padding is spaces")
            XCTAssertEqual(try SafeTensorsFile(url: url).tensor("b").scalars, [4])
        }
    }

    func testExportDTypesRoundTrip() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("export.safetensors")
        let values: [Float] = [1, -2, 0.1, 65504, 1e-7, -0.0, .infinity, 3.14159]
        let t = Tensor(values, shape: [2, 4])
        let entries = [
            SafeTensorsEntry("half", t, dtype: .f16),
            SafeTensorsEntry("brain", t, dtype: .bf16),
            SafeTensorsEntry("double", t, dtype: .f64),
            SafeTensorsEntry("ids", int32s: [0, -1, .max, .min, 7, 8], shape: [3, 2]),
            SafeTensorsEntry("big", int64s: [1 << 40, -5, .max], shape: [3]),
            SafeTensorsEntry("mask", dtype: .bool, shape: [3], rawBytes: [1, 0, 1]),
            SafeTensorsEntry("plain", t),
        ]
        try SafeTensorsWriter.write(entries, metadata: ["a": "b"], to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.infos.map(\.dtype), [.f16, .bf16, .f64, .i32, .i64, .bool, .f32])
        XCTAssertEqual(try file.rawBytes("half"), littleEndianBytes(values.map(f16FromFloat)))
        XCTAssertEqual(try file.tensor("half").scalars, values.map { floatFromF16(f16FromFloat($0)) })
        XCTAssertEqual(try file.tensor("half").scalars[0...3], [1, -2, 0.0999755859375, 65504])
        XCTAssertEqual(try file.rawBytes("brain"), littleEndianBytes(values.map(bf16FromFloat)))
        XCTAssertEqual(try file.tensor("brain").scalars, values.map { floatFromBF16(bf16FromFloat($0)) })
        XCTAssertEqual(try file.tensor("double").scalars.map(\.bitPattern), values.map(\.bitPattern))
        XCTAssertEqual(try file.int32s("ids"), [0, -1, .max, .min, 7, 8])
        XCTAssertEqual(try file.info("ids").shape, [3, 2])
        XCTAssertEqual(try file.int64s("big"), [1 << 40, -5, .max])
        XCTAssertEqual(try file.tensor("mask").scalars, [1, 0, 1])
        XCTAssertEqual(try file.tensor("plain").scalars.map(\.bitPattern), values.map(\.bitPattern))
    }

    func testF16DecodingMatchesHandComputedValues() {
        let cases: [(UInt16, Float)] = [
            (0x3c00, 1), (0xc000, -2), (0x3555, 0.333251953125), (0x7bff, 65504),
            (0x0400, 0x1p-14),              // smallest normal
            (0x03ff, 1023 * 0x1p-24),       // largest subnormal
            (0x0200, 0x1p-15), (0x0001, 0x1p-24),  // subnormals down to the smallest
            (0x8001, -0x1p-24), (0x0000, 0), (0x7c00, .infinity), (0xfc00, -.infinity),
        ]
        for (bits, value) in cases {
            XCTAssertEqual(floatFromF16(bits), value, "0x\(String(bits, radix: 16))")
            XCTAssertEqual(f16FromFloat(value), bits, "\(value)")
        }
        XCTAssertEqual(floatFromF16(0x8000).bitPattern, (-0.0 as Float).bitPattern, "negative zero keeps its sign")
        for nan: UInt16 in [0x7e00, 0x7c01, 0xfe00, 0x7fff] { XCTAssertTrue(floatFromF16(nan).isNaN) }
        XCTAssertEqual(floatFromF16(0xfe00).sign, .minus)
    }

    func testF16EncodingRoundsToNearestEven() {
        XCTAssertEqual(f16FromFloat(1 + 0x1p-11), 0x3c00, "halfway rounds down to even")
        XCTAssertEqual(f16FromFloat(1 + 3 * 0x1p-11), 0x3c02, "halfway rounds up to even")
        XCTAssertEqual(f16FromFloat(1 + 0x1p-11 + 0x1p-20), 0x3c01, "above halfway rounds up")
        XCTAssertEqual(f16FromFloat(65519), 0x7bff)
        XCTAssertEqual(f16FromFloat(65520), 0x7c00, "halfway to 2^16 rounds to inf")
        XCTAssertEqual(f16FromFloat(1e10), 0x7c00)
        XCTAssertEqual(f16FromFloat(-1e10), 0xfc00)
        XCTAssertEqual(f16FromFloat(0x1p-25), 0x0000, "half the smallest subnormal ties to zero")
        XCTAssertEqual(f16FromFloat(0x1.8p-25), 0x0001)
        XCTAssertEqual(f16FromFloat(3 * 0x1p-25), 0x0002, "1.5 subnormal units tie to 2")
        XCTAssertEqual(f16FromFloat(0x1.ffcp-15), 0x0400, "rounding up out of the subnormals gives the smallest normal")
        XCTAssertEqual(f16FromFloat(.leastNonzeroMagnitude), 0)
        XCTAssertEqual(f16FromFloat(-0.0), 0x8000)
        XCTAssertTrue(floatFromF16(f16FromFloat(.nan)).isNaN)
        XCTAssertTrue(floatFromF16(f16FromFloat(Float(bitPattern: 0x7f80_0001))).isNaN, "a low-payload NaN stays NaN")
        // Every non-NaN half survives Float and back.
        for bits in 0...UInt16.max where !floatFromF16(bits).isNaN {
            XCTAssertEqual(f16FromFloat(floatFromF16(bits)), bits)
        }
    }

    func testBF16DecodingAndRounding() {
        XCTAssertEqual(floatFromBF16(0x3f80), 1)
        XCTAssertEqual(floatFromBF16(0xc049), -3.140625)
        XCTAssertEqual(floatFromBF16(0x7f80), .infinity)
        XCTAssertEqual(floatFromBF16(0x0001), 0x1p-133, "smallest bf16 subnormal")
        XCTAssertTrue(floatFromBF16(0x7fc0).isNaN)
        XCTAssertEqual(bf16FromFloat(1 + 0x1p-8), 0x3f80, "halfway rounds down to even")
        XCTAssertEqual(bf16FromFloat(1 + 3 * 0x1p-8), 0x3f82, "halfway rounds up to even")
        XCTAssertEqual(bf16FromFloat(.greatestFiniteMagnitude), 0x7f80, "rounds past the largest bf16 to inf")
        XCTAssertTrue(floatFromBF16(bf16FromFloat(Float(bitPattern: 0x7f80_0001))).isNaN, "a low-payload NaN stays NaN")
        for bits in 0...UInt16.max where !floatFromBF16(bits).isNaN {
            XCTAssertEqual(bf16FromFloat(floatFromBF16(bits)), bits)
        }
    }

    func testHandBuiltIntegerAndBoolFile() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("ints.safetensors")
        let i64 = littleEndianBytes([Int64(1) << 40, -5, 3])  // 24 bytes
        let i32 = littleEndianBytes([Int32(-7), 2_000_000_000])  // 8
        let bool: [UInt8] = [1, 0, 2]  // nonzero is true
        let i8 = littleEndianBytes([Int8(-3)]), u8: [UInt8] = [200]
        let i16 = littleEndianBytes([Int16(-300)])
        let f64 = littleEndianBytes([(0.1 as Double).bitPattern])
        let header = """
            {"b":{"dtype":"BOOL","shape":[3],"data_offsets":[32,35]},
             "__metadata__":{"source":"hand"},
             "a":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},
             "c":{"dtype":"I32","shape":[1,2],"data_offsets":[24,32]},
             "d":{"dtype":"I8","shape":[],"data_offsets":[35,36]},
             "e":{"dtype":"U8","shape":[1],"data_offsets":[36,37]},
             "f":{"dtype":"I16","shape":[1],"data_offsets":[37,39]},
             "g":{"dtype":"F64","shape":[1],"data_offsets":[39,47]}}
            """
        try writeBytes(safetensorsImage(header, data: i64 + i32 + bool + i8 + u8 + i16 + f64), to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.names, ["b", "a", "c", "d", "e", "f", "g"], "header order")
        XCTAssertEqual(file.metadata, ["source": "hand"])
        XCTAssertEqual(try file.int64s("a"), [1 << 40, -5, 3])
        XCTAssertEqual(try file.tensor("a").scalars, [0x1p40, -5, 3])
        XCTAssertEqual(try file.int32s("c"), [-7, 2_000_000_000])
        XCTAssertEqual(try file.tensor("c").shape, [1, 2])
        XCTAssertEqual(try file.int64s("b"), [1, 0, 1])
        XCTAssertEqual(try file.tensor("b").scalars, [1, 0, 1])
        XCTAssertEqual(try file.tensor("d").shape, [])
        XCTAssertEqual(try file.tensor("d").item, -3)
        XCTAssertEqual(try file.int32s("e"), [200])
        XCTAssertEqual(try file.int32s("f"), [-300])
        XCTAssertEqual(try file.tensor("g").item, Float(0.1 as Double))
        XCTAssertEqual(try file.info("c").byteRange, 24..<32)

        XCTAssertThrowsError(try file.int32s("a")) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.reason, .integerOutOfRange(tensor: "a", index: 0, value: 1 << 40))
        }
        XCTAssertThrowsError(try file.int64s("g")) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.reason, .notIntegerData(tensor: "g", dtype: .f64))
        }
        XCTAssertThrowsError(try file.tensor("nope")) { error in
            let e = error as? SafeTensorsError
            XCTAssertEqual(e?.reason, .noSuchTensor(name: "nope", available: file.names))
            XCTAssertTrue(e?.description.contains(url.path) == true)
            XCTAssertTrue(e?.description.contains("'nope'") == true)
        }
        XCTAssertFalse(file.contains("nope"))
        XCTAssertTrue(file.contains("a"))
    }

    func testWriterRejectsInconsistentEntriesWithoutTouchingTheDestination() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("w.safetensors")
        try SafeTensorsWriter.write([("keep", Tensor([1, 2]))], to: url)
        let before = try Data(contentsOf: url)
        let bad: [([SafeTensorsEntry], SafeTensorsError.Reason)] = [
            ([SafeTensorsEntry("a", Tensor([1])), SafeTensorsEntry("a", Tensor([2]))], .duplicateName("a")),
            ([SafeTensorsEntry("__metadata__", Tensor([1]))],
             .invalidEntry(tensor: "__metadata__", problem: "the name is reserved for metadata")),
            ([SafeTensorsEntry("ids", int32s: [1, 2, 3], shape: [2, 2])],
             .invalidEntry(tensor: "ids", problem: "3 values do not fill shape [2, 2]")),
            ([SafeTensorsEntry("neg", int64s: [], shape: [-1])],
             .invalidEntry(tensor: "neg", problem: "negative dimension -1 in shape [-1]")),
            ([SafeTensorsEntry("raw", dtype: .f16, shape: [3], rawBytes: [0, 0, 0, 0])],
             .invalidEntry(tensor: "raw", problem: "4 raw bytes, but shape [3] of F16 needs 6")),
            ([SafeTensorsEntry("f", Tensor([1]), dtype: .i32)],
             .invalidEntry(tensor: "f", problem: "a Float tensor can be stored as F32, F16, BF16 or F64, not I32")),
        ]
        for (entries, reason) in bad {
            XCTAssertThrowsError(try SafeTensorsWriter.write(entries, to: url)) { error in
                XCTAssertEqual(error as? SafeTensorsError, SafeTensorsError(path: url.path, reason))
            }
        }
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try scratch.listing(), ["w.safetensors"])
    }
}
