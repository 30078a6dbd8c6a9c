/* NITI-style dynamic-scale kernels (niti.h), optimised for the Cortex-M0+ with the
 * techniques of kernels.c (docs/performance.md). Semantics: docs/SEMANTICS.md "NITI: dynamic
 * scales"; plain C twins with the `_ref` suffix in niti_ref.c (bit-exact: int32 sums modulo
 * 2^32, only reordered; tests/test_niti_fast.py).
 *
 * Built with -DPRIOT_REFERENCE_KERNELS=1 (make REF=1), the public names call the reference
 * kernels instead: the "before" image of `invoke bench`. */
#include <string.h>
#include "priot/niti.h"
#include "priot/niti_ref.h"

#if defined(PRIOT_REFERENCE_KERNELS) && PRIOT_REFERENCE_KERNELS

void priot_conv3x3_acc32(const priot_layer_t *L, const int8_t *x, const int8_t *w, int32_t d,
                         priot_acc_t *acc, priot_acc_t *pair)
{
    priot_conv3x3_acc32_ref(L, x, w, d, acc, pair);
}

void priot_fc_acc32(const priot_layer_t *L, const int8_t *x, const int8_t *w, int32_t d,
                    priot_acc_t *acc)
{
    priot_fc_acc32_ref(L, x, w, d, acc);
}

void priot_conv3x3_error_acc32(const priot_layer_t *L, const int8_t *e_out, const int8_t *w,
                               priot_acc_t *acc)
{
    priot_conv3x3_error_acc32_ref(L, e_out, w, acc);
}

void priot_fc_error_acc32(const priot_layer_t *L, const int8_t *e_out, const int8_t *w,
                          priot_acc_t *acc)
{
    priot_fc_error_acc32_ref(L, e_out, w, acc);
}

void priot_conv3x3_grad32(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                          uint32_t o, priot_acc_t *g)
{
    priot_conv3x3_grad32_ref(L, e_out, x, o, g);
}

void priot_fc_grad32(const priot_layer_t *L, const int8_t *e_out, const int8_t *x, uint32_t o,
                     priot_acc_t *g)
{
    priot_fc_grad32_ref(L, e_out, x, o, g);
}

uint32_t priot_max_abs32(const priot_acc_t *a, uint32_t n)
{
    return priot_max_abs32_ref(a, n);
}

void priot_requant32(const priot_acc_t *a, uint32_t n, uint32_t shift, int relu, int8_t *y)
{
    priot_requant32_ref(a, n, shift, relu, y);
}

void priot_weight_update32(int8_t *w, const priot_acc_t *g, uint32_t n, uint32_t shift)
{
    priot_weight_update32_ref(w, g, n, shift);
}

void priot_weight_update32_psto(int8_t *w, const priot_acc_t *g, uint32_t n, uint32_t shift)
{
    priot_weight_update32_psto_ref(w, g, n, shift);
}

#else /* the optimised kernels */

/* plane9_add (one pass per kernel row, inputs rolling through registers), requant_plane,
 * load_taps: shared with kernels.c. */
#include "kernels_opt.h"

/* As priot_conv3x3_forward without the requantisation: all out.c planes stay int32.
 * Output channels in pairs, computed interleaved in `pair` (3 planes: the pair and the
 * packed plane of kernels_opt.h's deferred split) and copied out. */
