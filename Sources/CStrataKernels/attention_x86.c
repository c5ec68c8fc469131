// x86-64 attention tile operations: AVX-512 (16 lanes) and AVX2 + FMA (8 lanes), each behind
// per-function target attributes so the target builds with no special flags; picked at run time.
#define STRATA_ATTENTION_INTERNAL
#include "strata_attention.h"

#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))
#define AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,fma")))
#define AVX2 __attribute__((target("avx2,fma")))

// exp constants: see exp_portable in attention_portable.c for the method (same polynomial).
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO -2.12194440054690583e-4f

// Plain-C bodies, vectorized by the compiler inside each target-attributed wrapper below.
INLINE void softmax_grad_body(float *p, const float *dp, long n, float delta) {
    for (long j = 0; j < n; j++) p[j] = p[j] * (dp[j] - delta);
}

INLINE void scale_body(float *x, long n, float a) {
    for (long j = 0; j < n; j++) x[j] *= a;
}

// ---------------------------------------------------------------------------------------------------
// AVX-512

INLINE AVX512 __m512 exp16(__m512 x) {
    // Clamp keeps NaN (vmaxps/vminps return their second operand when either is NaN). Below -104 the
    // result underflows to 0 through scalef, so -inf gives exactly 0.
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(100.0f), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(EXP_LN2_LO), r);
    __m512 poly = _mm512_set1_ps(1.0f / 5040.0f);
    poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f / 720.0f));
    poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f / 120.0f));
    poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f / 24.0f));
    poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(1.0f / 6.0f));
    poly = _mm512_fmadd_ps(poly, r, _mm512_set1_ps(0.5f));
    __m512 y = _mm512_fmadd_ps(poly, _mm512_mul_ps(r, r), r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

INLINE __mmask16 lanes16(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

// Register tile of MR rows × NV vectors of 16 columns (MR, NV are constants after inlining, so acc
// lives in zmm registers: 6 × 4 accumulators + 4 B vectors + 1 broadcast fit the 32 registers).
// Only the last vector of a row may be partial (`last`); masked lanes are never read or written.
INLINE AVX512 void tile16(const int MR, const int NV, long k, const float *a, long ars, long aks,
                          const float *b, long ldb, float *c, long ldc, __mmask16 last, int accumulate) {
    __m512 acc[6][4];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++)
            acc[i][v] = accumulate ? _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xFFFF, c + i * ldc + 16 * v)
                                   : _mm512_setzero_ps();
    for (long p = 0; p < k; p++) {
        __m512 bv[4];
        for (int v = 0; v < NV; v++)
            bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, b + p * ldb + 16 * v)
                                : _mm512_loadu_ps(b + p * ldb + 16 * v);
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i * ars + p * aks]);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++)
            _mm512_mask_storeu_ps(c + i * ldc + 16 * v, v == NV - 1 ? last : 0xFFFF, acc[i][v]);
}

#define TILE16(MR, NV) \
    case (MR) * 8 + (NV): tile16(MR, NV, k, ai, ars, aks, bj, ldb, cij, ldc, last, accumulate); break;

AVX512 static void matmul_avx512(long m, long n, long k, const float *a, long ars, long aks,
                                 const float *b, long ldb, float *c, long ldc, int accumulate) {
    // Column panels of 64 outer: the k×64 panel of b stays in L1 while every row block streams past.
    for (long j = 0; j < n; j += 64) {
        long cols = n - j < 64 ? n - j : 64;
        int nv = (int)((cols + 15) / 16);
        __mmask16 last = lanes16(cols - 16 * (nv - 1));
        const float *bj = b + j;
        for (long i = 0; i < m; i += 6) {
            int mr = m - i < 6 ? (int)(m - i) : 6;
            const float *ai = a + i * ars;
            float *cij = c + i * ldc + j;
            switch (mr * 8 + nv) {
                TILE16(1, 1) TILE16(1, 2) TILE16(1, 3) TILE16(1, 4)
                TILE16(2, 1) TILE16(2, 2) TILE16(2, 3) TILE16(2, 4)
                TILE16(3, 1) TILE16(3, 2) TILE16(3, 3) TILE16(3, 4)
                TILE16(4, 1) TILE16(4, 2) TILE16(4, 3) TILE16(4, 4)
                TILE16(5, 1) TILE16(5, 2) TILE16(5, 3) TILE16(5, 4)
                TILE16(6, 1) TILE16(6, 2) TILE16(6, 3) TILE16(6, 4)
                default: break;
            }
        }
    }
}

