#include "strata_cpu.h"

strata_isa strata_detect_isa(void) {
#if defined(__x86_64__) || defined(_M_X64)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        return STRATA_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return STRATA_ISA_AVX2;
    return STRATA_ISA_PORTABLE;
#elif defined(__aarch64__)
    return STRATA_ISA_NEON;
#else
    return STRATA_ISA_PORTABLE;
#endif
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void strata_configure_allocator(void) {
#if defined(__GLIBC__)
    /* Keep freed activation buffers in the heap: see TensorStorage.configureAllocator. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's maximum on 64-bit */
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
