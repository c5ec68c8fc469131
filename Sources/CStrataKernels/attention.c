// Fused attention drivers: tile loops, online softmax and the deterministic two-pass backward.
// The per-ISA tile operations (matmul, exp, ...) come from attention_x86.c / attention_portable.c.
//
// Notation per (batch b, query head h): Q [T,D], K [S,D], V [S,Dv], O [T,Dv], L (lse) [T];
// scores X = scale·Q Kᵀ + mask, P = exp(X - L). Query tiles have BQ rows, key tiles BK columns.
#define STRATA_ATTENTION_INTERNAL
#include "strata_attention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BQ STRATA_ATTN_QUERY_TILE
#define BK STRATA_ATTN_KEY_TILE

static const strata_attention_ops *ops_for(strata_isa isa) {
    const strata_attention_ops *ops = NULL;
    if (isa == STRATA_ISA_AVX512) ops = strata_attention_ops_avx512();
    else if (isa == STRATA_ISA_AVX2) ops = strata_attention_ops_avx2();
    return ops ? ops : strata_attention_ops_portable();
}

static long min_l(long a, long b) { return a < b ? a : b; }
static long max_l(long a, long b) { return a > b ? a : b; }
static long ceil_div(long a, long b) { return (a + b - 1) / b; }

// Per-thread scratch of tile size (a few tens of KiB), 64-byte aligned.
static float *scratch_alloc(long floats) {
    void *ptr = NULL;
    size_t bytes = (size_t)(floats > 0 ? floats : 1) * sizeof(float);
    if (posix_memalign(&ptr, 64, bytes) != 0) {
        fprintf(stderr, "strata attention: cannot allocate %zu bytes of tile scratch\n", bytes);
        abort();
    }
    return (float *)ptr;
}

// Tile order within one head: 0, n-1, 1, n-2, ... so a contiguous half of the items holds about half
// of the causal work (early query tiles see few keys, late ones many).
static long zigzag(long i, long n) { return (i & 1) ? n - 1 - i / 2 : i / 2; }

long strata_attention_query_items(const strata_attention_problem *p) {
    return p->batch * p->heads * ceil_div(p->queries, BQ);
}

long strata_attention_key_items(const strata_attention_problem *p) {
    return p->batch * p->kv_heads * ceil_div(p->keys, BK);
}

// Keys [0, end) hold every key visible to queries [t0, t0 + rows): causal query t sees s <= t + S - T.
static long visible_end(const strata_attention_problem *p, long t0, long rows) {
    if (!p->causal) return p->keys;
    return min_l(p->keys, max_l(0, t0 + rows + p->keys - p->queries));
}

// How many of the keys [s0, s0 + cols) query t sees (a prefix, by causality).
static long visible_in_tile(const strata_attention_problem *p, long t, long s0, long cols) {
    if (!p->causal) return cols;
    return min_l(cols, max_l(0, t + p->keys - p->queries + 1 - s0));
}

static const float *mask_row(const strata_attention_problem *p, long b, long h, long t, long s0) {
    if (!p->mask) return NULL;
    return p->mask + b * p->mask_batch_stride + h * p->mask_head_stride + t * p->mask_row_stride + s0;
}

// dst[j*ld + i] = src[i*width + j]: a tile of `rows` keys (or queries) transposed so a score matmul
// streams contiguous vectors along the score tile's vectorized axis.
static void pack_transposed(const float *src, long rows, long width, float *dst, long ld) {
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < width; j++) dst[j * ld + i] = src[i * width + j];
}

// ---------------------------------------------------------------------------------------------------
// Forward
//
// Scores are computed transposed, st [keys, BQ] = K Qᵀ, so queries are the vector lanes: the packed Qᵀ
// is built once per query tile instead of a Kᵀ per tile pair, and the online softmax (Milakov &
// Gimelshein 2018) keeps its running max m, sum l and rescale factor alpha per lane, with no
// horizontal reductions.

