import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An I/O failure while replacing a file atomically; names the path and the system error.
public struct AtomicFileError: Error, CustomStringConvertible, LocalizedError {
    /// The file (or directory) the failing system call was about.
    public let path: String
    /// What was being done: "create", "write", "fsync", "rename", ...
    public let operation: String
    /// The `errno` text from the C library.
    public let reason: String

    /// A one-line message for users.
    public var description: String { "cannot \(operation) '\(path)': \(reason)" }
    /// Same as `description`, so Foundation's `localizedDescription` carries the path.
    public var errorDescription: String? { description }
}

/// Crash-safe file replacement: readers see the old content or the new one, never a torn mix.
///
/// The POSIX recipe: write a temporary file in the same directory (so `rename` stays on one file
/// system and is atomic), `fsync` it so its blocks are durable before it becomes visible, `rename` it
/// over the target, then `fsync` the directory so the rename itself survives a power loss.
public enum AtomicFile {
    /// Replaces (or creates) the file at `url` with `data`; the parent directory must exist.
    public static func write(_ data: Data, to url: URL) throws {
        let target = url.standardizedFileURL
        let directory = target.deletingLastPathComponent().path
        let name = target.lastPathComponent
        var suffix = SystemRandomNumberGenerator()
        let tempPath = directory + "/." + name + ".tmp-" + String(suffix.next() & 0xFFFF_FFFF, radix: 16)

        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw failure(errno, "create a temporary file in", directory)
        }
        do {
            try writeAll(data, fd: fd, path: tempPath)
            guard fsync(fd) == 0 else { throw failure(errno, "fsync", tempPath) }
            guard close(fd) == 0 else {
                throw failure(errno, "close", tempPath)
            }
        } catch {
            close(fd)
            unlink(tempPath)
            throw error
        }
        guard rename(tempPath, target.path) == 0 else {
            let code = errno
            unlink(tempPath)
            throw failure(code, "rename a temporary file onto", target.path)
        }
        try syncDirectory(directory)
    }

    /// Replaces (or creates) the file at `url` with the UTF-8 bytes of `text`.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    private static func writeAll(_ data: Data, fd: Int32, path: String) throws {
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw failure(errno, "write", path)
                }
                offset += written
            }
        }
    }

    /// `write(2)`, named apart because `AtomicFile.write` shadows it inside this type.
    private static func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(fd, bytes, count)
        #elseif canImport(Musl)
        return Musl.write(fd, bytes, count)
        #else
        return Darwin.write(fd, bytes, count)
        #endif
    }

    /// Makes the directory entry change (the rename) durable.
    private static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(errno, "open directory", path) }
        defer { close(fd) }
        // Some file systems (and macOS for directories) refuse fsync on a directory with EINVAL;
        // the rename has still happened, so only real I/O errors are reported.
        if fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP {
            throw failure(errno, "fsync directory", path)
        }
    }

    private static func failure(_ code: Int32, _ operation: String, _ path: String) -> AtomicFileError {
        AtomicFileError(path: path, operation: operation, reason: String(cString: strerror(code)))
    }
}
