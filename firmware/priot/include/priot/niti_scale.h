/* The scale arithmetic of the NITI baseline (docs/SEMANTICS.md "NITI: dynamic scales"),
 * shared by its optimised kernels (niti.c), their plain twins (niti_ref.c) and the
 * engine. Header-only, static inline, like arith.h. numpy twins in
 * orchestration/priot/reference.py: bias_rescale, dyn_shift. */
#ifndef PRIOT_NITI_SCALE_H
#define PRIOT_NITI_SCALE_H
#include <stdint.h>
#include "priot/arith.h"

/* The bias of an input whose exponent is d above its static exponent:
 * round_shift(b, d) for d > 0, sat32(b * 2^-d) for d < 0. */
static inline int32_t priot_bias_rescale(int32_t b, int32_t d)
{
    if (d > 0)
        return priot_round_shift(b, d > 31 ? 31u : (uint32_t)d);
    for (; d < 0 && b != 0; d++) {
        if (b > 0x3FFFFFFF)
            return 0x7FFFFFFF;
        if (b < -0x40000000)
            return -0x7FFFFFFF - 1;
        b *= 2;
    }
    return b;
}

/* The shift that brings a tensor of range max_abs into `bits` magnitude bits:
 * max(0, bitlength(max_abs) - bits). */
static inline uint32_t priot_dyn_shift(uint32_t max_abs, uint32_t bits)
{
    uint32_t len = 0;
    while (max_abs) {
        len++;
        max_abs >>= 1;
    }
    return len > bits ? len - bits : 0u;
}

#endif
