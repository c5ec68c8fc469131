// Private to the vecmath*.c files: a 16-lane float vector written with the compiler's generic vector
// extension, the elementary functions on it, and the macros that instantiate one kernel body per ISA.
//
// Why generic vectors: one body compiles to zmm code inside an AVX-512 target function, to pairs of ymm
// inside an AVX2+FMA one, and to SSE2 / NEON quads in the portable one, with identical lane semantics.
// Every lane of a vector is computed by the same instruction sequence and row tails are padded to a
// full vector, so a value never depends on where a thread's chunk starts (determinism across threads).
#ifndef STRATA_VECMATH_SIMD_H
#define STRATA_VECMATH_SIMD_H

#include <stdint.h>
#include <string.h>
#include "strata_cpu.h"

#define VW 16  // lanes per vector
typedef float vf __attribute__((vector_size(64)));
typedef int32_t vi __attribute__((vector_size(64)));
typedef uint32_t vu __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf4 __attribute__((vector_size(16)));

#define VM_INLINE static inline __attribute__((always_inline))

// Every function taking or returning a vector is always-inline, so no call ever crosses the ABI that
// -Wpsabi warns about (64-byte vectors passed without AVX-512 in the portable and AVX2 copies).
#pragma clang diagnostic ignored "-Wpsabi"

// ---- Per-ISA instantiation --------------------------------------------------------------------------
// VM_VARIANTS(body, (params), (args)) defines body_avx512 / body_avx2 / body_portable, each a copy of the
// always-inline `body` compiled for that ISA; VM_CALL(isa, body, (args)) picks one at run time.
#if defined(__x86_64__)
#define VM_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define VM_AVX2 __attribute__((target("avx2,fma")))
#define VM_VARIANTS(body, PARAMS, ARGS)                               \
    static VM_AVX512 void body##_avx512 PARAMS { body ARGS; }         \
    static VM_AVX2 void body##_avx2 PARAMS { body ARGS; }             \
    static void body##_portable PARAMS { body ARGS; }
#define VM_CALL(isa, body, ARGS)                                      \
    do {                                                              \
        if ((isa) == STRATA_ISA_AVX512) body##_avx512 ARGS;           \
        else if ((isa) == STRATA_ISA_AVX2) body##_avx2 ARGS;          \
        else body##_portable ARGS;                                    \
    } while (0)
#else
// arm64: NEON is part of the baseline, so the portable copy already is the NEON one.
#define VM_VARIANTS(body, PARAMS, ARGS) static void body##_portable PARAMS { body ARGS; }
#define VM_CALL(isa, body, ARGS) do { (void)(isa); body##_portable ARGS; } while (0)
#endif

// ---- Loads, stores, selects, reductions -------------------------------------------------------------
VM_INLINE vf vm_splat(float s) { return (vf){0} + s; }
VM_INLINE vf vm_load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
VM_INLINE void vm_store(float *p, vf v) { memcpy(p, &v, sizeof v); }

/// Loads min(k, VW) floats from p; missing lanes read `fill`. Never touches p[k...].
VM_INLINE vf vm_ld(const float *p, long k, float fill) {
    if (k >= VW) return vm_load(p);
    float b[VW];
    for (int i = 0; i < VW; i++) b[i] = i < k ? p[i] : fill;
    return vm_load(b);
}
/// Stores the first min(k, VW) lanes of v to p.
VM_INLINE void vm_st(float *p, vf v, long k) {
    if (k >= VW) { vm_store(p, v); return; }
    float b[VW];
    vm_store(b, v);
    for (int i = 0; i < k; i++) p[i] = b[i];
}
/// Lanes below k are all-ones.
VM_INLINE vi vm_lanes_below(long k) {
    const vi idx = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return idx < (int32_t)(k < VW ? k : VW);
}
/// m ? a : b, lane by lane (m lanes are all-ones or all-zeros).
VM_INLINE vf vm_sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
VM_INLINE vf vm_abs(vf x) { return (vf)((vu)x & 0x7fffffffu); }
VM_INLINE vf vm_copysign(vf mag, vf sgn) { return (vf)(((vu)mag & 0x7fffffffu) | ((vu)sgn & 0x80000000u)); }
VM_INLINE vf vm_sqrt(vf x) { return __builtin_elementwise_sqrt(x); }

