// Layer norm (Ba, Kiros & Hinton 2016) and RMS norm (Zhang & Sennrich 2019), forward and backward.
//
// Row statistics are two-pass (mean, then sums of x − mean) so rows with a large common offset keep
// their variance. Parameter gradients are reductions over rows; their kernels own a column range and sum the
// rows strictly in order, so callers split them over columns and the bits never depend on threads.
#include <math.h>
#include "strata_vecmath.h"
#include "vecmath_simd.h"

/// Columns per accumulator tile in the parameter-gradient kernels (kept in registers across rows).
#define PARAM_TILE (4 * VW)

VM_INLINE void layernorm_forward(const float *x, const float *weight, const float *bias, long rows, long cols,
                                 float eps, float *y, float *mean, float *rstd) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        // Shifted two-pass statistics: with d = x − μ0 for a first estimate μ0, Σd is small and
        // μ = μ0 + Σd/C recovers the digits that rounding μ0 lost; var = (Σd² − (Σd)²/C)/C.
        float mu0 = vm_row_sum(xr, cols) / (float)cols;
        vf s1 = vm_splat(0.0f), s2 = vm_splat(0.0f);
        for (long j = 0; j < cols; j += VW) {
            vf d = vm_ld(xr + j, cols - j, mu0) - mu0;  // padding with μ0 adds nothing
            s1 += d;
            s2 += d * d;
        }
        float sd = vm_hsum(s1), mu = mu0 + sd / (float)cols;
        float var = (vm_hsum(s2) - sd * (sd / (float)cols)) / (float)cols;
        float rs = 1.0f / sqrtf((var > 0.0f ? var : 0.0f) + eps);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf h = (vm_ld(xr + j, k, 0.0f) - mu) * rs;
            if (weight) h = h * vm_ld(weight + j, k, 0.0f);
            if (bias) h = h + vm_ld(bias + j, k, 0.0f);
            vm_st(yr + j, h, k);
        }
        mean[r] = mu;
        rstd[r] = rs;
    }
}

// With x̂ = (x−μ)·rstd and g = dy∘w:  dx = rstd·(g − mean(g) − x̂·mean(g∘x̂)).
VM_INLINE void layernorm_backward_dx(const float *x, const float *weight, const float *mean, const float *rstd,
                                     const float *dy, long rows, long cols, float *dx) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        float mu = mean[r], rs = rstd[r];
        vf sg = vm_splat(0.0f), sgx = vm_splat(0.0f);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf g = vm_ld(dyr + j, k, 0.0f);
            if (weight) g = g * vm_ld(weight + j, k, 0.0f);
            vf h = (vm_ld(xr + j, k, mu) - mu) * rs;
            sg += g;
            sgx += g * h;
        }
        float mg = vm_hsum(sg) / (float)cols, mgx = vm_hsum(sgx) / (float)cols;
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf g = vm_ld(dyr + j, k, 0.0f);
            if (weight) g = g * vm_ld(weight + j, k, 0.0f);
            vf h = (vm_ld(xr + j, k, mu) - mu) * rs;
            vm_st(dxr + j, rs * ((g - mg) - h * mgx), k);
        }
    }
}

VM_INLINE void layernorm_backward_params(const float *x, const float *mean, const float *rstd, const float *dy,
                                         long rows, long cols, long c0, long c1, float *dweight, float *dbias) {
    for (long t = c0; t < c1; t += PARAM_TILE) {
        long width = c1 - t < PARAM_TILE ? c1 - t : PARAM_TILE;
        vf aw[PARAM_TILE / VW] = {0}, ab[PARAM_TILE / VW] = {0};
        for (long r = 0; r < rows; r++) {
            const float *xr = x + r * cols + t, *dyr = dy + r * cols + t;
            float mu = mean[r], rs = rstd[r];
            for (long q = 0; q < PARAM_TILE / VW; q++) {
                long k = width - q * VW;
                if (k <= 0) break;
                vf g = vm_ld(dyr + q * VW, k, 0.0f);
                vf h = (vm_ld(xr + q * VW, k, mu) - mu) * rs;
                aw[q] += g * h;
                ab[q] += g;
            }
        }
        for (long q = 0; q < PARAM_TILE / VW && width - q * VW > 0; q++) {
            long k = width - q * VW, at = t + q * VW;
            if (dweight) vm_st(dweight + at, vm_ld(dweight + at, k, 0.0f) + aw[q], k);
            if (dbias) vm_st(dbias + at, vm_ld(dbias + at, k, 0.0f) + ab[q], k);
        }
    }
}

VM_INLINE void rmsnorm_forward(const float *x, const float *weight, long rows, long cols, float eps, float *y,
                               float *rstd) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        vf acc = vm_splat(0.0f);
        for (long j = 0; j < cols; j += VW) {
            vf v = vm_ld(xr + j, cols - j, 0.0f);
            acc += v * v;
        }
        float rs = 1.0f / sqrtf(vm_hsum(acc) / (float)cols + eps);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf h = vm_ld(xr + j, k, 0.0f) * rs;
            if (weight) h = h * vm_ld(weight + j, k, 0.0f);
            vm_st(yr + j, h, k);
        }
        rstd[r] = rs;
    }
}