// out and lse rows of one (b, h, query tile). Scratch: qt [D,BQ], st [BK,BQ], mt [BK,BQ], acc [BQ,Dv].
static void forward_tile(const strata_attention_problem *p, const strata_attention_ops *ops,
                         const float *q, const float *k, const float *v, float *out, float *lse,
                         long b, long h, long t0, float *qt, float *st, float *mt, float *acc) {
    const long T = p->queries, S = p->keys, D = p->head_dim, Dv = p->value_dim;
    const long bh = b * p->heads + h, kvh = h / (p->heads / p->kv_heads);
    const long rows = min_l(BQ, T - t0);
    const float *kb = k + (b * p->kv_heads + kvh) * S * D;   // [S, D]
    const float *vb = v + (b * p->kv_heads + kvh) * S * Dv;  // [S, Dv]
    float m[BQ], l[BQ], alpha[BQ];
    for (long i = 0; i < BQ; i++) { m[i] = -INFINITY; l[i] = 0.0f; }
    memset(acc, 0, (size_t)(rows * Dv) * sizeof(float));
    pack_transposed(q + (bh * T + t0) * D, rows, D, qt, BQ);

    const long s_end = visible_end(p, t0, rows);
    for (long s0 = 0; s0 < s_end; s0 += BK) {
        const long cols = min_l(BK, s_end - s0);
        ops->matmul(cols, rows, D, kb + s0 * D, D, 1, qt, BQ, st, BQ, 0);
        if (p->mask) {  // the mask tile transposed to the score layout
            for (long i = 0; i < rows; i++) {
                const float *mrow = mask_row(p, b, h, t0 + i, s0);
                for (long j = 0; j < cols; j++) mt[j * BQ + i] = mrow[j];
            }
        }
        ops->softmax_columns(st, cols, rows, BQ, p->scale, p->mask ? mt : NULL, p->causal,
                             s0 - t0 - (S - T), m, l, alpha);
        for (long i = 0; i < rows; i++)
            if (alpha[i] != 1.0f) ops->scale(acc + i * Dv, Dv, alpha[i]);
        ops->matmul(rows, Dv, cols, st, 1, BQ, vb + s0 * Dv, Dv, acc, Dv, 1);  // acc += P V
    }
    for (long i = 0; i < rows; i++) {
        float *o = out + (bh * T + t0 + i) * Dv;
        if (l[i] > 0.0f) {
            memcpy(o, acc + i * Dv, (size_t)Dv * sizeof(float));
            ops->scale(o, Dv, 1.0f / l[i]);
            lse[bh * T + t0 + i] = m[i] + logf(l[i]);
        } else {  // no visible key: defined as zero output, lse = -inf (the backward then gives zeros)
            memset(o, 0, (size_t)Dv * sizeof(float));
            lse[bh * T + t0 + i] = -INFINITY;
        }
    }
}

void strata_attention_forward(const strata_attention_problem *p, strata_isa isa,
                              const float *q, const float *k, const float *v,
                              float *out, float *lse, long begin, long end) {
    const strata_attention_ops *ops = ops_for(isa);
    const long tiles = ceil_div(p->queries, BQ);
    if (begin >= end || tiles == 0) return;
    const long D = p->head_dim, Dv = p->value_dim;
    // Zeroed once: lanes past the last query of a short tile are computed on but never used.
    float *scratch = scratch_alloc(D * BQ + 2 * BK * BQ + BQ * Dv);
    memset(scratch, 0, (size_t)(D * BQ + 2 * BK * BQ + BQ * Dv) * sizeof(float));
    float *qt = scratch, *st = qt + D * BQ, *mt = st + BK * BQ, *acc = mt + BK * BQ;
    for (long item = begin; item < end; item++) {
        const long bh = item / tiles, t0 = zigzag(item % tiles, tiles) * BQ;
        forward_tile(p, ops, q, k, v, out, lse, bh / p->heads, bh % p->heads, t0, qt, st, mt, acc);
    }
    free(scratch);
}

// ---------------------------------------------------------------------------------------------------
// Backward: dV = Pᵀ dO, dP = dO Vᵀ, dX = P ∘ (dP - delta) with delta = rowsum(dO ∘ O),
// dQ = scale · dX K, dK = scale · dXᵀ Q.

void strata_attention_backward_delta(const strata_attention_problem *p, const float *out,
                                     const float *dout, float *delta, long begin, long end) {
    const long Dv = p->value_dim;
    for (long r = begin; r < end; r++) {
        double sum = 0.0;
        for (long j = 0; j < Dv; j++) sum += (double)dout[r * Dv + j] * (double)out[r * Dv + j];
        delta[r] = (float)sum;
    }
}

// pr [rows, BK] = P for queries [t0, t0+rows) of head (b, h) against the packed key tile kt [D, BK].
static void tile_probabilities(const strata_attention_problem *p, const strata_attention_ops *ops,
                               const float *qt, const float *kt, const float *lse_rows, long rows,
                               long cols, long b, long h, long t0, long s0, float *pr) {
    ops->matmul(rows, cols, p->head_dim, qt, p->head_dim, 1, kt, BK, pr, BK, 0);
    for (long i = 0; i < rows; i++) {
        float *row = pr + i * BK;
        if (lse_rows[i] == -INFINITY) {  // row with no visible key: zero weights, zero gradients
            memset(row, 0, (size_t)cols * sizeof(float));
            continue;
        }
        ops->prepare(row, cols, p->scale, mask_row(p, b, h, t0 + i, s0), visible_in_tile(p, t0 + i, s0, cols));
        ops->exp_sum(row, cols, lse_rows[i]);
    }
}

