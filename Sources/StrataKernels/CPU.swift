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
