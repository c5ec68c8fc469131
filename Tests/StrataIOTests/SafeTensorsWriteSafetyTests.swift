import Foundation
import StrataCore
import StrataIO
import XCTest

/// The writer replaces files atomically: a reader sees the old file or the whole new one, and a failed
/// write leaves neither a temporary file nor a damaged destination.
final class SafeTensorsWriteSafetyTests: XCTestCase {
    struct InjectedFailure: Error {}

    func testOverwriteLeavesOnlyTheDestination() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("ckpt.safetensors")
        try SafeTensorsWriter.write([("a", Tensor([1, 2, 3]))], to: url)
        try SafeTensorsWriter.write([("b", Tensor([4, 5]))], metadata: ["step": "2"], to: url)
        XCTAssertEqual(try scratch.listing(), ["ckpt.safetensors"], "no temporary file is left behind")
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.names, ["b"])
        XCTAssertEqual(file.metadata, ["step": "2"])
    }

    func testReplacingWhileMappedKeepsTheOpenFileReadable() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("live.safetensors")
        try SafeTensorsWriter.write([("w", Tensor([1, 2, 3]))], to: url)
        let old = try SafeTensorsFile(url: url)
        try SafeTensorsWriter.write([("w", Tensor([7, 8, 9, 10]))], to: url)
        XCTAssertEqual(try old.tensor("w").scalars, [1, 2, 3], "rename leaves the mapped inode intact")
        XCTAssertEqual(try SafeTensorsFile(url: url).tensor("w").scalars, [7, 8, 9, 10])
    }

    func testFailureBeforeRenameKeepsTheOldFileAndRemovesTheTemporary() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("ckpt.safetensors")
        try SafeTensorsWriter.write([("a", Tensor([1, 2, 3]))], to: url)
        let before = try Data(contentsOf: url)
        var sawTemporary = false
        XCTAssertThrowsError(try SafeTensorsWriter.write([SafeTensorsEntry("big", Tensor.ones([1000]))], metadata: [:],
                                                         to: url, beforeRename: {
            // The complete new file exists beside the old one at this point.
            sawTemporary = try scratch.listing().contains { $0.hasPrefix(".ckpt.safetensors.tmp-") }
            throw InjectedFailure()
        })) { XCTAssertTrue($0 is InjectedFailure) }
        XCTAssertTrue(sawTemporary)
        XCTAssertEqual(try Data(contentsOf: url), before, "the destination is untouched")
        XCTAssertEqual(try scratch.listing(), ["ckpt.safetensors"])
    }

    func testRenameFailureOverADirectoryCleansUp() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("taken")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        try Data([1, 2, 3]).write(to: url.appendingPathComponent("inside"))
        XCTAssertThrowsError(try SafeTensorsWriter.write([("a", Tensor([1]))], to: url)) { error in
            guard let e = error as? SafeTensorsError, case let .io(operation, _) = e.reason else { return XCTFail("\(error)") }
            XCTAssertTrue(operation.hasPrefix("rename"), operation)
            XCTAssertEqual(e.path, url.path)
        }
        XCTAssertEqual(try scratch.listing(), ["taken"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.path), ["inside"])
    }

    func testLongFileNameStillGetsATemporaryName() throws {
        let scratch = try ScratchDirectory()
        let name = "x" + String(repeating: "é", count: 120) + ".st"  // 244 bytes; byte 120 splits an é
        try SafeTensorsWriter.write([("a", Tensor([1, 2]))], to: scratch.file(name))
        XCTAssertEqual(try SafeTensorsFile(url: scratch.file(name)).tensor("a").scalars, [1, 2])
        XCTAssertEqual(try scratch.listing(), [name])
    }

    func testMissingDirectoryThrowsNamingTheFile() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("no/such/dir/x.safetensors")
        XCTAssertThrowsError(try SafeTensorsWriter.write([("a", Tensor([1]))], to: url)) { error in
            XCTAssertTrue("\(error)".contains(url.path), "\(error)")
        }
        XCTAssertEqual(try scratch.listing(), [])
    }

    func testReadOnlyDirectory() throws {
        let scratch = try ScratchDirectory()
        let url = scratch.file("ckpt.safetensors")
        try SafeTensorsWriter.write([("a", Tensor([1, 2, 3]))], to: url)
        let before = try Data(contentsOf: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: scratch.url.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.url.path) }
        do {
            try SafeTensorsWriter.write([("b", Tensor([9]))], to: url)
            // Only a privileged user (root ignores directory permissions) gets here: the write must then be whole.
            XCTAssertEqual(geteuid(), 0, "a read-only directory accepted a write from an unprivileged user")
            XCTAssertEqual(try SafeTensorsFile(url: url).tensor("b").scalars, [9])
        } catch let error as SafeTensorsError {
            XCTAssertTrue(error.description.contains(url.path))
            XCTAssertEqual(try Data(contentsOf: url), before, "the old file is intact")
        }
        XCTAssertEqual(try scratch.listing(), ["ckpt.safetensors"])
    }
}
