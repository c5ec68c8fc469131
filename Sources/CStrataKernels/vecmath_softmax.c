// Row softmax, log-softmax and label-smoothed cross-entropy, forward and backward.
//
// All go through the row maximum m and s = Σ exp(x − m), so logits of any magnitude (±1e4) neither
// overflow nor lose the small differences that matter: log p = (x − m) − log s.
#include <math.h>
#include "strata_vecmath.h"
#include "vecmath_simd.h"

/// Largest element of a row; −inf for an empty or all −inf row (NaN elements are skipped here).
VM_INLINE float row_max(const float *x, long n) {
    vf m = vm_splat(-__builtin_inff());
    for (long j = 0; j < n; j += VW) {
        vf v = vm_ld(x + j, n - j, -__builtin_inff());
        m = vm_sel(v > m, v, m);
    }
    return vm_hmax(m);
}

/// Σ exp(x − m) over a row (padding with −inf adds exp(−inf) = 0).
VM_INLINE float row_sum_exp(const float *x, long n, float m) {
    vf acc = vm_splat(0.0f);
    for (long j = 0; j < n; j += VW) acc += vm_exp(vm_ld(x + j, n - j, -__builtin_inff()) - m);
    return vm_hsum(acc);
}

VM_INLINE void softmax_forward(const float *x, long rows, long cols, float *y) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = row_max(xr, cols);
        if (m == -__builtin_inff()) {  // fully masked row: no probability mass anywhere
            for (long j = 0; j < cols; j++) yr[j] = 0.0f;
            continue;
        }
        vf acc = vm_splat(0.0f);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf e = vm_exp(vm_ld(xr + j, k, -__builtin_inff()) - m);
            acc += e;
            vm_st(yr + j, e, k);
        }
        float inv = 1.0f / vm_hsum(acc);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vm_st(yr + j, vm_ld(yr + j, k, 0.0f) * inv, k);
        }
    }
}

VM_INLINE void softmax_backward(const float *y, const float *dy, long rows, long cols, float *dx) {
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        vf acc = vm_splat(0.0f);
        for (long j = 0; j < cols; j += VW) acc += vm_ld(yr + j, cols - j, 0.0f) * vm_ld(dyr + j, cols - j, 0.0f);
        float s = vm_hsum(acc);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf yv = vm_ld(yr + j, k, 0.0f);
            vm_st(dxr + j, yv * (vm_ld(dyr + j, k, 0.0f) - s), k);
        }
    }
}

VM_INLINE void log_softmax_forward(const float *x, long rows, long cols, float *y) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = row_max(xr, cols);
        if (m == -__builtin_inff()) {  // every class impossible: log 0 everywhere
            for (long j = 0; j < cols; j++) yr[j] = -__builtin_inff();
            continue;
        }
        float ls = logf(row_sum_exp(xr, cols, m));
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vm_st(yr + j, (vm_ld(xr + j, k, 0.0f) - m) - ls, k);
        }
    }
}

VM_INLINE void log_softmax_backward(const float *y, const float *dy, long rows, long cols, float *dx) {
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dyr = dy + r * cols;
        float *dxr = dx + r * cols;
        float s = vm_row_sum(dyr, cols);
        for (long j = 0; j < cols; j += VW) {
            long k = cols - j;
            vf e = vm_exp(vm_ld(yr + j, k, -__builtin_inff()));
            vm_st(dxr + j, vm_ld(dyr + j, k, 0.0f) - e * s, k);
        }
    }
}

// PyTorch's label smoothing: the target distribution is (1−ε)·onehot(t) + ε/V on every class, so
// loss = −(1−ε)·log p_t − (ε/V)·Σ_v log p_v, with Σ_v log p_v = Σ_v (x_v − m) − V·log s.
VM_INLINE void cross_entropy_forward(const float *logits, const int32_t *targets, long rows, long vocab,
                                     int32_t ignore_index, float eps, float *losses, float *lse) {
    for (long r = 0; r < rows; r++) {
        const float *xr = logits + r * vocab;
        float m = row_max(xr, vocab);
        vf se = vm_splat(0.0f), sx = vm_splat(0.0f);
        for (long j = 0; j < vocab; j += VW) {
            long k = vocab - j;
            vf d = vm_ld(xr + j, k, -__builtin_inff()) - m;
            se += vm_exp(d);
            if (eps != 0.0f) sx += vm_sel(vm_lanes_below(k), d, vm_splat(0.0f));
        }
        float ls = logf(vm_hsum(se));
        lse[r] = m + ls;
        int32_t t = targets[r];
        if (t == ignore_index) {
            losses[r] = 0.0f;
            continue;
        }
        float loss = -(1.0f - eps) * ((xr[t] - m) - ls);
        if (eps != 0.0f) loss -= (eps / (float)vocab) * (vm_hsum(sx) - (float)vocab * ls);
        losses[r] = loss;
    }
}

