import CStrataKernels

/// The vector instruction set the C kernels dispatch to on this machine.
public enum VectorISA: String, Sendable, CaseIterable {
    case portable, avx2, avx512, neon

    /// The best ISA this CPU supports (detected once at first use).
    public static let detected: VectorISA = {
        switch strata_detect_isa() {
        case STRATA_ISA_AVX512: return .avx512
        case STRATA_ISA_AVX2: return .avx2
        case STRATA_ISA_NEON: return .neon
        default: return .portable
        }
    }()
}

/// Raises glibc's mmap and trim thresholds so that large buffers freed by one training step are reused by the
/// next instead of being unmapped and page-faulted back in (no-op elsewhere). Called once by the tensor storage.
public func configureAllocatorForReuse() { strata_configure_allocator() }
