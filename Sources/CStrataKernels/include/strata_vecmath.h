// Vectorized math kernels (exp, norms, softmax, ...).
#ifndef STRATA_VECMATH_H
#define STRATA_VECMATH_H
#endif
