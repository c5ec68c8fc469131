// GEMM pieces shared by every ISA: packing, the direct (unpacked) kernel, the portable micro-kernel,
// and run-time dispatch. Packing and the direct kernel are written once as always-inline bodies and
// instantiated inside target-attributed wrappers, so the compiler vectorizes each copy for its ISA.
#include <stddef.h>
#include "strata_gemm.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

// Micro-kernel drivers defined in gemm_x86.c and gemm_arm.c (one per ISA, same contract as
// strata_sgemm_macro).
#if defined(__x86_64__) || defined(_M_X64)
void strata_sgemm_macro_avx512(int64_t rows, int64_t cols, int64_t kc, const float *pa, const float *pb,
                               float alpha, float beta, float *c, int64_t ldc);
void strata_sgemm_macro_avx2(int64_t rows, int64_t cols, int64_t kc, const float *pa, const float *pb,
                             float alpha, float beta, float *c, int64_t ldc);
void strata_sgemm_pack_avx512(int64_t w, int64_t count, int64_t kc, const float *src, int64_t sk, int64_t sw,
                              float *dst);
#define AVX512_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))
#define AVX2_TARGET __attribute__((target("avx2,fma")))
#endif
#if defined(__aarch64__)
void strata_sgemm_macro_neon(int64_t rows, int64_t cols, int64_t kc, const float *pa, const float *pb,
                             float alpha, float beta, float *c, int64_t ldc);
#endif

strata_gemm_blocking strata_sgemm_blocking(strata_isa isa) {
    // AVX-512 (measured on Zen 4, 1 thread, n = 1024 and 2048): kc = 384 keeps a 14×kc A micro-panel
    // (21 KiB) in L1 while 512-column B blocks (768 KiB, see A5_NB) stream from L2; kc 256→384 gains ~2%
    // from fewer C passes, mc barely matters. AVX2 uses the same loop order with a 6×kc A micro-panel
    // (6 KiB) and 512 KiB B blocks (measured 70 → 103 GFLOP/s vs a B micro-panel in L1 on Zen 4).
    // NEON / portable: a kc×nr B micro-panel fits in L1, an mc×kc A block in L2. nc: a kc×nc B panel is a
    // few MiB of L3.
    switch (isa) {
    case STRATA_ISA_AVX512: return (strata_gemm_blocking){14, 32, 384, 14 * 16, 32 * 128};
    case STRATA_ISA_AVX2: return (strata_gemm_blocking){6, 16, 256, 6 * 24, 16 * 256};
    case STRATA_ISA_NEON: return (strata_gemm_blocking){8, 12, 256, 8 * 32, 12 * 256};
    default: return (strata_gemm_blocking){4, 8, 256, 4 * 64, 8 * 512};
    }
}

// MARK: packing

// dst[panel][p][x] = src[(panel·w + x)·sw + p·sk] for panel·w + x < count, else 0.
// One of sw, sk is 1 for every operand layout: sw == 1 copies contiguous rows, sk == 1 transposes.
ALWAYS_INLINE void pack_body(int64_t w, int64_t count, int64_t kc, const float *src, int64_t sk,
                             int64_t sw, float *restrict dst) {
    for (int64_t x0 = 0; x0 < count; x0 += w, dst += kc * w) {
        int64_t valid = count - x0 < w ? count - x0 : w;
        const float *s = src + x0 * sw;
        if (sw == 1) {
            for (int64_t p = 0; p < kc; p++) {
                const float *sp = s + p * sk;
                float *d = dst + p * w;
                for (int64_t x = 0; x < valid; x++) d[x] = sp[x];
                for (int64_t x = valid; x < w; x++) d[x] = 0.0f;
            }
        } else {
            // Transpose in strips of 8 along k: each source row is read contiguously, and the 8·w
            // destination floats being written stay in a few cache lines.
            int64_t p0 = 0;
            for (; p0 + 8 <= kc; p0 += 8) {
                float *d = dst + p0 * w;
                for (int64_t x = 0; x < valid; x++) {
                    const float *sp = s + x * sw + p0 * sk;
                    for (int q = 0; q < 8; q++) d[q * w + x] = sp[q * sk];
                }
                for (int64_t x = valid; x < w; x++)
                    for (int q = 0; q < 8; q++) d[q * w + x] = 0.0f;
            }
            for (; p0 < kc; p0++) {
                float *d = dst + p0 * w;
                for (int64_t x = 0; x < valid; x++) d[x] = s[x * sw + p0 * sk];
                for (int64_t x = valid; x < w; x++) d[x] = 0.0f;
            }
        }
    }
}

