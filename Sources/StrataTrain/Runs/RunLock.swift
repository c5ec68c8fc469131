import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who holds a run: written into the run's lock file by the process that took the lock.
public struct RunLockHolder: Codable, Sendable, Equatable {
    /// Process id of the holder.
    public var pid: Int32
    /// Host name of the holder (a lock on a network file system may be held from another machine).
    public var host: String
    /// When the holder took the lock.
    public var startedAt: Date

    enum CodingKeys: String, CodingKey { case pid, host, startedAt = "started_at" }

    /// `pid 123 on host since 2026-12-04 21:00 UTC`.
    public var text: String {
        let formatter = ISO8601DateFormatter()
        return "pid \(pid) on \(host) since \(formatter.string(from: startedAt))"
    }
}

/// Whether a process still works on a run, as far as the lock file tells.
public enum RunLiveness: Sendable, Equatable {
    /// A process holds the run's lock.
    case live(RunLockHolder?)
    /// No process holds it (the holder ended, or was killed: the kernel drops the lock with the process).
    case gone
}

/// An exclusive `flock` on `<run>/lock`, held by the process training the run for as long as it trains.
///
/// `flock` is released by the kernel when the process ends however it ends (Ctrl-C twice, `kill -9`, the
/// out-of-memory killer), so a `running` row whose lock is free belongs to a dead process. The lock is on an
/// open file description: a second open of the same file, even in the same process, cannot take it, which is
/// what makes two trainers on one run impossible. The file is never replaced (a rename would give it a new
/// inode and a second, independent lock); its content, the holder's pid, host and start time, is informative.
final class RunLock: Sendable {
    /// The lock file.
    let url: URL
    private let descriptor: Int32

    private init(url: URL, descriptor: Int32) {
        self.url = url
        self.descriptor = descriptor
    }

    /// The lock file of a run directory.
    static func url(in directory: URL) -> URL { directory.appendingPathComponent("lock") }

    /// Takes the lock of the run in `directory`, or returns the current holder when another open file holds it.
    /// Readers take it shared for an instant to test it, so a busy answer is retried for a short while.
    static func acquire(directory: URL, attempts: Int = 20) throws -> Result<RunLock, RunLockHolderError> {
        let url = url(in: directory)
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RunStoreError.fileSystem(path: url.path, message: "cannot open the run's lock file: \(String(cString: strerror(errno)))")
        }
        for attempt in 0..<max(attempts, 1) {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                let lock = RunLock(url: url, descriptor: fd)
                lock.writeHolder()
                return .success(lock)
            }
            guard errno == EWOULDBLOCK else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw RunStoreError.fileSystem(path: url.path, message: "cannot lock the run: \(reason)")
            }
            if attempt < attempts - 1 { usleep(25_000) }
        }
        close(fd)
        return .failure(RunLockHolderError(holder: readHolder(url)))
    }

    /// Whether a process holds the lock of the run in `directory` (a missing lock file means none does).
    static func liveness(directory: URL) -> RunLiveness {
        let url = url(in: directory)
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .gone }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return .gone
        }
        return .live(readHolder(url))
    }

    /// Drops the lock (closing the descriptor releases it).
    func release() { close(descriptor) }

    private func writeHolder() {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let holder = RunLockHolder(pid: getpid(), host: String(cString: host), startedAt: Date())
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(holder) else { return }
        // In place (truncate + write): the file's identity is the lock.
        ftruncate(descriptor, 0)
        _ = data.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    private static func readHolder(_ url: URL) -> RunLockHolder? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(RunLockHolder.self, from: data)
    }
}

/// The lock of a run is held by another open file (another process, or another trainer in this one).
struct RunLockHolderError: Error {
    var holder: RunLockHolder?
}