// With x̂ = x·rstd and g = dy∘w:  dx = rstd·(g − x̂·mean(g∘x̂)).
VM_INLINE void rmsnorm_backward_dx(const float *x, const float *weight, const float *rstd, const float *dy,
                                   long rows, long cols, float *dx) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        float rs = rstd[r];
        vf sgx = vm_splat(0.0f);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf g = vm_ld(dyr + j, k, 0.0f);
            if (weight) g = g * vm_ld(weight + j, k, 0.0f);
            sgx += g * (vm_ld(xr + j, k, 0.0f) * rs);
        }
        float mgx = vm_hsum(sgx) / (float)cols;
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf g = vm_ld(dyr + j, k, 0.0f);
            if (weight) g = g * vm_ld(weight + j, k, 0.0f);
            vf h = vm_ld(xr + j, k, 0.0f) * rs;
            vm_st(dxr + j, rs * (g - h * mgx), k);
        }
    }
}

VM_INLINE void rmsnorm_backward_params(const float *x, const float *rstd, const float *dy, long rows, long cols,
                                       long c0, long c1, float *dweight) {
    for (long t = c0; t < c1; t += PARAM_TILE) {
        long width = c1 - t < PARAM_TILE ? c1 - t : PARAM_TILE;
        vf aw[PARAM_TILE / VW] = {0};
        for (long r = 0; r < rows; r++) {
            const float *xr = x + r * cols + t, *dyr = dy + r * cols + t;
            float rs = rstd[r];
            for (long q = 0; q < PARAM_TILE / VW; q++) {
                long k = width - q * VW;
                if (k <= 0) break;
                aw[q] += vm_ld(dyr + q * VW, k, 0.0f) * (vm_ld(xr + q * VW, k, 0.0f) * rs);
            }
        }
        for (long q = 0; q < PARAM_TILE / VW && width - q * VW > 0; q++) {
            long k = width - q * VW, at = t + q * VW;
            vm_st(dweight + at, vm_ld(dweight + at, k, 0.0f) + aw[q], k);
        }
    }
}

VM_VARIANTS(layernorm_forward,
            (const float *x, const float *weight, const float *bias, long rows, long cols, float eps, float *y,
             float *mean, float *rstd),
            (x, weight, bias, rows, cols, eps, y, mean, rstd))
VM_VARIANTS(layernorm_backward_dx,
            (const float *x, const float *weight, const float *mean, const float *rstd, const float *dy,
             long rows, long cols, float *dx),
            (x, weight, mean, rstd, dy, rows, cols, dx))
VM_VARIANTS(layernorm_backward_params,
            (const float *x, const float *mean, const float *rstd, const float *dy, long rows, long cols,
             long c0, long c1, float *dweight, float *dbias),
            (x, mean, rstd, dy, rows, cols, c0, c1, dweight, dbias))
VM_VARIANTS(rmsnorm_forward,
            (const float *x, const float *weight, long rows, long cols, float eps, float *y, float *rstd),
            (x, weight, rows, cols, eps, y, rstd))
VM_VARIANTS(rmsnorm_backward_dx,
            (const float *x, const float *weight, const float *rstd, const float *dy, long rows, long cols,
             float *dx),
            (x, weight, rstd, dy, rows, cols, dx))
VM_VARIANTS(rmsnorm_backward_params,
            (const float *x, const float *rstd, const float *dy, long rows, long cols, long c0, long c1,
             float *dweight),
            (x, rstd, dy, rows, cols, c0, c1, dweight))

void strata_layernorm_forward(strata_isa isa, const float *x, const float *weight, const float *bias, long rows,
                              long cols, float eps, float *y, float *mean, float *rstd) {
    VM_CALL(isa, layernorm_forward, (x, weight, bias, rows, cols, eps, y, mean, rstd));
}

void strata_layernorm_backward_dx(strata_isa isa, const float *x, const float *weight, const float *mean,
                                  const float *rstd, const float *dy, long rows, long cols, float *dx) {
    VM_CALL(isa, layernorm_backward_dx, (x, weight, mean, rstd, dy, rows, cols, dx));
}

void strata_layernorm_backward_params(strata_isa isa, const float *x, const float *mean, const float *rstd,
                                      const float *dy, long rows, long cols, long c0, long c1, float *dweight,
                                      float *dbias) {
    VM_CALL(isa, layernorm_backward_params, (x, mean, rstd, dy, rows, cols, c0, c1, dweight, dbias));
}

void strata_rmsnorm_forward(strata_isa isa, const float *x, const float *weight, long rows, long cols, float eps,
                            float *y, float *rstd) {
    VM_CALL(isa, rmsnorm_forward, (x, weight, rows, cols, eps, y, rstd));
}

void strata_rmsnorm_backward_dx(strata_isa isa, const float *x, const float *weight, const float *rstd,
                                const float *dy, long rows, long cols, float *dx) {
    VM_CALL(isa, rmsnorm_backward_dx, (x, weight, rstd, dy, rows, cols, dx));
}

void strata_rmsnorm_backward_params(strata_isa isa, const float *x, const float *rstd, const float *dy, long rows,
                                    long cols, long c0, long c1, float *dweight) {
    VM_CALL(isa, rmsnorm_backward_params, (x, rstd, dy, rows, cols, c0, c1, dweight));
}