#if defined(__x86_64__) || defined(_M_X64)
AVX2_TARGET static void pack_avx2(int64_t w, int64_t count, int64_t kc, const float *src, int64_t sk,
                                  int64_t sw, float *dst) { pack_body(w, count, kc, src, sk, sw, dst); }
#endif
static void pack_portable(int64_t w, int64_t count, int64_t kc, const float *src, int64_t sk, int64_t sw,
                          float *dst) { pack_body(w, count, kc, src, sk, sw, dst); }

static void pack(strata_isa isa, int64_t w, int64_t count, int64_t kc, const float *src, int64_t sk,
                 int64_t sw, float *dst) {
    switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case STRATA_ISA_AVX512: strata_sgemm_pack_avx512(w, count, kc, src, sk, sw, dst); return;
    case STRATA_ISA_AVX2: pack_avx2(w, count, kc, src, sk, sw, dst); return;
#endif
    default: pack_portable(w, count, kc, src, sk, sw, dst); return;
    }
}

void strata_sgemm_pack_a(strata_isa isa, int64_t mr, int trans, int64_t rows, int64_t kc, const float *a,
                         int64_t lda, float *dst) {
    // op(A)(i, p) is a[i·lda + p], or a[p·lda + i] when A is stored transposed.
    if (trans) pack(isa, mr, rows, kc, a, lda, 1, dst);
    else pack(isa, mr, rows, kc, a, 1, lda, dst);
}

void strata_sgemm_pack_b(strata_isa isa, int64_t nr, int trans, int64_t kc, int64_t cols, const float *b,
                         int64_t ldb, float *dst) {
    // op(B)(p, j) is b[p·ldb + j], or b[j·ldb + p] when B is stored transposed.
    if (trans) pack(isa, nr, cols, kc, b, 1, ldb, dst);
    else pack(isa, nr, cols, kc, b, ldb, 1, dst);
}

// MARK: portable micro-kernel (4×8; the baseline compiler vectorizes the j loops)

enum { PO_MR = 4, PO_NR = 8 };

static void macro_portable(int64_t rows, int64_t cols, int64_t kc, const float *pa, const float *pb,
                           float alpha, float beta, float *c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < cols; j0 += PO_NR) {
        int64_t nr = cols - j0 < PO_NR ? cols - j0 : PO_NR;
        for (int64_t i0 = 0; i0 < rows; i0 += PO_MR) {
            int64_t mr = rows - i0 < PO_MR ? rows - i0 : PO_MR;
            const float *a = pa + i0 * kc, *b = pb + j0 * kc;
            float acc[PO_MR][PO_NR] = {{0}};
            for (int64_t p = 0; p < kc; p++, a += PO_MR, b += PO_NR)
                for (int i = 0; i < PO_MR; i++)
                    for (int j = 0; j < PO_NR; j++) acc[i][j] += a[i] * b[j];
            for (int64_t i = 0; i < mr; i++) {
                float *row = c + (i0 + i) * ldc + j0;
                for (int64_t j = 0; j < nr; j++) {
                    float t = alpha * acc[i][j];
                    row[j] = beta == 0.0f ? t : beta * row[j] + t;
                }
            }
        }
    }
}

void strata_sgemm_macro(strata_isa isa, int64_t rows, int64_t cols, int64_t kc, const float *pa,
                        const float *pb, float alpha, float beta, float *c, int64_t ldc) {
    switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case STRATA_ISA_AVX512: strata_sgemm_macro_avx512(rows, cols, kc, pa, pb, alpha, beta, c, ldc); return;
    case STRATA_ISA_AVX2: strata_sgemm_macro_avx2(rows, cols, kc, pa, pb, alpha, beta, c, ldc); return;
#endif
#if defined(__aarch64__)
    case STRATA_ISA_NEON: strata_sgemm_macro_neon(rows, cols, kc, pa, pb, alpha, beta, c, ldc); return;
#endif
    default: macro_portable(rows, cols, kc, pa, pb, alpha, beta, c, ldc); return;
    }
}

// MARK: direct kernel (no packing)

enum { DIRECT_COLS = 256, DOT_LANES = 16, DOT_COLS = 4 };

