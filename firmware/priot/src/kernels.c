/* Layer kernels (kernels.h), optimised for the Cortex-M0+ (docs/performance.md).
 * Specification: docs/SEMANTICS.md; plain C twins with the `_ref` suffix in kernels_ref.c
 * (bit-exact, checked by tests/test_kernels_fast.py and the bench firmware); numpy twin:
 * orchestration/priot/reference.py.
 *
 * Built with -DPRIOT_REFERENCE_KERNELS=1 (make REF=1), the public names call the
 * reference kernels instead: the "before" image of `invoke bench`. */
#include <string.h>
#include "priot/kernels.h"
#include "priot/kernels_ref.h"

void priot_input_q7(const uint8_t *pixels, int8_t *x, uint32_t n)
{
    while (n--)
        *x++ = (int8_t)(*pixels++ >> 1);
}

/* Index 0..3 of the first maximum of the window whose top-left element is p. */
static inline uint32_t window_argmax(const int8_t *p, uint32_t W)
{
    uint32_t best = 0;
    int32_t m = p[0];
    if (p[1] > m) { m = p[1]; best = 1; }
    if (p[W] > m) { m = p[W]; best = 2; }
    if (p[W + 1] > m) { best = 3; }
    return best;
}

PRIOT_HOT void priot_maxpool2x2_forward(const int8_t *y, priot_tensor_shape_t s, int8_t *out)
{
    const uint32_t H = s.h, W = s.w, H2 = H / 2u, W2 = W / 2u;
    uint32_t c, yy, xx;
    for (c = 0; c < s.c; c++) {
        const int8_t *plane = y + c * H * W;
        for (yy = 0; yy < H2; yy++) {
            const int8_t *row = plane + 2u * yy * W;
            for (xx = 0; xx < W2; xx++) {
                const int8_t *p = row + 2u * xx;
                int8_t m = p[0];
                if (p[1] > m) m = p[1];
                if (p[W] > m) m = p[W];
                if (p[W + 1] > m) m = p[W + 1];
                *out++ = m;
            }
        }
    }
}

PRIOT_HOT void priot_maxpool2x2_backward(const int8_t *e_pooled, const int8_t *y,
                                         priot_tensor_shape_t s, int8_t *e_y)
{
    const uint32_t H = s.h, W = s.w, H2 = H / 2u, W2 = W / 2u;
    uint32_t c, yy, xx;
    memset(e_y, 0, (uint32_t)s.c * H * W);
    for (c = 0; c < s.c; c++) {
        const uint32_t base = c * H * W;
        for (yy = 0; yy < H2; yy++) {
            for (xx = 0; xx < W2; xx++) {
                const uint32_t off = base + 2u * yy * W + 2u * xx;
                const uint32_t k = window_argmax(y + off, W);
                e_y[off + (k >> 1) * W + (k & 1u)] = *e_pooled++;
            }
        }
    }
}

PRIOT_HOT void priot_relu_backward(int8_t *e, const int8_t *y, uint32_t n)
{
    while (n--) {
        if (*y++ <= 0)
            *e = 0;
        e++;
    }
}


#if defined(PRIOT_REFERENCE_KERNELS) && PRIOT_REFERENCE_KERNELS

void priot_conv3x3_forward(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                           int8_t *y, priot_acc_t *acc)
{
    priot_conv3x3_forward_ref(L, x, w, y, acc);
}

void priot_fc_forward(const priot_layer_t *L, const int8_t *x, const int8_t *w, int8_t *y)
{
    priot_fc_forward_ref(L, x, w, y);
}

void priot_conv3x3_error_backward(const priot_layer_t *L, const int8_t *e_out,
                                  const int8_t *w, int8_t *e_in, priot_acc_t *acc)
{
    priot_conv3x3_error_backward_ref(L, e_out, w, e_in, acc);
}

void priot_fc_error_backward(const priot_layer_t *L, const int8_t *e_out, const int8_t *w,
                             int8_t *e_in, priot_acc_t *acc)
{
    priot_fc_error_backward_ref(L, e_out, w, e_in, acc);
}

void priot_conv3x3_score_grad(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                              uint32_t o_begin, uint32_t o_end, int16_t *gq)
{
    priot_conv3x3_score_grad_ref(L, e_out, x, o_begin, o_end, gq);
}

void priot_fc_score_grad(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                         uint32_t o_begin, uint32_t o_end, int16_t *gq)
{
    priot_fc_score_grad_ref(L, e_out, x, o_begin, o_end, gq);
}

void priot_score_update(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                        uint32_t lr_shift)
{
    priot_score_update_ref(s, w, gq, n, lr_shift);
}

void priot_weight_update(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift)
{
    priot_weight_update_ref(w, gq, n, lr_shift);
}

