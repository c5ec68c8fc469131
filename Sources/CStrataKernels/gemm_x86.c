// x86-64 GEMM micro-kernels: AVX-512 (14×32 tile) and AVX2+FMA (6×16 tile), each behind per-function
// target attributes so the package needs no global ISA flags. Callers dispatch on strata_detect_isa().
//
// Both kernels follow the same scheme: C tile accumulators stay in registers for the whole kc loop, each
// step loads one row of the packed B micro-panel (nr floats) and broadcasts mr values of the packed A
// micro-panel, then does mr × (nr / lanes) independent FMAs. The finishing step is
// C = fma(beta, C, alpha·acc) (or alpha·acc when beta == 0, so C is never read), the same expression
// for full and edge tiles, so an element's bits never depend on where its tile was cut.
#include "strata_gemm.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))
#define AVX2_TARGET __attribute__((target("avx2,fma")))

// MARK: AVX-512, 14×32: 28 zmm accumulators + 2 for the B row + 1 broadcast = 31 of 32 registers.
// 14 rows maximize FMAs per B load; Zen 4 issues one zmm FMA per cycle, so the loop is FMA-bound.

enum { A5_MR = 14, A5_NR = 32, A5_NB = 512 };

AVX512_TARGET static inline __attribute__((always_inline)) void
ukernel_avx512(int64_t kc, const float *restrict a /* [kc][14] */, const float *restrict b /* [kc][32] */,
               float *restrict c /* [mr×ldc] */, int64_t ldc, int64_t mr, int64_t nr,
               float alpha, float beta) {
    __m512 acc0[A5_MR], acc1[A5_MR];
    _Pragma("unroll")
    for (int i = 0; i < A5_MR; i++) {
        acc0[i] = _mm512_setzero_ps();
        acc1[i] = _mm512_setzero_ps();
        // C is far bigger than the caches and is read and written only after the kc loop: request its
        // lines now (first and last float of the row cover the 2-3 lines of an unaligned 32-float row) so
        // the update does not stall on memory (+2-3% at n = 2048).
        if (i < mr) {
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + i * ldc + nr - 1), _MM_HINT_T0);
        }
    }
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        _Pragma("unroll")
        for (int i = 0; i < A5_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
        }
        a += A5_MR;
        b += A5_NR;
    }
    // Lanes past nr are masked off; masked loads and stores never touch memory outside the mask.
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xFFFF : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    // Constant indices (with a run-time guard) keep the accumulators in registers.
    _Pragma("unroll")
    for (int i = 0; i < A5_MR; i++) {
        if (i >= mr) break;
        float *row = c + i * ldc;
        __m512 t0 = _mm512_mul_ps(va, acc0[i]), t1 = _mm512_mul_ps(va, acc1[i]);
        if (beta != 0.0f) {
            t0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), t0);
            t1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), t1);
        }
        _mm512_mask_storeu_ps(row, m0, t0);
        _mm512_mask_storeu_ps(row + 16, m1, t1);
    }
}

AVX512_TARGET void strata_sgemm_macro_avx512(int64_t rows, int64_t cols, int64_t kc,
                                             const float *pa, const float *pb, float alpha, float beta,
                                             float *c, int64_t ldc) {
    // One A micro-panel (14×kc, 14 KiB at kc = 256) stays in L1 while the B micro-panels of a block of
    // A5_NB columns (kc×A5_NB, 512 KiB) stream from L2; a B micro-panel (32 KiB) would not fit in L1.
    for (int64_t j0 = 0; j0 < cols; j0 += A5_NB) {
        int64_t j1 = cols - j0 < A5_NB ? cols : j0 + A5_NB;
        for (int64_t i = 0; i < rows; i += A5_MR) {
            int64_t mr = rows - i < A5_MR ? rows - i : A5_MR;
            for (int64_t j = j0; j < j1; j += A5_NR) {
                int64_t nr = j1 - j < A5_NR ? j1 - j : A5_NR;
                ukernel_avx512(kc, pa + i * kc, pb + j * kc, c + i * ldc + j, ldc, mr, nr, alpha, beta);
            }
        }
    }
}

// MARK: AVX-512 packing

// In-register transpose of a 16×16 tile: r[i][j] → r[j][i]. Each stage s (8, 4, 2, 1) swaps the
// off-diagonal s×s blocks of every 2s×2s block: [[A, B], [C, D]] → [[A, C], [B, D]]; after all four
// stages every element has moved to its transposed place.
AVX512_TARGET static inline __attribute__((always_inline)) void transpose16x16(__m512 r[16]) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    _Pragma("unroll")
    for (int s = 8; s >= 1; s /= 2) {
        // Lane j of the new lower row: j from row i where (j & s) == 0, else j - s from row i + s
        // (index + 16 selects the second source). The new upper row takes j + s from row i, or j from i + s.
        __mmask16 upper = _mm512_test_epi32_mask(iota, _mm512_set1_epi32(s));
        __m512i lo = _mm512_mask_add_epi32(iota, upper, iota, _mm512_set1_epi32(16 - s));
        __m512i hi = _mm512_mask_add_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(s)), upper, iota,
                                           _mm512_set1_epi32(16));
        _Pragma("unroll")
        for (int i = 0; i < 16; i++) {
            if (i & s) continue;
            __m512 a = r[i], b = r[i + s];
            r[i] = _mm512_permutex2var_ps(a, lo, b);
            r[i + s] = _mm512_permutex2var_ps(a, hi, b);
        }
    }
}

