// Layer norm (Ba, Kiros & Hinton 2016) and RMS norm (Zhang & Sennrich 2019), forward and backward.
//
// Row statistics are two-pass (mean, then sums of x − mean) so rows with a large common offset keep
// their variance. Parameter gradients are reductions over rows; their kernels own a column range and sum the
// rows strictly in order, so callers split them over columns and the bits never depend on threads.
#include <math.h>
#include "strata_vecmath.h"
#include "vecmath_simd.h"

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

/// Starts a block's partial sums: zero them when this row opens a new block of `block_rows` rows.
VM_INLINE void zero_at_block_start(float *partial, long r, long block_rows, long cols) {
    if (partial && r % block_rows == 0)
        for (long j = 0; j < cols; j++) partial[(r / block_rows) * cols + j] = 0.0f;
}

// With x̂ = (x−μ)·rstd and g = dy∘w:  dx = rstd·(g − mean(g) − x̂·mean(g∘x̂)).
// The second pass also adds dy·x̂ and dy into the partial sums of the row's block (rows in order).
VM_INLINE void layernorm_backward(const float *x, const float *weight, const float *mean, const float *rstd,
                                  const float *dy, long rows, long cols, long block_rows, float *dx,
                                  float *dweight_part, float *dbias_part) {
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
        zero_at_block_start(dweight_part, r, block_rows, cols);
        zero_at_block_start(dbias_part, r, block_rows, cols);
        float *pw = dweight_part ? dweight_part + (r / block_rows) * cols : 0;
        float *pb = dbias_part ? dbias_part + (r / block_rows) * cols : 0;
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf d = vm_ld(dyr + j, k, 0.0f), g = d;
            if (weight) g = g * vm_ld(weight + j, k, 0.0f);
            vf h = (vm_ld(xr + j, k, mu) - mu) * rs;
            vm_st(dxr + j, rs * ((g - mg) - h * mgx), k);
            if (pw) vm_st(pw + j, vm_ld(pw + j, k, 0.0f) + d * h, k);
            if (pb) vm_st(pb + j, vm_ld(pb + j, k, 0.0f) + d, k);
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

// With x̂ = x·rstd and g = dy∘w:  dx = rstd·(g − x̂·mean(g∘x̂)); dy·x̂ goes to the block's partial sums.
VM_INLINE void rmsnorm_backward(const float *x, const float *weight, const float *rstd, const float *dy, long rows,
                                long cols, long block_rows, float *dx, float *dweight_part) {
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
        zero_at_block_start(dweight_part, r, block_rows, cols);
        float *pw = dweight_part ? dweight_part + (r / block_rows) * cols : 0;
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf d = vm_ld(dyr + j, k, 0.0f), g = d;
            if (weight) g = g * vm_ld(weight + j, k, 0.0f);
            vf h = vm_ld(xr + j, k, 0.0f) * rs;
            vm_st(dxr + j, rs * (g - h * mgx), k);
            if (pw) vm_st(pw + j, vm_ld(pw + j, k, 0.0f) + d * h, k);
        }
    }
}

/// dst[c] += Σ_b src[b, c] for c in [c0, c1), blocks added in order b = 0, 1, ...
VM_INLINE void sum_blocks(const float *src, long blocks, long cols, long c0, long c1, float *dst) {
    for (long j = c0; j < c1; j += VW) {
        long k = c1 - j;
        vf acc = vm_splat(0.0f);
        for (long b = 0; b < blocks; b++) acc += vm_ld(src + b * cols + j, k, 0.0f);
        vm_st(dst + j, vm_ld(dst + j, k, 0.0f) + acc, k);
    }
}

VM_VARIANTS(layernorm_forward,
            (const float *x, const float *weight, const float *bias, long rows, long cols, float eps, float *y,
             float *mean, float *rstd),
            (x, weight, bias, rows, cols, eps, y, mean, rstd))
VM_VARIANTS(layernorm_backward,
            (const float *x, const float *weight, const float *mean, const float *rstd, const float *dy,
             long rows, long cols, long block_rows, float *dx, float *dweight_part, float *dbias_part),
            (x, weight, mean, rstd, dy, rows, cols, block_rows, dx, dweight_part, dbias_part))
VM_VARIANTS(rmsnorm_forward,
            (const float *x, const float *weight, long rows, long cols, float eps, float *y, float *rstd),
            (x, weight, rows, cols, eps, y, rstd))
VM_VARIANTS(rmsnorm_backward,
            (const float *x, const float *weight, const float *rstd, const float *dy, long rows, long cols,
             long block_rows, float *dx, float *dweight_part),
            (x, weight, rstd, dy, rows, cols, block_rows, dx, dweight_part))
VM_VARIANTS(sum_blocks, (const float *src, long blocks, long cols, long c0, long c1, float *dst),
            (src, blocks, cols, c0, c1, dst))

void strata_layernorm_forward(strata_isa isa, const float *x, const float *weight, const float *bias, long rows,
                              long cols, float eps, float *y, float *mean, float *rstd) {
    VM_CALL(isa, layernorm_forward, (x, weight, bias, rows, cols, eps, y, mean, rstd));
}

void strata_layernorm_backward(strata_isa isa, const float *x, const float *weight, const float *mean,
                               const float *rstd, const float *dy, long rows, long cols, long block_rows, float *dx,
                               float *dweight_part, float *dbias_part) {
    VM_CALL(isa, layernorm_backward,
            (x, weight, mean, rstd, dy, rows, cols, block_rows, dx, dweight_part, dbias_part));
}

void strata_rmsnorm_forward(strata_isa isa, const float *x, const float *weight, long rows, long cols, float eps,
                            float *y, float *rstd) {
    VM_CALL(isa, rmsnorm_forward, (x, weight, rows, cols, eps, y, rstd));
}

void strata_rmsnorm_backward(strata_isa isa, const float *x, const float *weight, const float *rstd,
                             const float *dy, long rows, long cols, long block_rows, float *dx,
                             float *dweight_part) {
    VM_CALL(isa, rmsnorm_backward, (x, weight, rstd, dy, rows, cols, block_rows, dx, dweight_part));
}

void strata_sum_blocks(strata_isa isa, const float *src, long blocks, long cols, long c0, long c1, float *dst) {
    VM_CALL(isa, sum_blocks, (src, blocks, cols, c0, c1, dst));
}
