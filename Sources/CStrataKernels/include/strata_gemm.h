// Single-precision GEMM building blocks: packing, register-tiled micro-kernels behind a macro-kernel, and
// a direct (unpacked) kernel for tiny or row-vector problems. The Swift driver (StrataKernels/GEMM.swift)
// owns the loops over cache blocks and the threading; everything here is single-threaded.
//
// Letters: M rows of C, N columns of C, K the reduction. op(A) is M×K, op(B) is K×N, C is M×N, all
// row-major. "trans" means the operand is stored transposed (A as K×M, B as N×K).
#ifndef STRATA_GEMM_H
#define STRATA_GEMM_H

#include <stdint.h>
#include "strata_cpu.h"

/// Register tile (mr × nr) and cache blocks (kc, mc, nc) of one ISA's micro-kernel.
typedef struct {
    int64_t mr, nr;  // micro-tile of C held in registers
    int64_t kc;      // K depth of one packed block (a B micro-panel kc×nr should sit in L1)
    int64_t mc;      // rows of packed A per block (mc×kc should sit in L2); a multiple of mr
    int64_t nc;      // columns of packed B per panel (kc×nc should sit in L3); a multiple of nr
} strata_gemm_blocking;

/// The blocking the micro-kernel of `isa` is built for (mr, nr are fixed; kc, mc, nc are defaults).
strata_gemm_blocking strata_sgemm_blocking(strata_isa isa);

/// Packs `rows` rows × `kc` columns of op(A) into ceil(rows/mr) micro-panels, zero-padding the last.
/// a: op(A)(0,0) of the block; trans=0: A[M×lda] row-major, trans=1: A stored [K×lda].
/// dst [ceil(rows/mr)][kc][mr], 64-byte aligned.
void strata_sgemm_pack_a(strata_isa isa, int64_t mr, int trans, int64_t rows, int64_t kc,
                         const float *a, int64_t lda, float *dst);

/// Packs `kc` rows × `cols` columns of op(B) into ceil(cols/nr) micro-panels, zero-padding the last.
/// b: op(B)(0,0) of the block; trans=0: B[K×ldb] row-major, trans=1: B stored [N×ldb].
/// dst [ceil(cols/nr)][kc][nr], 64-byte aligned.
void strata_sgemm_pack_b(strata_isa isa, int64_t nr, int trans, int64_t kc, int64_t cols,
                         const float *b, int64_t ldb, float *dst);

/// C[rows×cols] = alpha · Ap·Bp + beta · C over one packed block (beta == 0: C is not read).
/// pa [ceil(rows/mr)][kc][mr] and pb [ceil(cols/nr)][kc][nr] as made by the pack functions.
/// Every element gets the same FMA sequence (p = 0..kc-1 in order) wherever its tile lies.
void strata_sgemm_macro(strata_isa isa, int64_t rows, int64_t cols, int64_t kc,
                        const float *pa, const float *pb, float alpha, float beta,
                        float *c, int64_t ldc);

/// C = alpha · op(A)·op(B) + beta · C without packing, for tiny problems and M ≤ a few rows.
/// a: A[M×lda] (or [K×lda] if transA), b: B[K×ldb] (or [N×ldb] if transB), c: C[M×ldc].
/// scratch [k] floats (used when transA && transB to gather a row of op(A)).
void strata_sgemm_direct(strata_isa isa, int transA, int transB, int64_t m, int64_t n, int64_t k,
                         float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                         float beta, float *c, int64_t ldc, float *scratch);

#endif