// Same contract as pack_body in gemm.c: dst[panel][p][x] = src[(panel·w + x)·sw + p·sk], zero past count.
AVX512_TARGET void strata_sgemm_pack_avx512(int64_t w, int64_t count, int64_t kc, const float *src,
                                            int64_t sk, int64_t sw, float *restrict dst) {
    for (int64_t x0 = 0; x0 < count; x0 += w, dst += kc * w) {
        int64_t valid = count - x0 < w ? count - x0 : w;
        const float *s = src + x0 * sw;
        for (int64_t xb = 0; xb < w; xb += 16) {
            int64_t lanes = w - xb < 16 ? w - xb : 16;           // panel lanes this block writes
            int64_t rows = valid - xb < 0 ? 0 : valid - xb < 16 ? valid - xb : 16;  // of which real
            __mmask16 store = (__mmask16)((1u << lanes) - 1), load = (__mmask16)((1u << rows) - 1);
            if (sw == 1) {
                // Panel lanes are contiguous in the source: masked row copies.
                for (int64_t p = 0; p < kc; p++)
                    _mm512_mask_storeu_ps(dst + p * w + xb, store, _mm512_maskz_loadu_ps(load, s + p * sk + xb));
                continue;
            }
            // Panel lanes are source rows along k: 16 rows × 16 k at a time through a register transpose.
            for (int64_t p0 = 0; p0 < kc; p0 += 16) {
                int64_t depth = kc - p0 < 16 ? kc - p0 : 16;
                __mmask16 kmask = (__mmask16)((1u << depth) - 1);
                __m512 r[16];
                _Pragma("unroll")
                for (int i = 0; i < 16; i++)
                    r[i] = i < rows ? _mm512_maskz_loadu_ps(kmask, s + (xb + i) * sw + p0) : _mm512_setzero_ps();
                transpose16x16(r);
                _Pragma("unroll")
                for (int q = 0; q < 16; q++)
                    if (q < depth) _mm512_mask_storeu_ps(dst + (p0 + q) * w + xb, store, r[q]);
            }
        }
    }
}

// MARK: AVX2 + FMA, 6×16: 12 ymm accumulators + 2 for the B row + 1 broadcast = 15 of 16 registers.

enum { A2_MR = 6, A2_NR = 16, A2_NB = 512 };

// Row j of this table, read from offset 16 - n, gives lanes j < n all-ones (a load mask for n lanes).
static const int32_t avx2_mask_table[32] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

AVX2_TARGET static inline __attribute__((always_inline)) void
ukernel_avx2(int64_t kc, const float *restrict a /* [kc][6] */, const float *restrict b /* [kc][16] */,
             float *restrict c /* [mr×ldc] */, int64_t ldc, int64_t mr, int64_t nr,
             float alpha, float beta) {
    __m256 acc0[A2_MR], acc1[A2_MR];
    _Pragma("unroll")
    for (int i = 0; i < A2_MR; i++) {
        acc0[i] = _mm256_setzero_ps();
        acc1[i] = _mm256_setzero_ps();
        if (i < mr) {  // see ukernel_avx512
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + i * ldc + nr - 1), _MM_HINT_T0);
        }
    }
    for (int64_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        _Pragma("unroll")
        for (int i = 0; i < A2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
        a += A2_MR;
        b += A2_NR;
    }
    // nr is in 1...16, so both offsets stay inside the 32-entry table.
    __m256i m0 = _mm256_loadu_si256((const __m256i *)(avx2_mask_table + 16 - nr));
    __m256i m1 = _mm256_loadu_si256((const __m256i *)(avx2_mask_table + 16 - nr + 8));
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    _Pragma("unroll")
    for (int i = 0; i < A2_MR; i++) {
        if (i >= mr) break;
        float *row = c + i * ldc;
        __m256 t0 = _mm256_mul_ps(va, acc0[i]), t1 = _mm256_mul_ps(va, acc1[i]);
        if (nr == A2_NR) {
            // vmaskmov is slow on some cores (microcoded stores on AMD): full rows use plain moves.
            if (beta != 0.0f) {
                t0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), t0);
                t1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), t1);
            }
            _mm256_storeu_ps(row, t0);
            _mm256_storeu_ps(row + 8, t1);
            continue;
        }
        if (beta != 0.0f) {
            t0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(row, m0), t0);
            t1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(row + 8, m1), t1);
        }
        _mm256_maskstore_ps(row, m0, t0);
        _mm256_maskstore_ps(row + 8, m1, t1);
    }
}

AVX2_TARGET void strata_sgemm_macro_avx2(int64_t rows, int64_t cols, int64_t kc,
                                         const float *pa, const float *pb, float alpha, float beta,
                                         float *c, int64_t ldc) {
    // Same order as the AVX-512 driver: the A micro-panel in L1, B blocks of A2_NB columns from L2.
    for (int64_t j0 = 0; j0 < cols; j0 += A2_NB) {
        int64_t j1 = cols - j0 < A2_NB ? cols : j0 + A2_NB;
        for (int64_t i = 0; i < rows; i += A2_MR) {
            int64_t mr = rows - i < A2_MR ? rows - i : A2_MR;
            for (int64_t j = j0; j < j1; j += A2_NR) {
                int64_t nr = j1 - j < A2_NR ? j1 - j : A2_NR;
                ukernel_avx2(kc, pa + i * kc, pb + j * kc, c + i * ldc + j, ldc, mr, nr, alpha, beta);
            }
        }
    }
}

#endif
