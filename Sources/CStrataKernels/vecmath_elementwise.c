// Elementwise activations (forward and backward side by side) and the AdamW update.
#include "strata_vecmath.h"
#include "vecmath_simd.h"

#define SQRT_2_OVER_PI 0.79788456080286536f
#define INV_SQRT_2PI 0.39894228040143268f
#define GELU_TANH_C 0.044715f

// Applies EXPR (a function of the vector `v`, read from x) to every element of x into y.
// Tail lanes are filled with 1 so log / sqrt / rsqrt stay finite there (those lanes are never stored).
#define VM_MAP(EXPR)                                                   \
    for (long j = 0; j < n; j += VW) {                                 \
        long k = n - j;                                                \
        vf v = vm_ld(x + j, k, 1.0f);                                  \
        vm_st(y + j, (EXPR), k);                                       \
    }                                                                  \
    break;

// Same with the upstream gradient `g` read from dy, into dx.
#define VM_MAP_GRAD(EXPR)                                              \
    for (long j = 0; j < n; j += VW) {                                 \
        long k = n - j;                                                \
        vf v = vm_ld(x + j, k, 1.0f), g = vm_ld(dy + j, k, 0.0f);      \
        vm_st(dx + j, (EXPR), k);                                      \
    }                                                                  \
    break;

/// relu that lets NaN through (x < 0 is false for NaN), like PyTorch.
VM_INLINE vf vm_relu(vf x) { return vm_sel(x < 0.0f, vm_splat(0.0f), x); }

/// softplus(x) = max(x, 0) + log1p(e^{−|x|}): no overflow for large x, no lost digits for very negative x.
VM_INLINE vf vm_softplus(vf x) {
    return vm_sel(x > 0.0f, x, vm_splat(0.0f)) + vm_log1p_pos(vm_exp(-vm_abs(x)));
}

/// x·σ(2u) with u = √(2/π)(x + 0.044715x³): ½(1+tanh u) = σ(2u) avoids cancelling 1 + tanh u for x ≪ 0.
VM_INLINE vf vm_gelu_tanh(vf x, vf *grad) {
    vf x2 = x * x;
    vf u2 = (2.0f * SQRT_2_OVER_PI) * (x + GELU_TANH_C * x2 * x);
    vf ds;
    vf s = vm_sigmoid2(u2, &ds);
    *grad = s + x * ds * ((2.0f * SQRT_2_OVER_PI) * (1.0f + 3.0f * GELU_TANH_C * x2));
    return x * s;
}

VM_INLINE void activation_forward(strata_activation kind, const float *x, float *y, long n) {
    vf unused;
    switch (kind) {
    case STRATA_ACT_EXP: VM_MAP(vm_exp(v))
    case STRATA_ACT_LOG: VM_MAP(vm_log(v))
    case STRATA_ACT_TANH: VM_MAP(vm_tanh(v))
    case STRATA_ACT_SIGMOID: VM_MAP(vm_sigmoid(v))
    case STRATA_ACT_RELU: VM_MAP(vm_relu(v))
    case STRATA_ACT_GELU: VM_MAP(v * vm_normal_cdf(v))
    case STRATA_ACT_GELU_TANH: VM_MAP(vm_gelu_tanh(v, &unused))
    case STRATA_ACT_SILU: VM_MAP(v * vm_sigmoid(v))
    case STRATA_ACT_SOFTPLUS: VM_MAP(vm_softplus(v))
    case STRATA_ACT_SQRT: VM_MAP(vm_sqrt(v))
    case STRATA_ACT_RSQRT: VM_MAP(1.0f / vm_sqrt(v))
    }
}

VM_INLINE vf vm_tanh_grad(vf x) { vf t = vm_tanh(x); return 1.0f - t * t; }
VM_INLINE vf vm_sigmoid_grad(vf x) { vf d; vm_sigmoid2(x, &d); return d; }
/// d/dx x·σ(x) = σ + x·σ(1−σ).
VM_INLINE vf vm_silu_grad(vf x) { vf d; vf s = vm_sigmoid2(x, &d); return s + x * d; }
/// d/dx x·Φ(x) = Φ(x) + x·φ(x).
VM_INLINE vf vm_gelu_grad(vf x) {
    return vm_normal_cdf(x) + x * (INV_SQRT_2PI * vm_exp(-0.5f * x * x));
}
VM_INLINE vf vm_gelu_tanh_grad(vf x) { vf g; vm_gelu_tanh(x, &g); return g; }
VM_INLINE vf vm_relu_grad(vf x) { return vm_sel(x > 0.0f, vm_splat(1.0f), vm_splat(0.0f)); }
/// d/dx x^{−½} = −½·x^{−3/2}.
VM_INLINE vf vm_rsqrt_grad(vf x) { vf r = 1.0f / vm_sqrt(x); return -0.5f * r * r * r; }

