// GEMM micro-kernels (filled in by the GEMM work).
#ifndef STRATA_GEMM_H
#define STRATA_GEMM_H
#endif
