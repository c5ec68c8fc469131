// Run-time CPU feature detection: which vector ISA the fast kernels may use on this machine.
#ifndef STRATA_CPU_H
#define STRATA_CPU_H

/// Vector instruction sets the C kernels are compiled for (each behind per-function target attributes).
typedef enum {
    STRATA_ISA_PORTABLE = 0,  // plain C, whatever the compiler's baseline vectorizes
    STRATA_ISA_AVX2 = 1,      // x86-64 AVX2 + FMA
    STRATA_ISA_AVX512 = 2,    // x86-64 AVX-512F (+VL/DQ/BW)
    STRATA_ISA_NEON = 3,      // arm64 Advanced SIMD (always present on arm64)
} strata_isa;

/// The best ISA this CPU supports, detected once (cheap to call again).
strata_isa strata_detect_isa(void);

void strata_configure_allocator(void);
#endif