// dP for the tile into dp [rows, BK], then pr becomes dX = P ∘ (dP - delta).
static void tile_score_grad(const strata_attention_problem *p, const strata_attention_ops *ops,
                            const float *dot, const float *vt, const float *delta_rows, long rows,
                            long cols, float *pr, float *dp) {
    ops->matmul(rows, cols, p->value_dim, dot, p->value_dim, 1, vt, BK, dp, BK, 0);
    for (long i = 0; i < rows; i++) ops->softmax_grad(pr + i * BK, dp + i * BK, cols, delta_rows[i]);
}

// dK, dV rows of one (b, kv head, key tile): every query head of the group, every query tile that sees
// the key tile, in a fixed order, accumulated in dka [BK,D] and dva [BK,Dv]. With dq_acc non-NULL (the
// fused backward, which owns the whole group) it also adds dX K to the unscaled dQ rows [B,H,T,D]: the
// same tiles and operations as dq_tile in the same key order, so both paths give the same bits.
static void dkdv_tile(const strata_attention_problem *p, const strata_attention_ops *ops,
                      const float *q, const float *k, const float *v, const float *lse,
                      const float *dout, const float *delta, float *dk, float *dv, float *dq_acc,
                      long b, long kvh, long s0, float *scratch) {
    const long T = p->queries, S = p->keys, D = p->head_dim, Dv = p->value_dim;
    const long group = p->heads / p->kv_heads, bk = b * p->kv_heads + kvh;
    const long cols = min_l(BK, S - s0);
    float *kt = scratch, *vt = kt + D * BK, *pr = vt + Dv * BK, *dp = pr + BQ * BK;
    float *dka = dp + BQ * BK, *dva = dka + BK * D;
    pack_transposed(k + (bk * S + s0) * D, cols, D, kt, BK);
    pack_transposed(v + (bk * S + s0) * Dv, cols, Dv, vt, BK);
    memset(dka, 0, (size_t)(cols * D) * sizeof(float));
    memset(dva, 0, (size_t)(cols * Dv) * sizeof(float));

    const long t_first = p->causal ? max_l(0, s0 - (S - T)) : 0;  // first query that sees key s0
    for (long g = 0; g < group; g++) {
        const long h = kvh * group + g, bh = b * p->heads + h;
        for (long t0 = t_first / BQ * BQ; t0 < T; t0 += BQ) {
            const long rows = min_l(BQ, T - t0);
            const float *qt = q + (bh * T + t0) * D, *dot = dout + (bh * T + t0) * Dv;
            tile_probabilities(p, ops, qt, kt, lse + bh * T + t0, rows, cols, b, h, t0, s0, pr);
            ops->matmul(cols, Dv, rows, pr, 1, BK, dot, Dv, dva, Dv, 1);  // dV += Pᵀ dO
            tile_score_grad(p, ops, dot, vt, delta + bh * T + t0, rows, cols, pr, dp);
            ops->matmul(cols, D, rows, pr, 1, BK, qt, D, dka, D, 1);      // dK += dXᵀ Q
            if (dq_acc)                                                     // dQ += dX K
                ops->matmul(rows, D, cols, pr, BK, 1, k + (bk * S + s0) * D, D, dq_acc + (bh * T + t0) * D, D, 1);
        }
    }
    for (long i = 0; i < cols; i++) {
        float *dki = dk + (bk * S + s0 + i) * D;
        memcpy(dki, dka + i * D, (size_t)D * sizeof(float));
        ops->scale(dki, D, p->scale);
        memcpy(dv + (bk * S + s0 + i) * Dv, dva + i * Dv, (size_t)Dv * sizeof(float));
    }
}

void strata_attention_backward_dkdv(const strata_attention_problem *p, strata_isa isa,
                                    const float *q, const float *k, const float *v,
                                    const float *lse, const float *dout, const float *delta,
                                    float *dk, float *dv, long begin, long end) {
    const strata_attention_ops *ops = ops_for(isa);
    const long tiles = ceil_div(p->keys, BK);
    if (begin >= end || tiles == 0) return;
    const long D = p->head_dim, Dv = p->value_dim;
    float *scratch = scratch_alloc((D + Dv) * BK + 2 * BQ * BK + BK * (D + Dv));
    for (long item = begin; item < end; item++) {
        const long bk = item / tiles, s0 = zigzag(item % tiles, tiles) * BK;
        dkdv_tile(p, ops, q, k, v, lse, dout, delta, dk, dv, NULL, bk / p->kv_heads, bk % p->kv_heads, s0,
                  scratch);
    }
    free(scratch);
}