PRIOT_HOT void priot_conv3x3_acc32(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                                   int32_t d, priot_acc_t *acc, priot_acc_t *pair)
{
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W, OC = L->out.c;
    uint32_t o, i, p;
    int32_t k[9];
    const uint32_t nonneg = OC > 1u ? planes_nonneg(x, C * HW) : 0u;
    memset(pair + 2u * HW, 0, HW * sizeof(priot_acc_t));   /* conv_pair_add's packed plane */
    for (o = 0; o + 1u < OC; o += 2u, w += 18u * C, acc += 2u * HW) {
        const priot_acc_t b0 = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o], d) : 0u;
        const priot_acc_t b1 =
            L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o + 1u], d) : 0u;
        for (p = 0; p < HW; p++) {
            pair[2u * p] = b0;
            pair[2u * p + 1u] = b1;
        }
        conv_pair_add(pair, pair + 2u * HW, x, w, w + 9u * C, C, H, W, nonneg);
        for (p = 0; p < HW; p++) {
            acc[p] = pair[2u * p];
            acc[HW + p] = pair[2u * p + 1u];
        }
    }
    for (; o < OC; o++, acc += HW) {   /* the last channel of an odd count */
        const priot_acc_t b = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o], d) : 0u;
        for (p = 0; p < HW; p++)
            acc[p] = b;
        for (i = 0; i < C; i++, w += 9)
            if (load_taps(k, w, 0))
                plane9_add(acc, x + i * HW, k, H, W);
    }
}

/* Four output rows per pass (kernels_opt.h fc_dot4), then two, then one. */
PRIOT_HOT void priot_fc_acc32(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                              int32_t d, priot_acc_t *acc)
{
    const uint32_t N = L->in.c, OC = L->out.c;
    uint32_t o, j, r;
    for (o = 0; o + 3u < OC && N; o += 4, w += 4u * N) {   /* four rows per pass */
        for (r = 0; r < 4u; r++)
            acc[o + r] = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o + r], d) : 0u;
        fc_dot4(x, w, N, acc + o);
    }
    for (; o + 1u < OC; o += 2, w += 2u * N) {
        priot_acc_t a0 = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o], d) : 0u;
        priot_acc_t a1 = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o + 1u], d) : 0u;
        const int8_t *w1 = w + N;
        for (j = 0; j < N; j++) {
            const int32_t xv = x[j];
            a0 += (uint32_t)(xv * w[j]);
            a1 += (uint32_t)(xv * w1[j]);
        }
        acc[o] = a0;
        acc[o + 1u] = a1;
    }
    if (o < OC) {
        priot_acc_t a0 = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o], d) : 0u;
        for (j = 0; j < N; j++)
            a0 += (uint32_t)(x[j] * w[j]);
        acc[o] = a0;
    }
}

/* Error accumulators, as priot_conv3x3_error_backward without the requantisation (all
 * in.c planes stay int32): kernels_opt.h's sparse scatter / dense gather per plane. */
PRIOT_HOT void priot_conv3x3_error_acc32(const priot_layer_t *L, const int8_t *e_out,
                                         const int8_t *w, priot_acc_t *acc)
{
    const uint32_t C = L->in.c, HW = (uint32_t)L->in.h * L->in.w;
    uint32_t i;
    eb_list_t list;
    memset(acc, 0, C * HW * sizeof(priot_acc_t));
    eb_list_build(&list, L, e_out);
    for (i = 0; i < C; i++)
        eb_plane_add(&list, L, e_out, w, i, acc + i * HW);
}

PRIOT_HOT void priot_fc_error_acc32(const priot_layer_t *L, const int8_t *e_out,
                                    const int8_t *w, priot_acc_t *acc)
{
    fc_error_accumulate(L, e_out, w, acc);
}

/* Weight gradient of output channel o, as priot_conv3x3_score_grad without the shift
 * (kernels_opt.h: sg_list_build, sg_tap_sums; dense channels take the reference sweep). */
PRIOT_HOT void priot_conv3x3_grad32(const priot_layer_t *L, const int8_t *e_out,
                                    const int8_t *x, uint32_t o, priot_acc_t *g)
{
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W;
    sg_list_t list;
    uint32_t i;
    tap_offsets(list.off, W);
    if (HW > 65535u || !sg_list_build(&list, e_out + o * HW, H, W)) {
        priot_conv3x3_grad32_ref(L, e_out, x, o, g);
        return;
    }
    for (i = 0; i < C; i++, g += 9)
        sg_tap_sums(&list, x + i * HW, g);
}

