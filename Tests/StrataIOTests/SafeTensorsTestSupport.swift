import Foundation
import StrataIO
import XCTest

/// A scratch directory removed when the test case ends.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("strata-io-tests-\(getpid())-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        // Restore permissions first so a read-only test directory can be removed.
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        try? FileManager.default.removeItem(at: url)
    }

    /// A path inside the directory.
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Names of the entries in the directory, sorted.
    func listing() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() }
}

/// A hand-built safetensors byte image: length prefix (the true one unless `declaredLength` is given),
/// header text, data bytes.
func safetensorsImage(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    safetensorsImage(headerBytes: Array(header.utf8), data: data, declaredLength: declaredLength)
}

/// As above with raw header bytes (for invalid UTF-8).
func safetensorsImage(headerBytes: [UInt8], data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
    var out: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { out.append(contentsOf: $0) }
    return out + headerBytes + data
}

/// Little-endian bytes of integers.
func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
    values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

/// Writes `bytes` to `url`, replacing its contents in place. Plain POSIX calls: Foundation's
/// `Data.write` costs milliseconds per file here, which the fuzz test's thousands of files cannot afford.
func writeBytes(_ bytes: [UInt8], to url: URL) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
    defer { close(fd) }
    try bytes.withUnsafeBytes { buffer in
        var done = 0
        while done < buffer.count {
            let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
            guard n > 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
            done += n
        }
    }
}

/// Opens `url` expecting a SafeTensorsError; returns it (failing the test for success or another error).
func expectSafeTensorsError(_ url: URL, file: StaticString = #filePath, line: UInt = #line) -> SafeTensorsError? {
    do {
        _ = try SafeTensorsFile(url: url)
        XCTFail("expected a SafeTensorsError, but the file opened", file: file, line: line)
    } catch let error as SafeTensorsError {
        return error
    } catch {
        XCTFail("expected a SafeTensorsError, got \(error)", file: file, line: line)
    }
    return nil
}