/// Sum of the 16 lanes in a fixed pairwise order.
VM_INLINE float vm_hsum(vf v) {
    vf8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
            __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    vf4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
    return (b[0] + b[2]) + (b[1] + b[3]);
}
/// Σ of a row of n floats: 16 lane-wise partial sums, then vm_hsum.
VM_INLINE float vm_row_sum(const float *x, long n) {
    vf acc = vm_splat(0.0f);
    for (long j = 0; j < n; j += VW) acc += vm_ld(x + j, n - j, 0.0f);
    return vm_hsum(acc);
}
/// Largest lane (NaN lanes are skipped; they resurface through the later arithmetic).
VM_INLINE float vm_hmax(vf v) {
    float b[VW];
    vm_store(b, v);
    float m = b[0];
    for (int i = 1; i < VW; i++) m = b[i] > m ? b[i] : m;
    return m;
}

// ---- Elementary functions ---------------------------------------------------------------------------
// Coefficients are our own near-minimax fits (weighted least squares on Chebyshev nodes, reweighted to
// equioscillate), computed in 40-digit arithmetic; the comment on each gives the fit's relative error.

/// e^x: x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial (fit error 3e-9), scaled by 2^n.
/// The scale is applied as two factors 2^(n/2)·2^(n−n/2) so overflow to inf and gradual underflow to
/// subnormals / zero both come out right; NaN propagates, −inf gives 0.
VM_INLINE vf vm_exp(vf x) {
    x = vm_sel(x < -104.0f, vm_splat(-104.0f), x);  // e^-104 rounds to 0; comparisons keep NaN
    x = vm_sel(x > 89.0f, vm_splat(89.0f), x);      // e^89 overflows to inf
    const float shifter = 12582912.0f;              // 1.5·2^23: adding it rounds to an integer
    vf kf = x * 1.44269504088896341f + shifter;
    vi n = (vi)kf - (vi)vm_splat(shifter);          // the integer sits in the low mantissa bits
    kf = kf - shifter;
    vf r = x - kf * 0.693145751953125f;             // ln2 split hi/lo (Cody–Waite), hi exact in n·hi
    r = r - kf * 1.428606820309417232e-6f;
    vf p = vm_splat(1.3814611000e-03f);
    p = p * r + 8.3687100353e-03f;
    p = p * r + 4.1668387409e-02f;
    p = p * r + 1.6666520688e-01f;
    p = p * r + 4.9999993451e-01f;
    p = p * (r * r) + r + 1.0f;
    vi n1 = n >> 1, n2 = n - n1;
    vf s1 = (vf)(((vu)(n1 + 127)) << 23), s2 = (vf)(((vu)(n2 + 127)) << 23);
    return p * s1 * s2;
}

/// ln x: x = 2^e·m, m ∈ [√½, √2); ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.172, by an odd series
/// fit (error 2e-9). Subnormals are rescaled first; 0 → −inf, x < 0 → NaN, inf → inf.
VM_INLINE vf vm_log(vf x) {
    vi tiny = x < 1.17549435e-38f;
    vf xs = vm_sel(tiny, x * 8388608.0f, x);  // 2^23
    vi ix = (vi)xs - 0x3f3504f3;              // bits of √½: the exponent of x/√½
    vi e = (ix >> 23) - (tiny & 23);
    vf m = (vf)((ix & 0x007fffff) + 0x3f3504f3);
    vf f = m - 1.0f;
    vf s = f / (f + 2.0f);
    vf z = s * s;
    vf q = vm_splat(2.333099320e-01f);
    q = q * z + 2.855079762e-01f;
    q = q * z + 4.000012210e-01f;
    q = q * z + 6.666666655e-01f;
    vf ef = __builtin_convertvector(e, vf);
    vf r = ef * 0.693145751953125f + ((s * (z * q) + ef * 1.428606820309417232e-6f) + (s + s));
    const vf inf = vm_splat(__builtin_inff());
    r = vm_sel(x == 0.0f, -inf, r);
    r = vm_sel(x < 0.0f, vm_splat(__builtin_nanf("")), r);
    r = vm_sel(x == inf, inf, r);
    return vm_sel(x != x, x, r);
}