VM_INLINE void cross_entropy_backward(const float *logits, const int32_t *targets, const float *lse,
                                      const float *dloss, long rows, long vocab, int32_t ignore_index, float eps,
                                      float *dlogits) {
    for (long r = 0; r < rows; r++) {
        const float *xr = logits + r * vocab;
        float *dr = dlogits + r * vocab;
        int32_t t = targets[r];
        if (t == ignore_index) {
            for (long j = 0; j < vocab; j++) dr[j] = 0.0f;
            continue;
        }
        float g = dloss[r], l = lse[r], smooth = eps / (float)vocab;
        for (long j = 0; j < vocab; j += VW) {
            long k = vocab - j;
            vf p = vm_exp(vm_ld(xr + j, k, -__builtin_inff()) - l);
            vm_st(dr + j, g * (p - smooth), k);
        }
        dr[t] -= g * (1.0f - eps);
    }
}

VM_VARIANTS(softmax_forward, (const float *x, long rows, long cols, float *y), (x, rows, cols, y))
VM_VARIANTS(softmax_backward, (const float *y, const float *dy, long rows, long cols, float *dx),
            (y, dy, rows, cols, dx))
VM_VARIANTS(log_softmax_forward, (const float *x, long rows, long cols, float *y), (x, rows, cols, y))
VM_VARIANTS(log_softmax_backward, (const float *y, const float *dy, long rows, long cols, float *dx),
            (y, dy, rows, cols, dx))
VM_VARIANTS(cross_entropy_forward,
            (const float *logits, const int32_t *targets, long rows, long vocab, int32_t ignore_index, float eps,
             float *losses, float *lse),
            (logits, targets, rows, vocab, ignore_index, eps, losses, lse))
VM_VARIANTS(cross_entropy_backward,
            (const float *logits, const int32_t *targets, const float *lse, const float *dloss, long rows,
             long vocab, int32_t ignore_index, float eps, float *dlogits),
            (logits, targets, lse, dloss, rows, vocab, ignore_index, eps, dlogits))

void strata_softmax_forward(strata_isa isa, const float *x, long rows, long cols, float *y) {
    VM_CALL(isa, softmax_forward, (x, rows, cols, y));
}

void strata_softmax_backward(strata_isa isa, const float *y, const float *dy, long rows, long cols, float *dx) {
    VM_CALL(isa, softmax_backward, (y, dy, rows, cols, dx));
}

void strata_log_softmax_forward(strata_isa isa, const float *x, long rows, long cols, float *y) {
    VM_CALL(isa, log_softmax_forward, (x, rows, cols, y));
}

void strata_log_softmax_backward(strata_isa isa, const float *y, const float *dy, long rows, long cols,
                                 float *dx) {
    VM_CALL(isa, log_softmax_backward, (y, dy, rows, cols, dx));
}

void strata_cross_entropy_forward(strata_isa isa, const float *logits, const int32_t *targets, long rows,
                                  long vocab, int32_t ignore_index, float label_smoothing, float *losses,
                                  float *lse) {
    VM_CALL(isa, cross_entropy_forward, (logits, targets, rows, vocab, ignore_index, label_smoothing, losses, lse));
}

void strata_cross_entropy_backward(strata_isa isa, const float *logits, const int32_t *targets, const float *lse,
                                   const float *dloss, long rows, long vocab, int32_t ignore_index,
                                   float label_smoothing, float *dlogits) {
    VM_CALL(isa, cross_entropy_backward,
            (logits, targets, lse, dloss, rows, vocab, ignore_index, label_smoothing, dlogits));
}
