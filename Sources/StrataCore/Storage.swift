import StrataKernels
import Synchronization

/// A 64-byte-aligned Float32 buffer shared by the tensors that view it (reshape shares, ops allocate).
public final class TensorStorage: @unchecked Sendable {
    /// Start of the buffer.
    public let base: UnsafeMutablePointer<Float>
    /// Number of Float elements.
    public let count: Int

    /// Allocates `count` floats, uninitialized (every op writes all of its output).
    public init(uninitializedCount count: Int) {
        _ = TensorStorage.configureAllocator
        self.count = count
        let bytes = max(64, (count * MemoryLayout<Float>.stride + 63) & ~63)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Allocates `count` floats set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: value, count: count)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    /// Bumped by every public in-place write (`Tensor.withUnsafeMutablePointer`: optimizer steps, loading), so
    /// data derived from the contents — the packed weight below — knows when it is stale.
    let version = Atomic<Int>(0)

    /// Which matrix a packed copy was made from: the view (offset, rows, columns) and the contents' version.
    struct PackKey: Equatable {
        var offset: Int, rows: Int, columns: Int, version: Int
    }
    private let packed = Mutex<(key: PackKey, operand: PackedGEMMOperand)?>(nil)

    /// The GEMM packing of the [rows, columns] matrix at `offset` used as a transposed B operand (a Linear
    /// weight), made on first use and again after any in-place write. Inference reuses it across calls.
    func packedTransposed(offset: Int, rows: Int, columns: Int) -> PackedGEMMOperand {
        let key = PackKey(offset: offset, rows: rows, columns: columns, version: version.load(ordering: .acquiring))
        return packed.withLock { cached in
            if let cached, cached.key == key { return cached.operand }
            let operand = PackedGEMMOperand(b: base + offset, ldb: columns, transposed: true, k: columns, n: rows)
            cached = (key, operand)
            return operand
        }
    }

    /// Training allocates and frees the same large activation buffers every step. glibc serves blocks above its
    /// mmap threshold with fresh mappings, so each step would page-fault and zero every activation again
    /// (measured: ~10% of a bench-char step in the kernel's clear_page). Raising the mmap and trim thresholds
    /// once keeps freed blocks in the heap for reuse. Runs once, before the first tensor allocation.
    private static let configureAllocator: Void = {
        configureAllocatorForReuse()
    }()
}