AVX512 static float prepare_avx512(float *s, long n, float scale, const float *mask, long visible) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY), vscale = _mm512_set1_ps(scale);
    __m512 mx = ninf;
    for (long j = 0; j < n; j += 16) {
        __mmask16 in = lanes16(n - j);
        __m512 x = _mm512_maskz_loadu_ps(in, s + j);
        x = mask ? _mm512_fmadd_ps(x, vscale, _mm512_maskz_loadu_ps(in, mask + j)) : _mm512_mul_ps(x, vscale);
        x = _mm512_mask_blend_ps(in & lanes16(visible - j), ninf, x);
        _mm512_mask_storeu_ps(s + j, in, x);
        mx = _mm512_max_ps(mx, x);
    }
    return _mm512_reduce_max_ps(mx);
}

AVX512 static float exp_sum_avx512(float *s, long n, float shift) {
    const __m512 vshift = _mm512_set1_ps(shift);
    __m512 sum = _mm512_setzero_ps();
    for (long j = 0; j < n; j += 16) {
        __mmask16 in = lanes16(n - j);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(in, s + j), vshift));
        _mm512_mask_storeu_ps(s + j, in, e);
        sum = _mm512_mask_add_ps(sum, in, sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

// Queries are lanes: a block of 16 queries walks all keys twice (scale/mask/max, then exp/sum) while
// its column of st (keys × 64 bytes) stays in L1. ld is a multiple of 16, so whole vectors stay in
// bounds; lanes past `queries` are computed on and never read.
AVX512 static void softmax_columns_avx512(float *st, long keys, long queries, long ld, float scale,
                                          const float *mt, int causal, long causal_shift,
                                          float *m, float *l, float *alpha) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY), vscale = _mm512_set1_ps(scale);
    for (long i0 = 0; i0 < queries; i0 += 16) {
        __m512 mx = ninf;
        for (long j = 0; j < keys; j++) {
            __m512 x = _mm512_loadu_ps(st + j * ld + i0);
            x = mt ? _mm512_fmadd_ps(x, vscale, _mm512_loadu_ps(mt + j * ld + i0)) : _mm512_mul_ps(x, vscale);
            if (causal) x = _mm512_mask_blend_ps(lanes16(j + causal_shift - i0), x, ninf);
            _mm512_storeu_ps(st + j * ld + i0, x);
            mx = _mm512_max_ps(mx, x);
        }
        __m512 m_old = _mm512_loadu_ps(m + i0), m_new = _mm512_max_ps(m_old, mx);
        __m512 shift = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m_new, ninf, _CMP_EQ_OQ), m_new, _mm512_setzero_ps());
        __m512 a = exp16(_mm512_sub_ps(m_old, shift)), sum = _mm512_setzero_ps();
        for (long j = 0; j < keys; j++) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(st + j * ld + i0), shift));
            _mm512_storeu_ps(st + j * ld + i0, e);
            sum = _mm512_add_ps(sum, e);
        }
        _mm512_storeu_ps(l + i0, _mm512_fmadd_ps(_mm512_loadu_ps(l + i0), a, sum));
        _mm512_storeu_ps(m + i0, m_new);
        _mm512_storeu_ps(alpha + i0, a);
    }
}

AVX512 static void softmax_grad_avx512(float *p, const float *dp, long n, float delta) {
    softmax_grad_body(p, dp, n, delta);
}

AVX512 static void scale_avx512(float *x, long n, float a) { scale_body(x, n, a); }

const strata_attention_ops *strata_attention_ops_avx512(void) {
    static const strata_attention_ops ops = {
        .matmul = matmul_avx512, .prepare = prepare_avx512, .exp_sum = exp_sum_avx512,
        .softmax_columns = softmax_columns_avx512, .softmax_grad = softmax_grad_avx512, .scale = scale_avx512,
    };
    return &ops;
}