VM_INLINE void activation_backward(strata_activation kind, const float *x, const float *dy, float *dx,
                                   long n) {
    switch (kind) {
    case STRATA_ACT_EXP: VM_MAP_GRAD(g * vm_exp(v))
    case STRATA_ACT_LOG: VM_MAP_GRAD(g / v)
    case STRATA_ACT_TANH: VM_MAP_GRAD(g * vm_tanh_grad(v))
    case STRATA_ACT_SIGMOID: VM_MAP_GRAD(g * vm_sigmoid_grad(v))
    case STRATA_ACT_RELU: VM_MAP_GRAD(g * vm_relu_grad(v))
    case STRATA_ACT_GELU: VM_MAP_GRAD(g * vm_gelu_grad(v))
    case STRATA_ACT_GELU_TANH: VM_MAP_GRAD(g * vm_gelu_tanh_grad(v))
    case STRATA_ACT_SILU: VM_MAP_GRAD(g * vm_silu_grad(v))
    case STRATA_ACT_SOFTPLUS: VM_MAP_GRAD(g * vm_sigmoid(v))
    case STRATA_ACT_SQRT: VM_MAP_GRAD(g * (0.5f / vm_sqrt(v)))
    case STRATA_ACT_RSQRT: VM_MAP_GRAD(g * vm_rsqrt_grad(v))
    }
}

VM_VARIANTS(activation_forward, (strata_activation kind, const float *x, float *y, long n), (kind, x, y, n))
VM_VARIANTS(activation_backward, (strata_activation kind, const float *x, const float *dy, float *dx, long n),
            (kind, x, dy, dx, n))

void strata_activation_forward(strata_isa isa, strata_activation kind, const float *x, float *y, long n) {
    VM_CALL(isa, activation_forward, (kind, x, y, n));
}

void strata_activation_backward(strata_isa isa, strata_activation kind, const float *x, const float *dy,
                                float *dx, long n) {
    VM_CALL(isa, activation_backward, (kind, x, dy, dx, n));
}

// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", Alg. 2): the decay acts on the
// parameter directly and never enters the moment estimates.
VM_INLINE void adamw_update(float *param, const float *grad, float *m, float *v, long n, float lr, float beta1,
                            float beta2, float eps, float lr_wd, float inv_bc1, float inv_bc2) {
    for (long j = 0; j < n; j += VW) {
        long k = n - j;
        vf p = vm_ld(param + j, k, 0.0f), g = vm_ld(grad + j, k, 0.0f);
        vf mj = vm_ld(m + j, k, 0.0f), vj = vm_ld(v + j, k, 0.0f);
        p = p - lr_wd * p;
        mj = beta1 * mj + (1.0f - beta1) * g;
        vj = beta2 * vj + (1.0f - beta2) * (g * g);
        p = p - lr * (mj * inv_bc1) / (vm_sqrt(vj * inv_bc2) + eps);
        vm_st(param + j, p, k);
        vm_st(m + j, mj, k);
        vm_st(v + j, vj, k);
    }
}

VM_VARIANTS(adamw_update,
            (float *param, const float *grad, float *m, float *v, long n, float lr, float beta1, float beta2,
             float eps, float lr_wd, float inv_bc1, float inv_bc2),
            (param, grad, m, v, n, lr, beta1, beta2, eps, lr_wd, inv_bc1, inv_bc2))

void strata_adamw_update(strata_isa isa, float *param, const float *grad, float *m, float *v, long n, float lr,
                         float beta1, float beta2, float eps, float lr_wd, float inv_bc1, float inv_bc2) {
    VM_CALL(isa, adamw_update, (param, grad, m, v, n, lr, beta1, beta2, eps, lr_wd, inv_bc1, inv_bc2));
}
