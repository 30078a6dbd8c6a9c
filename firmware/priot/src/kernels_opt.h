/* Private to src/: the building blocks of the optimised 3x3 kernels, shared by kernels.c
 * (PRIOT / static SGD) and niti.c (NITI baseline). docs/performance.md describes them. */
#ifndef PRIOT_SRC_KERNELS_OPT_H
#define PRIOT_SRC_KERNELS_OPT_H
#include <stdint.h>
#include "priot/arith.h"

/* ------------------------------------------------------------------ 3x3 planes
 * plane9_add: acc[y][x] += sum_t src[y + dy_t][x + dx_t] * k[t] over one H x W plane
 * (zero padding), the core of the conv forward (k = w[o][i]) and of the transposed conv
 * of the error backward (k = w[o][i] reversed). One pass per kernel row (skipped when its
 * three weights are pruned): the three weights stay in registers, the inputs roll through
 * registers (one load per output), only the first and last columns need shorter sums. */

/* a[x] += r[x - 1] k0 + r[x] k1 + r[x + 1] k2 for x in [0, W) (r[-1] = r[W] = 0): one
 * kernel row. The three inputs roll through registers (one new load per output), the
 * loop is unrolled by three so that the roll needs no register moves. */
static inline __attribute__((always_inline)) void row3_add(priot_acc_t *a, const int8_t *r,
                                                           int32_t k0, int32_t k1, int32_t k2,
                                                           uint32_t W)
{
    int32_t p, c, n;
    priot_acc_t *end;
    if (W == 1u) {
        a[0] += (uint32_t)(r[0] * k1);
        return;
    }
    c = r[0];
    n = r[1];
    a[0] += (uint32_t)(c * k1 + n * k2);
    a++;
    r += 2;
    end = a + (W - 2u);
    while (end - a >= 3) {
        p = r[0];
        a[0] += (uint32_t)(c * k0 + n * k1 + p * k2);
        c = r[1];
        a[1] += (uint32_t)(n * k0 + p * k1 + c * k2);
        n = r[2];
        a[2] += (uint32_t)(p * k0 + c * k1 + n * k2);
        a += 3;
        r += 3;
    }
    while (a != end) {
        p = *r++;
        *a++ += (uint32_t)(c * k0 + n * k1 + p * k2);
        c = n;
        n = p;
    }
    a[0] += (uint32_t)(c * k0 + n * k1);
}

#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
/* plane3_add_m0.S: row3_add over `rows` consecutive rows (a and r advance by W per row),
 * all state in registers, 15 cycles per interior output. rows >= 1, W >= 2. */
void priot_plane3_rows_m0(priot_acc_t *a, const int8_t *r, const int32_t *k, uint32_t rows,
                          uint32_t W);
#endif

/* One kernel row (ky) over the whole plane: acc row y += source row y + ky - 1. */
static PRIOT_HOT void plane3_add(priot_acc_t *acc, const int8_t *src, const int32_t *k,
                                 int32_t dy, uint32_t H, uint32_t W)
{
    const int32_t k0 = k[0], k1 = k[1], k2 = k[2];
    uint32_t y = dy < 0 ? 1u : 0u;
    const uint32_t y1 = dy > 0 ? H - 1u : H;
#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
    if (W >= 2u) {
        if (y < y1)
            priot_plane3_rows_m0(acc + y * W, src + (int32_t)(y * W) + dy * (int32_t)W, k,
                                 y1 - y, W);
        return;
    }
#endif
    for (; y < y1; y++)
        row3_add(acc + y * W, src + (int32_t)(y * W) + dy * (int32_t)W, k0, k1, k2, W);
}

static void plane9_add(priot_acc_t *acc, const int8_t *src, const int32_t *k, uint32_t H,
                       uint32_t W)
{
    int32_t dy;
    for (dy = -1; dy <= 1; dy++, k += 3)
        if (k[0] | k[1] | k[2])
            plane3_add(acc, src, k, dy, H, W);
}

/* y[p] = requant(acc[p]) for n accumulators: round_shift without the s == 0 branch per
 * element, saturation by one unsigned compare (docs/SEMANTICS.md "Layers", "Backward"). */
static PRIOT_HOT void requant_plane(const priot_acc_t *acc, int8_t *y, uint32_t n,
                                    uint32_t shift, int relu)
{
    const int32_t lo = relu ? 0 : -128;
    const uint32_t s1 = shift ? shift - 1u : 0u;
    const int32_t bit = shift ? 1 : 0; /* shift 0: r = (v >> 0) + 0 */
    while (n--) {
        const int32_t v = (int32_t)*acc++;
        int32_t r = (v >> shift) + ((v >> s1) & bit);
        if ((uint32_t)(r + 128) > 255u)
            r = r < 0 ? -128 : 127;
        if (r < lo)
            r = lo;
        *y++ = (int8_t)r;
    }
}

/* k[t] = w[t] (forward) or w[8 - t] (transposed); returns 0 if all nine are zero. */
static inline uint32_t load_taps(int32_t *k, const int8_t *w, int reversed)
{
    uint32_t t, any = 0;
    for (t = 0; t < 9u; t++) {
        k[t] = reversed ? w[8u - t] : w[t];
        any |= (uint32_t)k[t];
    }
    return any;
}

#endif