void strata_attention_backward_fused(const strata_attention_problem *p, strata_isa isa,
                                     const float *q, const float *k, const float *v,
                                     const float *lse, const float *dout, const float *delta,
                                     float *dq, float *dk, float *dv, long begin, long end) {
    const strata_attention_ops *ops = ops_for(isa);
    const long T = p->queries, D = p->head_dim, Dv = p->value_dim, group = p->heads / p->kv_heads;
    const long tiles = ceil_div(p->keys, BK);
    if (begin >= end) return;
    float *scratch = scratch_alloc((D + Dv) * BK + 2 * BQ * BK + BK * (D + Dv));
    for (long item = begin; item < end; item++) {
        const long b = item / p->kv_heads, kvh = item % p->kv_heads;
        float *dq_group = dq + (b * p->heads + kvh * group) * T * D;  // [group, T, D], owned by this item
        memset(dq_group, 0, (size_t)(group * T * D) * sizeof(float));
        for (long tile = 0; tile < tiles; tile++)  // increasing keys: dQ sums in dq_tile's order
            dkdv_tile(p, ops, q, k, v, lse, dout, delta, dk, dv, dq, b, kvh, tile * BK, scratch);
        ops->scale(dq_group, group * T * D, p->scale);
    }
    free(scratch);
}

// dQ rows of one (b, h, query tile), accumulated over key tiles in order in dqa [BQ,D].
static void dq_tile(const strata_attention_problem *p, const strata_attention_ops *ops,
                    const float *q, const float *k, const float *v, const float *lse,
                    const float *dout, const float *delta, float *dq,
                    long b, long h, long t0, float *scratch) {
    const long T = p->queries, S = p->keys, D = p->head_dim, Dv = p->value_dim;
    const long bh = b * p->heads + h, bk = b * p->kv_heads + h / (p->heads / p->kv_heads);
    const long rows = min_l(BQ, T - t0);
    float *kt = scratch, *vt = kt + D * BK, *pr = vt + Dv * BK, *dp = pr + BQ * BK, *dqa = dp + BQ * BK;
    const float *qt = q + (bh * T + t0) * D, *dot = dout + (bh * T + t0) * Dv;
    const float *kb = k + bk * S * D, *vb = v + bk * S * Dv;
    memset(dqa, 0, (size_t)(rows * D) * sizeof(float));

    const long s_end = visible_end(p, t0, rows);
    for (long s0 = 0; s0 < s_end; s0 += BK) {
        const long cols = min_l(BK, S - s0);  // whole key tiles, as in dkdv_tile (same bits when fused)
        pack_transposed(kb + s0 * D, cols, D, kt, BK);
        pack_transposed(vb + s0 * Dv, cols, Dv, vt, BK);
        tile_probabilities(p, ops, qt, kt, lse + bh * T + t0, rows, cols, b, h, t0, s0, pr);
        tile_score_grad(p, ops, dot, vt, delta + bh * T + t0, rows, cols, pr, dp);
        ops->matmul(rows, D, cols, pr, BK, 1, kb + s0 * D, D, dqa, D, 1);  // dQ += dX K
    }
    for (long i = 0; i < rows; i++) {
        float *dqi = dq + (bh * T + t0 + i) * D;
        memcpy(dqi, dqa + i * D, (size_t)D * sizeof(float));
        ops->scale(dqi, D, p->scale);
    }
}

void strata_attention_backward_dq(const strata_attention_problem *p, strata_isa isa,
                                  const float *q, const float *k, const float *v,
                                  const float *lse, const float *dout, const float *delta,
                                  float *dq, long begin, long end) {
    const strata_attention_ops *ops = ops_for(isa);
    const long tiles = ceil_div(p->queries, BQ);
    if (begin >= end || tiles == 0) return;
    const long D = p->head_dim, Dv = p->value_dim;
    float *scratch = scratch_alloc((D + Dv) * BK + 2 * BQ * BK + BQ * D);
    for (long item = begin; item < end; item++) {
        const long bh = item / tiles, t0 = zigzag(item % tiles, tiles) * BQ;
        dq_tile(p, ops, q, k, v, lse, dout, delta, dq, bh / p->heads, bh % p->heads, t0, scratch);
    }
    free(scratch);
}

void strata_attention_exp(strata_isa isa, const float *x, float *y, long n) {
    if (n <= 0) return;
    memmove(y, x, (size_t)n * sizeof(float));
    ops_for(isa)->exp_sum(y, n, 0.0f);
}
