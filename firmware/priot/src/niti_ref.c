/* The plain NITI kernels (niti_ref.h): the specification in C of the optimised kernels of
 * niti.c with the same name minus the `_ref` suffix (bit-exact, tests/test_niti_fast.py).
 * Semantics: docs/SEMANTICS.md "NITI: dynamic scales". The 3x3 loops are weight-stationary:
 * every tap runs over the contiguous span where the shifted input exists, zero taps
 * skipped. */
#include <string.h>
#include "priot/niti_ref.h"
#include "priot/niti_scale.h"

/* Output rows/columns [lo, hi) for which row/column (out + d) of an n-long axis exists. */
static void span(int32_t d, uint32_t n, uint32_t *lo, uint32_t *hi)
{
    *lo = d < 0 ? 1u : 0u;
    *hi = d > 0 ? n - 1u : n;
    if (*hi < *lo)
        *hi = *lo;
}

/* acc[yy][xx] += src[yy + dy][xx + dx] * wv over the in-range span of an H x W plane. */
static PRIOT_HOT void tap_mac(priot_acc_t *acc, const int8_t *src, int32_t wv, int32_t dy,
                              int32_t dx, uint32_t H, uint32_t W)
{
    uint32_t y0, y1, x0, x1, yy, n;
    span(dy, H, &y0, &y1);
    span(dx, W, &x0, &x1);
    for (yy = y0; yy < y1 && x1 > x0; yy++) {
        priot_acc_t *a = acc + yy * W + x0;
        const int8_t *p = src + (int32_t)(yy * W + x0) + dy * (int32_t)W + dx;
        for (n = x1 - x0; n; n--)
            PRIOT_MAC(*a++, *p++, wv);
    }
}

PRIOT_HOT void priot_conv3x3_acc32_ref(const priot_layer_t *L, const int8_t *x,
                                       const int8_t *w, int32_t d, priot_acc_t *acc,
                                       priot_acc_t *pair)
{
    (void)pair;   /* the optimised kernel's scratch */
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W;
    uint32_t o, i, p;
    int32_t dy, dx;
    for (o = 0; o < L->out.c; o++, acc += HW) {
        const priot_acc_t b = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o], d) : 0u;
        for (p = 0; p < HW; p++)
            acc[p] = b;
        for (i = 0; i < C; i++) {
            const int8_t *wk = w + (o * C + i) * 9u;
            for (dy = -1; dy <= 1; dy++)
                for (dx = -1; dx <= 1; dx++, wk++)
                    if (*wk)
                        tap_mac(acc, x + i * HW, *wk, dy, dx, H, W);
        }
    }
}

PRIOT_HOT void priot_fc_acc32_ref(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                                  int32_t d, priot_acc_t *acc)
{
    const uint32_t N = L->in.c;
    uint32_t o, j;
    for (o = 0; o < L->out.c; o++, w += N) {
        priot_acc_t a = L->bias ? (priot_acc_t)priot_bias_rescale(L->bias[o], d) : 0u;
        for (j = 0; j < N; j++)
            PRIOT_MAC(a, x[j], w[j]);
        acc[o] = a;
    }
}

PRIOT_HOT void priot_conv3x3_error_acc32_ref(const priot_layer_t *L, const int8_t *e_out,
                                             const int8_t *w, priot_acc_t *acc)
{
    const uint32_t C = L->in.c, OC = L->out.c, H = L->in.h, W = L->in.w, HW = H * W;
    uint32_t i, o;
    int32_t dy, dx;
    memset(acc, 0, C * HW * sizeof(priot_acc_t));
    for (i = 0; i < C; i++)
        for (o = 0; o < OC; o++) {
            const int8_t *wk = w + (o * C + i) * 9u;
            for (dy = -1; dy <= 1; dy++)
                for (dx = -1; dx <= 1; dx++, wk++)
                    if (*wk)   /* the forward tap mirrored */
                        tap_mac(acc + i * HW, e_out + o * HW, *wk, -dy, -dx, H, W);
        }
}

PRIOT_HOT void priot_fc_error_acc32_ref(const priot_layer_t *L, const int8_t *e_out,
                                        const int8_t *w, priot_acc_t *acc)
{
    const uint32_t N = L->in.c;
    uint32_t o, j;
    memset(acc, 0, N * sizeof(priot_acc_t));
    for (o = 0; o < L->out.c; o++, w += N) {
        const int32_t ev = e_out[o];
        if (ev)
            for (j = 0; j < N; j++)
                PRIOT_MAC(acc[j], ev, w[j]);
    }
}

PRIOT_HOT void priot_conv3x3_grad32_ref(const priot_layer_t *L, const int8_t *e_out,
                                        const int8_t *x, uint32_t o, priot_acc_t *g)
{
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W;
    const int8_t *eo = e_out + o * HW;
    uint32_t i, yy, n, y0, y1, x0, x1;
    int32_t dy, dx;
    for (i = 0; i < C; i++)
        for (dy = -1; dy <= 1; dy++)
            for (dx = -1; dx <= 1; dx++) {
                priot_acc_t a = 0;
                span(dy, H, &y0, &y1);
                span(dx, W, &x0, &x1);
                for (yy = y0; yy < y1 && x1 > x0; yy++) {
                    const int8_t *ep = eo + yy * W + x0;
                    const int8_t *xp = x + i * HW + (int32_t)(yy * W + x0) + dy * (int32_t)W + dx;
                    for (n = x1 - x0; n; n--)
                        PRIOT_MAC(a, *ep++, *xp++);
                }
                *g++ = a;
            }
}

PRIOT_HOT void priot_fc_grad32_ref(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                                   uint32_t o, priot_acc_t *g)
{
    const int32_t ev = e_out[o];
    uint32_t j;
    for (j = 0; j < L->in.c; j++)
        g[j] = (priot_acc_t)(ev * x[j]);
}

PRIOT_HOT uint32_t priot_max_abs32_ref(const priot_acc_t *a, uint32_t n)
{
    uint32_t m = 0;
    while (n--) {
        const int32_t v = priot_acc_value(*a++);
        const uint32_t mag = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
        if (mag > m)
            m = mag;
    }
    return m;
}

PRIOT_HOT void priot_requant32_ref(const priot_acc_t *a, uint32_t n, uint32_t shift, int relu,
                                   int8_t *y)
{
    while (n--)
        *y++ = priot_requant(priot_acc_value(*a++), shift, relu);
}

PRIOT_HOT void priot_weight_update32_ref(int8_t *w, const priot_acc_t *g, uint32_t n,
                                         uint32_t shift)
{
    while (n--) {
        const int32_t v = (int32_t)*w - priot_round_shift(priot_acc_value(*g++), shift);
        *w++ = (int8_t)priot_sat8(v);
    }
}

PRIOT_HOT void priot_weight_update32_psto_ref(int8_t *w, const priot_acc_t *g, uint32_t n,
                                              uint32_t shift)
{
    while (n--) {
        const int32_t v = (int32_t)*w - priot_psto_shift(priot_acc_value(*g++), shift);
        *w++ = (int8_t)priot_sat8(v);
    }
}
