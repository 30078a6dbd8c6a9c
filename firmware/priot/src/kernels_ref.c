/* The plain reference kernels: the executable specification the optimised kernels of
 * kernels.c must match bit for bit (docs/SEMANTICS.md; numpy twin:
 * orchestration/priot/reference.py). Kept simple on purpose; do not optimise here.
 *
 * The 3x3 kernels are weight-stationary: for every tap (ky, kx) the rows and columns
 * where the shifted input is in range are computed once, and the inner loop runs over a
 * contiguous, branch-free span (the zero padding is never materialised). Zero taps
 * (pruned edges) are skipped, which is exact. */
#include <string.h>
#include "priot/kernels_ref.h"

/* Offsets (ky - 1, kx - 1) of the 9 taps in weight-layout order. */
static const int8_t tap_dy[9] = {-1, -1, -1, 0, 0, 0, 1, 1, 1};
static const int8_t tap_dx[9] = {-1, 0, 1, -1, 0, 1, -1, 0, 1};

/* Output rows/columns [lo, hi) for which row/column (out + d) of an n-long axis exists. */
static inline void tap_range(int32_t d, uint32_t n, uint32_t *lo, uint32_t *hi)
{
    *lo = d < 0 ? 1u : 0u;
    *hi = d > 0 ? n - 1u : n;
    if (*hi < *lo)
        *hi = *lo;
}

/* acc[yy][xx] += src[yy + dy][xx + dx] * wv over the in-range span (H x W planes). */
static PRIOT_HOT void tap_accumulate(priot_acc_t *acc, const int8_t *src, int32_t wv,
                                     int32_t dy, int32_t dx, uint32_t H, uint32_t W)
{
    uint32_t y0, y1, x0, x1, yy;
    tap_range(dy, H, &y0, &y1);
    tap_range(dx, W, &x0, &x1);
    if (x1 == x0)
        return;
    for (yy = y0; yy < y1; yy++) {
        priot_acc_t *a = acc + yy * W + x0;
        const int8_t *p = src + (int32_t)((yy * W + x0)) + dy * (int32_t)W + dx;
        uint32_t n = x1 - x0;
        while (n >= 4) {
            PRIOT_MAC(a[0], p[0], wv);
            PRIOT_MAC(a[1], p[1], wv);
            PRIOT_MAC(a[2], p[2], wv);
            PRIOT_MAC(a[3], p[3], wv);
            a += 4;
            p += 4;
            n -= 4;
        }
        while (n--) {
            PRIOT_MAC(*a, *p, wv);
            a++;
            p++;
        }
    }
}

PRIOT_HOT void priot_conv3x3_forward_ref(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                                     int8_t *y, priot_acc_t *acc)
{
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W;
    const uint32_t shift = L->out_shift;
    const int relu = (L->flags & PRIOT_FLAG_RELU) != 0;
    uint32_t o, i, p;
    int32_t dy, dx;
    for (o = 0; o < L->out.c; o++) {
        const priot_acc_t b = L->bias ? (priot_acc_t)L->bias[o] : 0u;
        for (p = 0; p < HW; p++)
            acc[p] = b;
        for (i = 0; i < C; i++) {
            const int8_t *wk = w + (o * C + i) * 9u;
            const int8_t *xi = x + i * HW;
            for (dy = -1; dy <= 1; dy++)
                for (dx = -1; dx <= 1; dx++) {
                    int32_t wv = *wk++;
                    if (wv)
                        tap_accumulate(acc, xi, wv, dy, dx, H, W);
                }
        }
        for (p = 0; p < HW; p++)
            *y++ = priot_requant(priot_acc_value(acc[p]), shift, relu);
    }
}

PRIOT_HOT void priot_fc_forward_ref(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                                int8_t *y)
{
    const uint32_t N = L->in.c, shift = L->out_shift;
    const int relu = (L->flags & PRIOT_FLAG_RELU) != 0;
    uint32_t o;
    for (o = 0; o < L->out.c; o++) {
        priot_acc_t acc = L->bias ? (priot_acc_t)L->bias[o] : 0u;
        const int8_t *xp = x;
        uint32_t n = N;
        while (n >= 4) {
            PRIOT_MAC(acc, xp[0], w[0]);
            PRIOT_MAC(acc, xp[1], w[1]);
            PRIOT_MAC(acc, xp[2], w[2]);
            PRIOT_MAC(acc, xp[3], w[3]);
            xp += 4;
            w += 4;
            n -= 4;
        }
        while (n--)
            PRIOT_MAC(acc, *xp++, *w++);
        y[o] = priot_requant(priot_acc_value(acc), shift, relu);
    }
}