void priot_weight_update_psto(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift)
{
    priot_weight_update_psto_ref(w, gq, n, lr_shift);
}

#else /* the optimised kernels */

/* plane9_add (one pass per kernel row, inputs rolling through registers), requant_plane,
 * load_taps: shared with niti.c. */
#include "kernels_opt.h"

PRIOT_HOT void priot_conv3x3_forward(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                                     int8_t *y, priot_acc_t *acc)
{
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W;
    const uint32_t shift = L->out_shift;
    const int relu = (L->flags & PRIOT_FLAG_RELU) != 0;
    const uint32_t OC = L->out.c;
    priot_acc_t *const q = acc + 2u * HW;   /* the packed plane of the deferred split */
    uint32_t o, i, p;
    int32_t k[9];
    /* output channels in pairs (kernels_opt.h "output-channel pairs", "deferred split"),
     * acc interleaved */
    const uint32_t nonneg = OC > 1u ? planes_nonneg(x, C * HW) : 0u;
    memset(q, 0, HW * sizeof(priot_acc_t));
    for (o = 0; o + 1u < OC; o += 2u, w += 18u * C, y += 2u * HW) {
        const priot_acc_t b0 = L->bias ? (priot_acc_t)L->bias[o] : 0u;
        const priot_acc_t b1 = L->bias ? (priot_acc_t)L->bias[o + 1u] : 0u;
        for (p = 0; p < HW; p++) {
            acc[2u * p] = b0;
            acc[2u * p + 1u] = b1;
        }
        conv_pair_add(acc, q, x, w, w + 9u * C, C, H, W, nonneg);
        requant_pair(acc, y, HW, shift, relu);
    }
    if (o < OC) {   /* the last channel of an odd count */
        const priot_acc_t b = L->bias ? (priot_acc_t)L->bias[o] : 0u;
        for (p = 0; p < HW; p++)
            acc[p] = b;
        for (i = 0; i < C; i++, w += 9)
            if (load_taps(k, w, 0))
                plane9_add(acc, x + i * HW, k, H, W);
        requant_plane(acc, y, HW, shift, relu);
    }
}

/* Error backward: the sparse scatter from the list of non-zero errors (pooled layers),
 * or the gather form for dense errors (kernels_opt.h: eb_list_build, eb_plane_add). */
PRIOT_HOT void priot_conv3x3_error_backward(const priot_layer_t *L, const int8_t *e_out,
                                            const int8_t *w, int8_t *e_in, priot_acc_t *acc)
{
    const uint32_t C = L->in.c, HW = (uint32_t)L->in.h * L->in.w;
    uint32_t i;
    eb_list_t list;
    eb_list_build(&list, L, e_out);
    for (i = 0; i < C; i++, e_in += HW) {
        memset(acc, 0, HW * sizeof(priot_acc_t));
        eb_plane_add(&list, L, e_out, w, i, acc);
        requant_plane(acc, e_in, HW, L->err_shift, 0);
    }
}

/* ------------------------------------------------------------------ fc */

/* Four output rows per pass (kernels_opt.h fc_dot4: one input load feeds four MACs, zero
 * inputs skipped), then two, then one. */
PRIOT_HOT void priot_fc_forward(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                                int8_t *y)
{
    const uint32_t N = L->in.c, OC = L->out.c, shift = L->out_shift;
    const int relu = (L->flags & PRIOT_FLAG_RELU) != 0;
    uint32_t o, j, r;
    for (o = 0; o + 3u < OC && N; o += 4, w += 4u * N) {   /* four rows per pass */
        priot_acc_t a[4];
        for (r = 0; r < 4u; r++)
            a[r] = L->bias ? (priot_acc_t)L->bias[o + r] : 0u;
        fc_dot4(x, w, N, a);
        for (r = 0; r < 4u; r++)
            y[o + r] = priot_requant(priot_acc_value(a[r]), shift, relu);
    }
    for (; o + 1u < OC; o += 2, w += 2u * N) {
        priot_acc_t a0 = L->bias ? (priot_acc_t)L->bias[o] : 0u;
        priot_acc_t a1 = L->bias ? (priot_acc_t)L->bias[o + 1u] : 0u;
        const int8_t *w1 = w + N;
        for (j = 0; j < N; j++) {
            const int32_t xv = x[j];
            a0 += (uint32_t)(xv * w[j]);
            a1 += (uint32_t)(xv * w1[j]);
        }
        y[o] = priot_requant(priot_acc_value(a0), shift, relu);
        y[o + 1u] = priot_requant(priot_acc_value(a1), shift, relu);
    }
    if (o < OC) {
        priot_acc_t a0 = L->bias ? (priot_acc_t)L->bias[o] : 0u;
        for (j = 0; j < N; j++)
            a0 += (uint32_t)(x[j] * w[j]);
        y[o] = priot_requant(priot_acc_value(a0), shift, relu);
    }
}