// ---------------------------------------------------------------------------------------------------
// AVX2 + FMA

INLINE AVX2 __m256 exp8(__m256 x) {
    // Same method as exp16; without scalef, 2^n is built in the exponent field, so n must stay in
    // [-126, 127]: inputs below ln(FLT_MIN) are flushed to 0 and those above 88.3 become +inf at the end.
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33f), _CMP_LT_OQ);
    __m256 huge = _mm256_cmp_ps(x, _mm256_set1_ps(88.3f), _CMP_GT_OQ);
    x = _mm256_max_ps(_mm256_set1_ps(-87.33f), x);
    x = _mm256_min_ps(_mm256_set1_ps(88.3f), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_LO), r);
    __m256 poly = _mm256_set1_ps(1.0f / 5040.0f);
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 720.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 120.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 24.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 6.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(0.5f));
    __m256 y = _mm256_fmadd_ps(poly, _mm256_mul_ps(r, r), r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), huge);
    return _mm256_andnot_ps(tiny, y);
}

// All-ones in the first `count` lanes (clamped to 0..8), for maskload / maskstore.
INLINE AVX2 __m256i lanes8(long count) {
    long c = count < 0 ? 0 : count > 8 ? 8 : count;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Register tile of MR rows × NV vectors of 8 (6 × 2 accumulators + 2 B vectors + 1 broadcast of 16 ymm).
// FULL: the last vector is whole, so plain loads replace vmaskmov (which costs more than a load on AMD).
INLINE AVX2 void tile8(const int MR, const int NV, const int FULL, long k, const float *a, long ars, long aks,
                       const float *b, long ldb, float *c, long ldc, __m256i last, int accumulate) {
    __m256 acc[6][2];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++)
            acc[i][v] = !accumulate ? _mm256_setzero_ps()
                        : v == NV - 1 && !FULL ? _mm256_maskload_ps(c + i * ldc + 8 * v, last)
                                      : _mm256_loadu_ps(c + i * ldc + 8 * v);
    for (long p = 0; p < k; p++) {
        __m256 bv[2];
        for (int v = 0; v < NV; v++)
            bv[v] = v == NV - 1 && !FULL ? _mm256_maskload_ps(b + p * ldb + 8 * v, last)
                                : _mm256_loadu_ps(b + p * ldb + 8 * v);
        for (int i = 0; i < MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i * ars + p * aks);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) {
            if (v == NV - 1 && !FULL) _mm256_maskstore_ps(c + i * ldc + 8 * v, last, acc[i][v]);
            else _mm256_storeu_ps(c + i * ldc + 8 * v, acc[i][v]);
        }
}

#define TILE8(MR, NV) \
    case (MR) * 8 + (NV): tile8(MR, NV, 0, k, ai, ars, aks, bj, ldb, cij, ldc, last, accumulate); break;

AVX2 static void matmul_avx2(long m, long n, long k, const float *a, long ars, long aks,
                             const float *b, long ldb, float *c, long ldc, int accumulate) {
    for (long j = 0; j < n; j += 16) {
        long cols = n - j < 16 ? n - j : 16;
        int nv = (int)((cols + 7) / 8);
        __m256i last = lanes8(cols - 8 * (nv - 1));
        const float *bj = b + j;
        for (long i = 0; i < m; i += 6) {
            int mr = m - i < 6 ? (int)(m - i) : 6;
            const float *ai = a + i * ars;
            float *cij = c + i * ldc + j;
            if (mr == 6 && cols == 16) {  // the common whole tile
                tile8(6, 2, 1, k, ai, ars, aks, bj, ldb, cij, ldc, last, accumulate);
                continue;
            }
            switch (mr * 8 + nv) {
                TILE8(1, 1) TILE8(1, 2) TILE8(2, 1) TILE8(2, 2) TILE8(3, 1) TILE8(3, 2)
                TILE8(4, 1) TILE8(4, 2) TILE8(5, 1) TILE8(5, 2) TILE8(6, 1) TILE8(6, 2)
                default: break;
            }
        }
    }
}

