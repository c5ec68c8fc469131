// arm64 NEON GEMM micro-kernel, 8×12 tile: 24 q-register accumulators + 3 for the B row + 2 for the A
// column = 29 of 32 registers. Same contract as the x86 kernels (see gemm_x86.c): accumulate over p in
// order, finish with C = fma(beta, C, alpha·acc), or alpha·acc when beta == 0 (C not read).
#include "strata_gemm.h"

#if defined(__aarch64__)
#include <arm_neon.h>

enum { NE_MR = 8, NE_NR = 12 };

static inline __attribute__((always_inline)) void
ukernel_neon(int64_t kc, const float *restrict a /* [kc][8] */, const float *restrict b /* [kc][12] */,
             float *restrict c /* [mr×ldc] */, int64_t ldc, int64_t mr, int64_t nr,
             float alpha, float beta) {
    float32x4_t acc[NE_MR][3];
    _Pragma("unroll")
    for (int i = 0; i < NE_MR; i++)
        for (int j = 0; j < 3; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (int64_t p = 0; p < kc; p++) {
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        _Pragma("unroll")
        for (int i = 0; i < NE_MR; i++) {
            acc[i][0] = vfmaq_n_f32(acc[i][0], b0, a[i]);
            acc[i][1] = vfmaq_n_f32(acc[i][1], b1, a[i]);
            acc[i][2] = vfmaq_n_f32(acc[i][2], b2, a[i]);
        }
        a += NE_MR;
        b += NE_NR;
    }
    // Write the tile through a scratch copy: simple, and the scalar finish is the same fused expression.
    float tile[NE_MR][NE_NR];
    _Pragma("unroll")
    for (int i = 0; i < NE_MR; i++)
        for (int j = 0; j < 3; j++) vst1q_f32(&tile[i][4 * j], acc[i][j]);
    for (int64_t i = 0; i < mr; i++) {
        float *row = c + i * ldc;
        for (int64_t j = 0; j < nr; j++) {
            float t = alpha * tile[i][j];
            row[j] = beta == 0.0f ? t : __builtin_fmaf(beta, row[j], t);
        }
    }
}

void strata_sgemm_macro_neon(int64_t rows, int64_t cols, int64_t kc, const float *pa, const float *pb,
                             float alpha, float beta, float *c, int64_t ldc) {
    for (int64_t j = 0; j < cols; j += NE_NR) {
        const float *bp = pb + j * kc;
        int64_t nr = cols - j < NE_NR ? cols - j : NE_NR;
        for (int64_t i = 0; i < rows; i += NE_MR) {
            int64_t mr = rows - i < NE_MR ? rows - i : NE_MR;
            ukernel_neon(kc, pa + i * kc, bp, c + i * ldc + j, ldc, mr, nr, alpha, beta);
        }
    }
}

#endif