/* kernels_opt.h: fc_error_accumulate (two rows per pass), then the requantisation. */
PRIOT_HOT void priot_fc_error_backward(const priot_layer_t *L, const int8_t *e_out,
                                       const int8_t *w, int8_t *e_in, priot_acc_t *acc)
{
    const uint32_t N = L->in.c, shift = L->err_shift;
    uint32_t j;
    fc_error_accumulate(L, e_out, w, acc);
    for (j = 0; j < N; j++)
        e_in[j] = (int8_t)priot_sat8(priot_round_shift(priot_acc_value(acc[j]), shift));
}

/* ------------------------------------------------------------------ score gradients
 * Conv: the non-zero errors of channel o are listed once (kernels_opt.h: sg_list_build)
 * and every (input channel, tap) sum runs over the list only (sg_tap_sums). A channel
 * whose list overflows or whose errors are dense uses the reference kernel. */
static inline int16_t grad_q(priot_acc_t g, uint32_t shift)
{
    return (int16_t)priot_sat16(priot_round_shift(priot_acc_value(g), shift));
}

PRIOT_HOT void priot_conv3x3_score_grad(const priot_layer_t *L, const int8_t *e_out,
                                        const int8_t *x, uint32_t o_begin, uint32_t o_end,
                                        int16_t *gq)
{
    const uint32_t C = L->in.c, H = L->in.h, W = L->in.w, HW = H * W;
    const uint32_t shift = L->grad_shift;
    sg_list_t list;
    uint32_t o, i, t;
    if (HW > 65535u) {
        priot_conv3x3_score_grad_ref(L, e_out, x, o_begin, o_end, gq);
        return;
    }
    tap_offsets(list.off, W);
    for (o = o_begin; o < o_end; o++) {
        if (!sg_list_build(&list, e_out + o * HW, H, W)) {
            priot_conv3x3_score_grad_ref(L, e_out, x, o, o + 1u, gq);
            gq += C * 9u;
            continue;
        }
        for (i = 0; i < C; i++) {
            priot_acc_t g[9];
            sg_tap_sums(&list, x + i * HW, g);
            for (t = 0; t < 9u; t++)
                *gq++ = grad_q(g[t], shift);
        }
    }
}

PRIOT_HOT void priot_fc_score_grad(const priot_layer_t *L, const int8_t *e_out,
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
        if (shift == 0) { /* |ev * x| <= 2^14: no rounding, no saturation */
            for (j = 0; j < N; j++)
                gq[j] = (int16_t)(ev * x[j]);
        } else { /* round half up without overflow: |ev * x| <= 2^14 */
            const int32_t half = (int32_t)1 << (shift - 1u);
            for (j = 0; j < N; j++)
                gq[j] = (int16_t)((ev * x[j] + half) >> shift);
        }
        gq += N;
    }
}

/* ------------------------------------------------------------------ updates
 * |gq * w| <= 2^22, so round_shift(v, s) = (v + 2^(s-1)) >> s cannot overflow, and one
 * unsigned compare detects both saturation sides. */

PRIOT_HOT void priot_score_update(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                                  uint32_t lr_shift)
{
    const int32_t half = lr_shift ? (int32_t)1 << (lr_shift - 1u) : 0;
    uint32_t j;
    for (j = 0; j < n; j++) {
        int32_t r = (int32_t)s[j] - (((int32_t)gq[j] * w[j] + half) >> lr_shift);
        if ((uint32_t)(r + 32768) > 65535u)
            r = r < 0 ? -32768 : 32767;
        s[j] = (int16_t)r;
    }
}

PRIOT_HOT void priot_weight_update(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift)
{
    const int32_t half = lr_shift ? (int32_t)1 << (lr_shift - 1u) : 0;
    uint32_t j;
    for (j = 0; j < n; j++) {
        int32_t r = (int32_t)w[j] - (((int32_t)gq[j] + half) >> lr_shift);
        if ((uint32_t)(r + 128) > 255u)
            r = r < 0 ? -128 : 127;
        w[j] = (int8_t)r;
    }
}

/* As priot_weight_update with psto_shift (arith.h; its masks are loop-invariant). */
PRIOT_HOT void priot_weight_update_psto(int8_t *w, const int16_t *gq, uint32_t n,
                                        uint32_t lr_shift)
{
    uint32_t j;
    for (j = 0; j < n; j++) {
        int32_t r = (int32_t)w[j] - priot_psto_shift(gq[j], lr_shift);
        if ((uint32_t)(r + 128) > 255u)
            r = r < 0 ? -128 : 127;
        w[j] = (int8_t)r;
    }
}

#endif
