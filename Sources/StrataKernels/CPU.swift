import CStrataKernels
import Foundation

/// The vector instruction set the C kernels dispatch to on this machine.
public enum VectorISA: String, Sendable, CaseIterable {
    case portable, avx2, avx512, neon

    /// The ISA the kernels use: the best this CPU supports (detected once at first use), or a lower one named
    /// by `STRATA_ISA` (portable, avx2, …) to compare paths or rule one out; a request the CPU cannot run is ignored.
    public static let detected: VectorISA = {
        let best: VectorISA
        switch strata_detect_isa() {
        case STRATA_ISA_AVX512: best = .avx512
        case STRATA_ISA_AVX2: best = .avx2
        case STRATA_ISA_NEON: best = .neon
        default: best = .portable
        }
        guard let name = ProcessInfo.processInfo.environment["STRATA_ISA"], let requested = VectorISA(rawValue: name)
        else { return best }
        let supported: [VectorISA] = switch best {
        case .avx512: [.avx512, .avx2, .portable]
        case .avx2: [.avx2, .portable]
        case .neon: [.neon, .portable]
        case .portable: [.portable]
        }
        return supported.contains(requested) ? requested : best
    }()
}

/// Raises glibc's mmap and trim thresholds so that large buffers freed by one training step are reused by the
/// next instead of being unmapped and page-faulted back in (no-op elsewhere). Called once by the tensor storage.
public func configureAllocatorForReuse() { strata_configure_allocator() }