PRIOT_HOT void priot_conv3x3_error_backward_ref(const priot_layer_t *L, const int8_t *e_out,
                                            const int8_t *w, int8_t *e_in, priot_acc_t *acc)
{
    const uint32_t C = L->in.c, OC = L->out.c, H = L->in.h, W = L->in.w, HW = H * W;
    const uint32_t shift = L->err_shift;
    uint32_t i, o, p;
    int32_t dy, dx;
    for (i = 0; i < C; i++) {
        memset(acc, 0, HW * sizeof(priot_acc_t));
        for (o = 0; o < OC; o++) {
            const int8_t *wk = w + (o * C + i) * 9u;
            const int8_t *eo = e_out + o * HW;
            /* acc[y][x] += e_out[o][y - dy][x - dx] * w: the forward tap mirrored */
            for (dy = -1; dy <= 1; dy++)
                for (dx = -1; dx <= 1; dx++) {
                    int32_t wv = *wk++;
                    if (wv)
                        tap_accumulate(acc, eo, wv, -dy, -dx, H, W);
                }
        }
        for (p = 0; p < HW; p++)
            *e_in++ = (int8_t)priot_sat8(priot_round_shift(priot_acc_value(acc[p]), shift));
    }
}

PRIOT_HOT void priot_fc_error_backward_ref(const priot_layer_t *L, const int8_t *e_out,
                                       const int8_t *w, int8_t *e_in, priot_acc_t *acc)
{
    const uint32_t N = L->in.c, shift = L->err_shift;
    uint32_t o, j;
    memset(acc, 0, N * sizeof(priot_acc_t));
    for (o = 0; o < L->out.c; o++, w += N) {
        const int32_t ev = e_out[o];
        priot_acc_t *a = acc;
        const int8_t *wp = w;
        uint32_t n = N;
        if (!ev)
            continue;
        while (n--) {
            PRIOT_MAC(*a, ev, *wp++);
            a++;
        }
    }
    for (j = 0; j < N; j++)
        e_in[j] = (int8_t)priot_sat8(priot_round_shift(priot_acc_value(acc[j]), shift));
}

PRIOT_HOT void priot_conv3x3_score_grad_ref(const priot_layer_t *L, const int8_t *e_out,
                                        const int8_t *x, uint32_t o_begin, uint32_t o_end,
                                        int16_t *gq)
{
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W;
    const uint32_t shift = L->grad_shift;
    uint32_t o, i, t;
    for (o = o_begin; o < o_end; o++) {
        const int8_t *eo = e_out + o * HW;
        for (i = 0; i < C; i++) {
            const int8_t *xi = x + i * HW;
            for (t = 0; t < 9; t++) {
                const int32_t dy = tap_dy[t], dx = tap_dx[t];
                uint32_t y0, y1, x0, x1, yy;
                priot_acc_t g = 0;
                tap_range(dy, H, &y0, &y1);
                tap_range(dx, W, &x0, &x1);
                for (yy = y0; yy < y1 && x1 > x0; yy++) {
                    const int8_t *ep = eo + yy * W + x0;
                    const int8_t *xp = xi + (int32_t)(yy * W + x0) + dy * (int32_t)W + dx;
                    uint32_t n = x1 - x0;
                    while (n--)
                        PRIOT_MAC(g, *ep++, *xp++);
                }
                *gq++ = (int16_t)priot_sat16(priot_round_shift(priot_acc_value(g), shift));
            }
        }
    }
}

PRIOT_HOT void priot_fc_score_grad_ref(const priot_layer_t *L, const int8_t *e_out,
                                   const int8_t *x, uint32_t o_begin, uint32_t o_end,
                                   int16_t *gq)
{
    const uint32_t N = L->in.c, shift = L->grad_shift;
    uint32_t o, j;
    for (o = o_begin; o < o_end; o++) {
        const int32_t ev = e_out[o];
        if (!ev) {
            memset(gq, 0, N * sizeof(int16_t));
            gq += N;
            continue;
        }
        for (j = 0; j < N; j++)
            *gq++ = (int16_t)priot_sat16(priot_round_shift(ev * x[j], shift));
    }
}

PRIOT_HOT void priot_score_update_ref(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                                  uint32_t lr_shift)
{
    while (n--) {
        int32_t step = priot_round_shift((int32_t)*gq++ * (int32_t)*w++, lr_shift);
        *s = (int16_t)priot_sat16((int32_t)*s - step);
        s++;
    }
}

PRIOT_HOT void priot_weight_update_ref(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift)
{
    while (n--) {
        int32_t v = (int32_t)*w - priot_round_shift((int32_t)*gq++, lr_shift);
        *w++ = (int8_t)priot_sat8(v);
    }
}

PRIOT_HOT void priot_weight_update_psto_ref(int8_t *w, const int16_t *gq, uint32_t n,
                                            uint32_t lr_shift)
{
    while (n--) {
        int32_t v = (int32_t)*w - priot_psto_shift((int32_t)*gq++, lr_shift);
        *w++ = (int8_t)priot_sat8(v);
    }
}