ALWAYS_INLINE float finish(float alpha, float beta, float acc, const float *c) {
    return beta == 0.0f ? alpha * acc : beta * *c + alpha * acc;
}

// C[0, 0..cols) from dot products of x[k] with the rows y + c·ldy, each kept in DOT_LANES partial sums
// (lane l takes p ≡ l mod DOT_LANES) and reduced by a fixed halving tree, so the value of one element
// never depends on how many columns share its loop. cols is a compile-time constant at every call.
ALWAYS_INLINE void dot_cols(int cols, int64_t k, const float *restrict x, const float *restrict y,
                            int64_t ldy, float alpha, float beta, float *c) {
    float acc[DOT_COLS][DOT_LANES] = {{0}};
    int64_t p = 0;
    for (; p + DOT_LANES <= k; p += DOT_LANES)
        for (int j = 0; j < cols; j++)
            for (int l = 0; l < DOT_LANES; l++) acc[j][l] += x[p + l] * y[j * ldy + p + l];
    for (int l = 0; p + l < k; l++)
        for (int j = 0; j < cols; j++) acc[j][l] += x[p + l] * y[j * ldy + p + l];
    for (int w = DOT_LANES / 2; w >= 1; w /= 2)
        for (int j = 0; j < cols; j++)
            for (int l = 0; l < w; l++) acc[j][l] += acc[j][l + w];
    for (int j = 0; j < cols; j++) c[j] = finish(alpha, beta, acc[j][0], c + j);
}

ALWAYS_INLINE void direct_body(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
                               const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                               float *c, int64_t ldc, float *scratch) {
    // op(A)(i, p) sits at a[i·sai + p·sap].
    int64_t sai = transA ? 1 : lda, sap = transA ? lda : 1;
    for (int64_t i = 0; i < m; i++) {
        float *crow = c + i * ldc;
        if (!transB) {
            // Row form: crow += op(A)(i, p) · B[p, :], vectorized over columns in chunks kept in L1.
            for (int64_t j0 = 0; j0 < n; j0 += DIRECT_COLS) {
                int64_t jn = n - j0 < DIRECT_COLS ? n - j0 : DIRECT_COLS;
                float acc[DIRECT_COLS];
                for (int64_t j = 0; j < jn; j++) acc[j] = 0.0f;
                for (int64_t p = 0; p < k; p++) {
                    float av = a[i * sai + p * sap];
                    const float *brow = b + p * ldb + j0;
                    for (int64_t j = 0; j < jn; j++) acc[j] += av * brow[j];
                }
                for (int64_t j = 0; j < jn; j++) crow[j0 + j] = finish(alpha, beta, acc[j], crow + j0 + j);
            }
        } else {
            // Dot form: both op(A) row i and B row j run along k.
            const float *arow = a + i * sai;
            if (transA) {
                for (int64_t p = 0; p < k; p++) scratch[p] = a[i + p * lda];
                arow = scratch;
            }
            int64_t j = 0;
            for (; j + DOT_COLS <= n; j += DOT_COLS)
                dot_cols(DOT_COLS, k, arow, b + j * ldb, ldb, alpha, beta, crow + j);
            for (; j < n; j++) dot_cols(1, k, arow, b + j * ldb, ldb, alpha, beta, crow + j);
        }
    }
}

#if defined(__x86_64__) || defined(_M_X64)
AVX512_TARGET static void direct_avx512(int tA, int tB, int64_t m, int64_t n, int64_t k, float alpha,
                                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                                        float *c, int64_t ldc, float *s) {
    direct_body(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, s);
}
AVX2_TARGET static void direct_avx2(int tA, int tB, int64_t m, int64_t n, int64_t k, float alpha,
                                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                                    float *c, int64_t ldc, float *s) {
    direct_body(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, s);
}
#endif
static void direct_portable(int tA, int tB, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                            int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                            float *s) {
    direct_body(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, s);
}

void strata_sgemm_direct(strata_isa isa, int transA, int transB, int64_t m, int64_t n, int64_t k,
                         float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc, float *scratch) {
    switch (isa) {
#if defined(__x86_64__) || defined(_M_X64)
    case STRATA_ISA_AVX512: direct_avx512(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch); return;
    case STRATA_ISA_AVX2: direct_avx2(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch); return;
#endif
    default: direct_portable(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch); return;
    }
}