/// ln(1+z) for z ≥ 0 without losing z when 1+z rounds (the u−1 correction recovers the lost bits).
VM_INLINE vf vm_log1p_pos(vf z) {
    vf u = 1.0f + z;
    return vm_log(u) - ((u - 1.0f) - z) / u;
}

/// tanh: odd polynomial for |x| < 0.625 (fit error 2e-10), else 1 − 2/(e^{2|x|}+1) with the sign restored.
VM_INLINE vf vm_tanh(vf x) {
    vf a = vm_abs(x);
    vf z = x * x;
    vf p = vm_splat(2.142958751e-03f);
    p = p * z - 8.177394594e-03f;
    p = p * z + 2.170070161e-02f;
    p = p * z - 5.394676274e-02f;
    p = p * z + 1.333320601e-01f;
    p = p * z - 3.333333080e-01f;
    vf small = x + x * (z * p);
    vf big = vm_copysign(1.0f - 2.0f / (vm_exp(a + a) + 1.0f), x);
    return vm_sel(a < 0.625f, small, big);
}

/// Logistic σ(x) from z = e^{−|x|} (never overflows): σ = 1/(1+z) for x ≥ 0, z/(1+z) below.
/// Also returns σ(1−σ) = z/(1+z)², accurate in both tails.
VM_INLINE vf vm_sigmoid2(vf x, vf *dsig) {
    vf z = vm_exp(-vm_abs(x));
    vf inv = 1.0f / (1.0f + z);
    *dsig = z * inv * inv;
    return vm_sel(x < 0.0f, z * inv, inv);
}
VM_INLINE vf vm_sigmoid(vf x) { vf d; return vm_sigmoid2(x, &d); }

/// erfc(a) for a ≥ 0 with small relative error: 1 − a·P(a²) below 0.9 (fit error 3e-10), else
/// e^{−a²}·t·R(t) with t = 1/(1+a/2), R fitted to erfcx(a)/t on a ∈ [0.9, ∞) (fit error 2e-9).
VM_INLINE vf vm_erfc_pos(vf a) {
    vf z = a * a;
    vf p = vm_splat(8.513102217e-05f);
    p = p * z - 8.175638841e-04f;
    p = p * z + 5.203859119e-03f;
    p = p * z - 2.686050845e-02f;
    p = p * z + 1.128371503e-01f;
    p = p * z - 3.761263498e-01f;
    p = p * z + 1.128379167e+00f;
    vf small = 1.0f - a * p;
    vf t = 1.0f / (1.0f + 0.5f * a);
    vf r = vm_splat(-7.7234610435e-02f);
    r = r * t + 2.4994592337e-01f;
    r = r * t - 2.4655862974e-01f;
    r = r * t + 2.4817089135e-02f;
    r = r * t - 2.5129761325e-02f;
    r = r * t + 8.6914149649e-02f;
    r = r * t + 1.7603305710e-01f;
    r = r * t + 2.4684509955e-01f;
    r = r * t + 2.8209458573e-01f;
    r = r * t + 2.8209479234e-01f;
    vf big = vm_exp(-z) * (t * r);
    return vm_sel(a < 0.9f, small, big);
}

/// Standard normal CDF Φ(x) = ½·erfc(−x/√2), accurate relative to Φ in the lower tail.
VM_INLINE vf vm_normal_cdf(vf x) {
    vf half = 0.5f * vm_erfc_pos(vm_abs(x) * 0.70710678118654752f);
    return vm_sel(x < 0.0f, half, 1.0f - half);
}

#endif