INLINE AVX2 float hmax8(__m256 x) {
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

INLINE AVX2 float hsum8(__m256 x) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

AVX2 static float prepare_avx2(float *s, long n, float scale, const float *mask, long visible) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY), vscale = _mm256_set1_ps(scale);
    __m256 mx = ninf;
    for (long j = 0; j < n; j += 8) {
        __m256i in = lanes8(n - j);
        __m256 x = _mm256_maskload_ps(s + j, in);
        x = mask ? _mm256_fmadd_ps(x, vscale, _mm256_maskload_ps(mask + j, in)) : _mm256_mul_ps(x, vscale);
        __m256 keep = _mm256_castsi256_ps(_mm256_and_si256(in, lanes8(visible - j)));
        x = _mm256_blendv_ps(ninf, x, keep);
        _mm256_maskstore_ps(s + j, in, x);
        mx = _mm256_max_ps(mx, x);
    }
    return hmax8(mx);
}

AVX2 static float exp_sum_avx2(float *s, long n, float shift) {
    const __m256 vshift = _mm256_set1_ps(shift);
    __m256 sum = _mm256_setzero_ps();
    long j = 0;
    for (; j + 8 <= n; j += 8) {  // whole vectors with plain loads (vmaskmov is slow on AMD)
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vshift));
        _mm256_storeu_ps(s + j, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (j < n) {
        __m256i in = lanes8(n - j);
        __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(s + j, in), vshift));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(in));
        _mm256_maskstore_ps(s + j, in, e);
        sum = _mm256_add_ps(sum, e);
    }
    return hsum8(sum);
}

// As softmax_columns_avx512 with blocks of 8 queries.
AVX2 static void softmax_columns_avx2(float *st, long keys, long queries, long ld, float scale,
                                      const float *mt, int causal, long causal_shift,
                                      float *m, float *l, float *alpha) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY), vscale = _mm256_set1_ps(scale);
    for (long i0 = 0; i0 < queries; i0 += 8) {
        __m256 mx = ninf;
        for (long j = 0; j < keys; j++) {
            __m256 x = _mm256_loadu_ps(st + j * ld + i0);
            x = mt ? _mm256_fmadd_ps(x, vscale, _mm256_loadu_ps(mt + j * ld + i0)) : _mm256_mul_ps(x, vscale);
            if (causal) x = _mm256_blendv_ps(x, ninf, _mm256_castsi256_ps(lanes8(j + causal_shift - i0)));
            _mm256_storeu_ps(st + j * ld + i0, x);
            mx = _mm256_max_ps(mx, x);
        }
        __m256 m_old = _mm256_loadu_ps(m + i0), m_new = _mm256_max_ps(m_old, mx);
        __m256 shift = _mm256_andnot_ps(_mm256_cmp_ps(m_new, ninf, _CMP_EQ_OQ), m_new);
        __m256 a = exp8(_mm256_sub_ps(m_old, shift)), sum = _mm256_setzero_ps();
        for (long j = 0; j < keys; j++) {
            __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(st + j * ld + i0), shift));
            _mm256_storeu_ps(st + j * ld + i0, e);
            sum = _mm256_add_ps(sum, e);
        }
        _mm256_storeu_ps(l + i0, _mm256_fmadd_ps(_mm256_loadu_ps(l + i0), a, sum));
        _mm256_storeu_ps(m + i0, m_new);
        _mm256_storeu_ps(alpha + i0, a);
    }
}

AVX2 static void softmax_grad_avx2(float *p, const float *dp, long n, float delta) {
    softmax_grad_body(p, dp, n, delta);
}

AVX2 static void scale_avx2(float *x, long n, float a) { scale_body(x, n, a); }

const strata_attention_ops *strata_attention_ops_avx2(void) {
    static const strata_attention_ops ops = {
        .matmul = matmul_avx2, .prepare = prepare_avx2, .exp_sum = exp_sum_avx2,
        .softmax_columns = softmax_columns_avx2, .softmax_grad = softmax_grad_avx2, .scale = scale_avx2,
    };
    return &ops;
}

#else

const strata_attention_ops *strata_attention_ops_avx512(void) { return NULL; }
const strata_attention_ops *strata_attention_ops_avx2(void) { return NULL; }

#endif
