// Fused attention kernels (tiled, online softmax), forward and backward.
//
// FlashAttention-2 (Dao, 2023): queries are cut into tiles of STRATA_ATTN_QUERY_TILE rows and keys into
// tiles of STRATA_ATTN_KEY_TILE columns; the forward keeps a running row max and sum so no T×S score
// matrix ever exists, only per-thread scratch of tile size. The backward recomputes each score tile
// from q, k and the saved log-sum-exp.
//
// Work is split into items that own disjoint outputs, so the caller may hand any contiguous item range
// to any thread and the bits never depend on the thread count:
//   forward, dQ:  B·H·ceil(T / QUERY_TILE) items, one (batch, head, query tile) each;
//   dK, dV:       B·K·ceil(S / KEY_TILE) items, one (batch, kv head, key tile) each, looping over every
//                 query head of its group and every query tile in a fixed order;
//   fused dQ/dK/dV: B·K items, one (batch, kv head) each.
// Items are numbered so that a contiguous half of them carries about half the causal work.
#ifndef STRATA_ATTENTION_H
#define STRATA_ATTENTION_H

#include "strata_cpu.h"

#define STRATA_ATTN_QUERY_TILE 64
#define STRATA_ATTN_KEY_TILE 64

/// Sizes and options of one attention call. Layouts (row-major, contiguous):
/// q [B,H,T,D], k [B,K,S,D], v [B,K,S,Dv], out [B,H,T,Dv], lse [B,H,T]; H % K == 0.
typedef struct {
    long batch, heads, kv_heads, queries, keys, head_dim, value_dim;  // B, H, K, T, S, D, Dv
    float scale;
    int causal;  // query t sees key s iff s <= t + (S - T)
    const float *mask;  // NULL, or additive mask: element (b,h,t,s) at mask[b*mbs + h*mhs + t*mrs + s]
    long mask_batch_stride, mask_head_stride, mask_row_stride;
} strata_attention_problem;

/// Number of forward / dQ work items: B·H·ceil(T / QUERY_TILE).
long strata_attention_query_items(const strata_attention_problem *p);
/// Number of dK/dV work items: B·K·ceil(S / KEY_TILE).
long strata_attention_key_items(const strata_attention_problem *p);

/// Forward for items [begin, end): out [B,H,T,Dv] and lse [B,H,T] rows of those items.
void strata_attention_forward(const strata_attention_problem *p, strata_isa isa,
                              const float *q, const float *k, const float *v,
                              float *out, float *lse, long begin, long end);

/// delta[b,h,t] = sum over Dv of dout ∘ out, for the (b,h) rows [begin, end) of B·H·T.
void strata_attention_backward_delta(const strata_attention_problem *p, const float *out,
                                     const float *dout, float *delta, long begin, long end);

/// dK [B,K,S,D] and dV [B,K,S,Dv] for key items [begin, end) (overwritten).
void strata_attention_backward_dkdv(const strata_attention_problem *p, strata_isa isa,
                                    const float *q, const float *k, const float *v,
                                    const float *lse, const float *dout, const float *delta,
                                    float *dk, float *dv, long begin, long end);

/// dQ [B,H,T,D] for query items [begin, end) (overwritten).
void strata_attention_backward_dq(const strata_attention_problem *p, strata_isa isa,
                                  const float *q, const float *k, const float *v,
                                  const float *lse, const float *dout, const float *delta,
                                  float *dq, long begin, long end);

/// Fused backward for kv-group items [begin, end) of B·K: one item owns (b, kv head) and writes its dK,
/// dV rows and the dQ rows of all H/K query heads of its group, with 5 tile matmuls per tile pair instead
/// of the two-pass 7. Bit-identical to dkdv + dq; worth it when B·K splits evenly over the threads.
void strata_attention_backward_fused(const strata_attention_problem *p, strata_isa isa,
                                     const float *q, const float *k, const float *v,
                                     const float *lse, const float *dout, const float *delta,
                                     float *dq, float *dk, float *dv, long begin, long end);

/// exp(x) on n floats with the kernel's vectorized exp for `isa` (exposed so tests can check its error).
void strata_attention_exp(strata_isa isa, const float *x, float *y, long n);

#ifdef STRATA_ATTENTION_INTERNAL
// Per-ISA tile operations shared by attention*.c; not part of the Swift-visible API.
typedef struct {
    // c[m×n] (=|+=) a[m×k] · b[k×n]; a(i,p) at a[i*ars + p*aks], b(p,j) at b[p*ldb + j], c(i,j) at c[i*ldc + j].
    void (*matmul)(long m, long n, long k, const float *a, long ars, long aks,
                   const float *b, long ldb, float *c, long ldc, int accumulate);
    // s[j] = s[j]*scale + mask[j] (mask may be NULL), s[j] = -inf for j >= visible; returns max_j s[j].
    float (*prepare)(float *s, long n, float scale, const float *mask, long visible);
    // s[j] = exp(s[j] - shift); returns the sum.
    float (*exp_sum)(float *s, long n, float shift);
    // Online-softmax step on a transposed score tile st[j*ld + i] (key j, query lane i < queries; ld is a
    // multiple of 16 and m, l, alpha hold ld entries): x = st*scale + mt (mt NULL or laid out like st),
    // -inf where causal and i < j + causal_shift; then per query m' = max(m, max_j x), alpha = exp(m - m'),
    // st = exp(x - m'), l = l·alpha + Σ_j st, m = m' (a query with no finite score keeps weights 0).
    void (*softmax_columns)(float *st, long keys, long queries, long ld, float scale, const float *mt,
                            int causal, long causal_shift, float *m, float *l, float *alpha);
    // p[j] = p[j] * (dp[j] - delta).
    void (*softmax_grad)(float *p, const float *dp, long n, float delta);
    // x[j] *= a.
    void (*scale)(float *x, long n, float a);
} strata_attention_ops;

const strata_attention_ops *strata_attention_ops_portable(void);
const strata_attention_ops *strata_attention_ops_avx2(void);    // NULL when not built for x86-64
const strata_attention_ops *strata_attention_ops_avx512(void);  // NULL when not built for x86-64
#endif

#endif
