// Fused attention kernels (tiled, online softmax).
#ifndef STRATA_ATTENTION_H
#define STRATA_ATTENTION_H
#endif
