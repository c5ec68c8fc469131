import Foundation
import Synchronization

/// A persistent pool of worker threads with one operation: split `0..<count` into contiguous chunks.
///
/// Determinism rests on one rule that every caller keeps: work is split over *outputs*, never over a
/// reduction axis, so each output element is computed by the same instruction sequence whatever the
/// thread count. The pool therefore only decides *who* computes a chunk, never *what* is computed.
///
/// The thread count is `STRATA_THREADS` (default: all cores), capped per task by `Threads.limit`.
/// A `parallelFor` issued while another one is in flight (nested, or from a concurrent test) runs its
/// chunks on the calling thread: correct by the rule above, and it can never deadlock.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, sized from `STRATA_THREADS` or the number of active cores.
    public static let shared = ThreadPool(threadCount: ThreadPool.configuredThreadCount())

    /// Total threads that take part in a job, the caller included.
    public let threadCount: Int

    private let busy = Mutex<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    // The current job; written by the submitting thread before `generation` is bumped.
    private var job: ((Int) -> Void)?
    private var jobChunks = 0

    /// Creates a pool; `threadCount - 1` workers are started, the caller is the last thread.
    public init(threadCount: Int) {
        self.threadCount = max(1, threadCount)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for worker in 1..<self.threadCount {
            let thread = Thread { self.workerLoop(index: worker) }  // pools are persistent by design
            thread.name = "strata-worker-\(worker)"
            thread.start()
        }
    }

    /// Processor cores this process may use.
    public static var availableCores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Reads `STRATA_THREADS` (capped at the available cores, as `--threads` is: more threads than cores only
    /// adds contention, measured at about 200× slower for 1,000 threads on 2 cores), falling back to all cores.
    /// The CLI refuses a value that is not a positive integer before this runs.
    public static func configuredThreadCount(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        if let text = environment["STRATA_THREADS"], let n = threadCount(parsing: text) { return min(n, availableCores) }
        return availableCores
    }

    /// A `STRATA_THREADS` value as a thread count: a positive integer, else nil.
    public static func threadCount(parsing text: String) -> Int? {
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 1 else { return nil }
        return n
    }

    /// Calls `body` on contiguous, disjoint chunks covering `0..<count`, in parallel.
    ///
    /// At most `Threads.current` chunks are made, and none smaller than `grain` items (so tiny jobs stay
    /// on the calling thread). `body` must only write outputs indexed by its chunk.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(Threads.current(in: self), max(1, count / max(1, grain)), count)
        if chunks == 1 {
            body(0..<count)
            return
        }
        let claimed = busy.withLock { inFlight -> Bool in
            if inFlight { return false }
            inFlight = true
            return true
        }
        guard claimed else {
            for c in 0..<chunks { body(Self.chunk(c, of: chunks, count: count)) }
            return
        }
        defer { busy.withLock { $0 = false } }
        withoutActuallyEscaping(body) { body in
            let run: (Int) -> Void = { c in body(Self.chunk(c, of: chunks, count: count)) }
            pthread_mutex_lock(mutex)
            job = run
            jobChunks = chunks
            pending.store(chunks - 1, ordering: .releasing)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
            run(0)
            // Workers finish quickly relative to the job; spinning avoids a sleep/wake round trip.
            while pending.load(ordering: .acquiring) > 0 { sched_yield() }
            pthread_mutex_lock(mutex)
            job = nil
            pthread_mutex_unlock(mutex)
        }
    }

    /// The `c`-th of `chunks` near-equal contiguous ranges over `0..<count`.
    @inline(__always)
    public static func chunk(_ c: Int, of chunks: Int, count: Int) -> Range<Int> {
        let base = count / chunks, extra = count % chunks
        let lower = c * base + min(c, extra)
        return lower..<(lower + base + (c < extra ? 1 : 0))
    }

    /// Runs chunk `index` of the current job. Kept out of line so that no reference to the job's
    /// closure outlives the call: `parallelFor` returns (and ends its `withoutActuallyEscaping` scope)
    /// as soon as `pending` reaches zero.
    @inline(never)
    private func runJob(_ index: Int) { job?(index) }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            // Spin briefly for the next job (training issues many small ops back to back), then sleep.
            var spins = 0
            while generation.load(ordering: .acquiring) == seen && spins < 20_000 {
                spins += 1
            }
            pthread_mutex_lock(mutex)
            while generation.load(ordering: .acquiring) == seen {
                pthread_cond_wait(wake, mutex)
            }
            seen = generation.load(ordering: .acquiring)
            let chunks = jobChunks
            pthread_mutex_unlock(mutex)
            if index < chunks {
                runJob(index)
                pending.subtract(1, ordering: .releasing)
            }
        }
    }
}

/// Per-task cap on the number of threads kernels may use (e.g. `Threads.$limit.withValue(1) { ... }`).
public enum Threads {
    /// Upper bound on threads for work started in this task; `nil` means the whole pool.
    @TaskLocal public static var limit: Int?

    /// The number of threads a job may use now on `pool`.
    public static func current(in pool: ThreadPool = .shared) -> Int {
        min(pool.threadCount, max(1, limit ?? pool.threadCount))
    }
}

/// Shorthand for `ThreadPool.shared.parallelFor`.
@inline(__always)
public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
    ThreadPool.shared.parallelFor(count, grain: grain, body)
}