PRIOT_HOT void priot_fc_grad32(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                               uint32_t o, priot_acc_t *g)
{
    const int32_t ev = e_out[o];
    const uint32_t N = L->in.c;
    uint32_t j;
    if (!ev) {
        memset(g, 0, N * sizeof(priot_acc_t));
        return;
    }
    for (j = 0; j + 4u <= N; j += 4) {
        g[j] = (priot_acc_t)(ev * x[j]);
        g[j + 1u] = (priot_acc_t)(ev * x[j + 1u]);
        g[j + 2u] = (priot_acc_t)(ev * x[j + 2u]);
        g[j + 3u] = (priot_acc_t)(ev * x[j + 3u]);
    }
    for (; j < N; j++)
        g[j] = (priot_acc_t)(ev * x[j]);
}

/* max |a| = max(max a, -min a): two compares per element whose branches are rarely taken,
 * instead of computing every magnitude; unrolled by four. */
PRIOT_HOT uint32_t priot_max_abs32(const priot_acc_t *a, uint32_t n)
{
    int32_t hi = 0, lo = 0;
    const priot_acc_t *end = a + (n & ~3u);
    uint32_t neg;
    while (a != end) {
        const int32_t v0 = (int32_t)a[0], v1 = (int32_t)a[1];
        const int32_t v2 = (int32_t)a[2], v3 = (int32_t)a[3];
        a += 4;
        if (v0 > hi) hi = v0;
        if (v0 < lo) lo = v0;
        if (v1 > hi) hi = v1;
        if (v1 < lo) lo = v1;
        if (v2 > hi) hi = v2;
        if (v2 < lo) lo = v2;
        if (v3 > hi) hi = v3;
        if (v3 < lo) lo = v3;
    }
    for (n &= 3u; n; n--) {
        const int32_t v = (int32_t)*a++;
        if (v > hi) hi = v;
        if (v < lo) lo = v;
    }
    neg = 0u - (uint32_t)lo; /* |INT32_MIN| = 2^31 */
    return neg > (uint32_t)hi ? neg : (uint32_t)hi;
}

PRIOT_HOT void priot_requant32(const priot_acc_t *a, uint32_t n, uint32_t shift, int relu,
                               int8_t *y)
{
    requant_plane(a, y, n, shift, relu);
}

/* w = sat8(w - round_shift(g, shift)): the s == 0 branch hoisted out of the loop, the
 * saturation by one unsigned compare. */
PRIOT_HOT void priot_weight_update32(int8_t *w, const priot_acc_t *g, uint32_t n,
                                     uint32_t shift)
{
    const uint32_t s1 = shift ? shift - 1u : 0u;
    const int32_t bit = shift ? 1 : 0; /* shift 0: r = (v >> 0) + 0 */
    while (n--) {
        const int32_t v = (int32_t)*g++;
        const int32_t r = (v >> shift) + ((v >> s1) & bit);
        int32_t u = (int32_t)((uint32_t)(int32_t)*w - (uint32_t)r);
        if ((uint32_t)u + 128u > 255u)
            u = u < 0 ? -128 : 127;
        *w++ = (int8_t)u;
    }
}

/* w = sat8(w - psto_shift(g, shift)): psto_shift's masks are loop-invariant (hoisted by
 * the compiler), the saturation as above. */
PRIOT_HOT void priot_weight_update32_psto(int8_t *w, const priot_acc_t *g, uint32_t n,
                                          uint32_t shift)
{
    while (n--) {
        const int32_t r = priot_psto_shift((int32_t)*g++, shift);
        int32_t u = (int32_t)((uint32_t)(int32_t)*w - (uint32_t)r);
        if ((uint32_t)u + 128u > 255u)
            u = u < 0 ? -128 : 127;
        *w++ = (int8_t)u;
    }
}

#endif
