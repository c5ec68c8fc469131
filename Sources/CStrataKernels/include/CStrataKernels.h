// Umbrella header of the C kernel target. Each family keeps its own header.
#ifndef CSTRATA_KERNELS_H
#define CSTRATA_KERNELS_H
#include "strata_cpu.h"
#include "strata_gemm.h"
#include "strata_vecmath.h"
#include "strata_attention.h"
#endif
