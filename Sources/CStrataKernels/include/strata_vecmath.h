// Vectorized math kernels: elementwise activations, AdamW, and fused row kernels (layer / RMS norm,
// softmax, log-softmax, cross-entropy). Every kernel takes the ISA to run (from strata_detect_isa(),
// or a lower one to test that path) and works on row-major contiguous buffers; shapes are written
// beside each pointer. Row kernels take any contiguous block of rows, so callers split work over rows
// (outputs); parameter gradients go through per-block partial sums that strata_sum_blocks adds in order.
#ifndef STRATA_VECMATH_H
#define STRATA_VECMATH_H

#include <stdint.h>
#include "strata_cpu.h"

/// Elementwise functions with a forward y = f(x) and a backward dx = dy·f'(x).
typedef enum {
    STRATA_ACT_EXP = 0,
    STRATA_ACT_LOG = 1,
    STRATA_ACT_TANH = 2,
    STRATA_ACT_SIGMOID = 3,
    STRATA_ACT_RELU = 4,
    STRATA_ACT_GELU = 5,       // x·Φ(x), exact (erf based)
    STRATA_ACT_GELU_TANH = 6,  // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
    STRATA_ACT_SILU = 7,
    STRATA_ACT_SOFTPLUS = 8,
    STRATA_ACT_SQRT = 9,
    STRATA_ACT_RSQRT = 10,
} strata_activation;

/// y[n] = f(x[n]).
void strata_activation_forward(strata_isa isa, strata_activation kind, const float *x /* [n] */,
                               float *y /* [n] */, long n);
/// dx[n] = dy[n]·f'(x[n]).
void strata_activation_backward(strata_isa isa, strata_activation kind, const float *x /* [n] */,
                                const float *dy /* [n] */, float *dx /* [n] */, long n);

/// One AdamW step on n parameters; inv_bc1 = 1/(1−β1^t), inv_bc2 = 1/(1−β2^t), lr_wd = lr·weight decay.
void strata_adamw_update(strata_isa isa, float *param /* [n] */, const float *grad /* [n] */,
                         float *m /* [n] */, float *v /* [n] */, long n, float lr, float beta1, float beta2,
                         float eps, float lr_wd, float inv_bc1, float inv_bc2);

/// Layer norm over each row of x; weight / bias may be NULL (1 / 0).
void strata_layernorm_forward(strata_isa isa, const float *x /* [R×C] */, const float *weight /* [C] */,
                              const float *bias /* [C] */, long rows, long cols, float eps,
                              float *y /* [R×C] */, float *mean /* [R] */, float *rstd /* [R] */);
/// dx for a run of rows (overwritten). Rows are grouped in blocks of block_rows counted from the first
/// row passed (which the caller puts on a block boundary); for block b, dweight_part[b×C ...] = Σ dy·x̂ and
/// dbias_part[b×C ...] = Σ dy over its rows, in row order (overwritten; either may be NULL).
void strata_layernorm_backward(strata_isa isa, const float *x /* [R×C] */, const float *weight /* [C] */,
                               const float *mean /* [R] */, const float *rstd /* [R] */, const float *dy /* [R×C] */,
                               long rows, long cols, long block_rows, float *dx /* [R×C] */,
                               float *dweight_part /* [⌈R/block_rows⌉×C] */, float *dbias_part /* same */);

/// RMS norm over each row of x; weight may be NULL.
void strata_rmsnorm_forward(strata_isa isa, const float *x /* [R×C] */, const float *weight /* [C] */,
                            long rows, long cols, float eps, float *y /* [R×C] */, float *rstd /* [R] */);
/// dx for a run of rows, and per-block partial sums of dy·x·rstd (as in strata_layernorm_backward).
void strata_rmsnorm_backward(strata_isa isa, const float *x /* [R×C] */, const float *weight /* [C] */,
                             const float *rstd /* [R] */, const float *dy /* [R×C] */, long rows, long cols,
                             long block_rows, float *dx /* [R×C] */, float *dweight_part /* [⌈R/block_rows⌉×C] */);
/// dst[c] += Σ_b src[b, c] for c in [c0, c1), blocks summed in order b = 0 ..< blocks.
void strata_sum_blocks(strata_isa isa, const float *src /* [B×C] */, long blocks, long cols, long c0, long c1,
                       float *dst /* [C] */);

/// Row softmax (max-subtracted); a row that is all −inf gives zeros.
void strata_softmax_forward(strata_isa isa, const float *x /* [R×C] */, long rows, long cols,
                            float *y /* [R×C] */);
/// dx = y ∘ (dy − Σ dy∘y) per row.
void strata_softmax_backward(strata_isa isa, const float *y /* [R×C] */, const float *dy /* [R×C] */,
                             long rows, long cols, float *dx /* [R×C] */);
/// Row log-softmax via logsumexp; a row that is all −inf gives −inf.
void strata_log_softmax_forward(strata_isa isa, const float *x /* [R×C] */, long rows, long cols,
                                float *y /* [R×C] */);
/// dx = dy − exp(y)·Σ dy per row.
void strata_log_softmax_backward(strata_isa isa, const float *y /* [R×C] */, const float *dy /* [R×C] */,
                                 long rows, long cols, float *dx /* [R×C] */);

/// Label-smoothed cross-entropy per row; targets must be in [0, V) or equal ignore_index (checked by
/// the caller). Writes losses[r] (0 for ignored rows) and lse[r] = log Σ_v exp(logits[r, v]).
void strata_cross_entropy_forward(strata_isa isa, const float *logits /* [N×V] */,
                                  const int32_t *targets /* [N] */, long rows, long vocab,
                                  int32_t ignore_index, float label_smoothing, float *losses /* [N] */,
                                  float *lse /* [N] */);
/// dlogits[r, :] = dloss[r]·(softmax − smoothed one-hot); zero rows for ignored targets.
void strata_cross_entropy_backward(strata_isa isa, const float *logits /* [N×V] */,
                                   const int32_t *targets /* [N] */, const float *lse /* [N] */,
                                   const float *dloss /* [N] */, long rows, long vocab, int32_t ignore_index,
                                   float label_smoothing, float *dlogits /* [N×V] */);

#endif
