// Portable attention tile operations: plain C that the compiler's baseline vectorizer handles (on arm64
// this is NEON, with FMA contraction of `c += a * b`). Also the reference for the exp polynomial.
#define STRATA_ATTENTION_INTERNAL
#include "strata_attention.h"

#include <math.h>
#include <string.h>

// exp(x) = 2^n · e^r with n = round(x·log2 e) and |r| <= ln2/2; e^r by its Taylor series to degree 7
// (truncation error < 6e-9 relative on that interval, below float rounding). ln 2 is split in a
// short high part (exact when multiplied by |n| < 2^9) and a low part, after Cody & Waite.
static float exp_portable(float x) {
    if (x != x) return x;
    if (x < -104.0f) return 0.0f;  // e^x < 2^-150 rounds to 0
    if (x > 89.0f) return INFINITY;
    float n = nearbyintf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440054690583e-4f;
    float poly = 1.0f / 5040.0f;
    poly = poly * r + 1.0f / 720.0f;
    poly = poly * r + 1.0f / 120.0f;
    poly = poly * r + 1.0f / 24.0f;
    poly = poly * r + 1.0f / 6.0f;
    poly = poly * r + 0.5f;
    float y = poly * (r * r) + r + 1.0f;
    return ldexpf(y, (int)n);
}

static void matmul_portable(long m, long n, long k, const float *a, long ars, long aks,
                            const float *b, long ldb, float *c, long ldc, int accumulate) {
    for (long i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (!accumulate) memset(ci, 0, (size_t)n * sizeof(float));
        for (long p = 0; p < k; p++) {
            float aip = a[i * ars + p * aks];
            const float *bp = b + p * ldb;
            for (long j = 0; j < n; j++) ci[j] += aip * bp[j];
        }
    }
}

static float prepare_portable(float *s, long n, float scale, const float *mask, long visible) {
    float mx = -INFINITY;
    for (long j = 0; j < n; j++) {
        float x = s[j] * scale + (mask ? mask[j] : 0.0f);
        if (j >= visible) x = -INFINITY;
        s[j] = x;
        mx = x > mx ? x : mx;
    }
    return mx;
}

static float exp_sum_portable(float *s, long n, float shift) {
    float sum = 0.0f;
    for (long j = 0; j < n; j++) {
        s[j] = exp_portable(s[j] - shift);
        sum += s[j];
    }
    return sum;
}

static void softmax_columns_portable(float *st, long keys, long queries, long ld, float scale, const float *mt,
                                     int causal, long causal_shift, float *m, float *l, float *alpha) {
    for (long i = 0; i < queries; i++) {
        float mx = -INFINITY;
        for (long j = 0; j < keys; j++) {
            float x = st[j * ld + i] * scale + (mt ? mt[j * ld + i] : 0.0f);
            if (causal && i < j + causal_shift) x = -INFINITY;
            st[j * ld + i] = x;
            mx = x > mx ? x : mx;
        }
        float m_new = mx > m[i] ? mx : m[i];
        float shift = m_new == -INFINITY ? 0.0f : m_new;  // all hidden so far: weights exp(-inf) = 0
        float a = exp_portable(m[i] - shift), sum = 0.0f;
        for (long j = 0; j < keys; j++) {
            st[j * ld + i] = exp_portable(st[j * ld + i] - shift);
            sum += st[j * ld + i];
        }
        l[i] = l[i] * a + sum;
        m[i] = m_new;
        alpha[i] = a;
    }
}

static void softmax_grad_portable(float *p, const float *dp, long n, float delta) {
    for (long j = 0; j < n; j++) p[j] = p[j] * (dp[j] - delta);
}

static void scale_portable(float *x, long n, float a) {
    for (long j = 0; j < n; j++) x[j] *= a;
}

const strata_attention_ops *strata_attention_ops_portable(void) {
    static const strata_attention_ops ops = {
        .matmul = matmul_portable, .prepare = prepare_portable, .exp_sum = exp_sum_portable,
        .softmax_columns = softmax_columns_portable, .softmax_grad = softmax_grad_portable,
        .scale = scale_portable,
    };
    return &ops;
}
