/* Kernel benchmark firmware (APP=bench; `invoke bench`, orchestration/priot/bench.py).
 *
 * Runs every hot kernel twice on the same seeded data, once the plain reference (`_ref`,
 * kernels_ref.c, niti_ref.c) and once the optimised version (kernels.c, niti.c), on
 * representative shapes of the tiny CNN (models/tiny_cnn_mnist.prmd.json) and of a VGG11 x1/8 layer, timed with
 * SysTick (clk_sys cycles; in rp2040js the M0+ cycle model), and prints
 *   PRIOT BENCH kernel=conv3x3_forward impl=opt shape=c8x14x14-o16 macs=... cycles=...
 *         crc=0x...
 * where crc is the CRC-32 of the kernel's output (must be equal for ref and opt), then
 * PRIOT DONE. macs counts the multiply-accumulates the layer really has (in-range taps
 * only); for the update / mask kernels it is the number of elements.
 *
 * Data: activations 0..127 with about half zeros (post-ReLU), weights int8 over the full
 * range with 10% zeros (a 90% mask; `-wmodel` rows: the size of a trained model's, `-wedge`:
 * kernel rows at the conv forward's packed-pair bound), errors sparse as after a 2x2 max-pool routing (one
 * non-zero per window) or dense (no pool), scores int16 over the full range. */
#include <stdint.h>
#include <string.h>
#include "board.h"
#include "lineout.h"
#include "priot/crc32.h"
#include "priot/host.h"
#include "priot/kernels.h"
#include "priot/kernels_ref.h"
#include "priot/niti.h"
#include "priot/niti_ref.h"
#include "priot/prune.h"
#include "priot/subset.h"

#define MAX_X 4096u
#define MAX_Y 6272u
#define MAX_W 25088u
#define MAX_HW 1024u

static int8_t xbuf[MAX_X];
static int8_t wbuf[MAX_W];
static int8_t ybuf[MAX_Y];
static int8_t ebuf[MAX_Y];
static int8_t einbuf[MAX_X];
static int32_t bias[64];
static uint32_t accbuf[PRIOT_CONV_SCRATCH_PLANES * MAX_HW]; /* the conv forward's scratch */
static int16_t gqbuf[MAX_W];
static int16_t scores[MAX_W];
static int8_t weff[MAX_W];
static uint32_t hist[256];
/* one layer's incremental mask state with its edge bitmap (prune.h priot_mask_t) */
static uint32_t maskmem[(sizeof(priot_mask_t) + MAX_W / 8u) / 4u + 1u];
static uint32_t wide[MAX_Y]; /* NITI: a whole tensor of int32 accumulators */

static uint32_t rng_x;

static uint32_t rnd(void)
{
    uint32_t x = rng_x;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_x = x;
}

static void seed(uint32_t s) { rng_x = s ? s : 0x9E3779B9u; }

static void fill_act(int8_t *p, uint32_t n)
{
    while (n--) {
        uint32_t r = rnd();
        *p++ = (r >> 9) & 1u ? (int8_t)(r & 0x7Fu) : 0;
    }
}

static void fill_w(int8_t *p, uint32_t n)
{
    while (n--) {
        uint32_t r = rnd();
        *p++ = ((r >> 16) % 10u) == 0u ? 0 : (int8_t)(r & 0xFFu);
    }
}

/* Weights of a trained model's size (the tiny CNN's conv layers: mean |w| 17-42, every
 * kernel row's |w| summing to at most 217): |w| triangular on 0..63, sign random. */
static void fill_w_model(int8_t *p, uint32_t n)
{
    while (n--) {
        uint32_t r = rnd();
        int32_t m = (int32_t)(((r & 63u) + ((r >> 6) & 63u)) >> 1);
        *p++ = (int8_t)((r >> 12) & 1u ? -m : m);
    }
}

/* Kernel rows at the packed-pair bound (kernels_opt.h "output-channel pairs"): the three
 * |w| of a row sum to 255 (fits) or 256 (does not), mixed, with activations of -128 / 127. */
static void fill_edge(int8_t *w, uint32_t n_rows, int8_t *x, uint32_t n_x)
{
    static const int8_t rows[6][3] = {{-128, -127, 0}, {-128, -128, 0}, {127, 127, 1},
                                      {-128, 0, -128}, {85, -85, 85}, {0, -128, 127}};
    uint32_t i;
    for (i = 0; i < n_rows; i++) {
        const int8_t *r = rows[rnd() % 6u];
        w[3u * i] = r[0];
        w[3u * i + 1u] = r[1];
        w[3u * i + 2u] = r[2];
    }
    for (i = 0; i < n_x; i++)
        x[i] = (rnd() >> 7) & 1u ? -128 : 127;
}

/* errors of c planes of h x w: pooled -> one non-zero (random position) per 2x2 window */
static void fill_err(int8_t *p, uint32_t c, uint32_t h, uint32_t w, int pooled)
{
    uint32_t i, yy, xx;
    if (!pooled) {
        for (i = 0; i < c * h * w; i++) {
            uint32_t r = rnd();
            p[i] = (r >> 8) & 1u ? (int8_t)((int32_t)(r & 0x7Fu) - 64) : 0;
        }
        return;
    }
    memset(p, 0, c * h * w);
    for (i = 0; i < c; i++)
        for (yy = 0; yy + 1u < h; yy += 2)
            for (xx = 0; xx + 1u < w; xx += 2) {
                uint32_t r = rnd();
                uint32_t k = r & 3u;
                p[i * h * w + (yy + (k >> 1)) * w + xx + (k & 1u)] =
                    (int8_t)((int32_t)((r >> 8) & 0x7Fu) - 64);
            }
}

static void fill_scores(int16_t *p, uint32_t n)
{
    while (n--)
        *p++ = (int16_t)(rnd() & 0xFFFFu);
}

/* The bench's layers: ReLU, out/err/grad shifts 9/7/3, weights wbuf, biases bias. */
static priot_layer_t layer(uint32_t type, uint32_t c, uint32_t h, uint32_t w, uint32_t oc)
{
    return priot_host_layer(type, c, h, w, oc, PRIOT_FLAG_RELU, 9, 7, 3, wbuf, bias);
}

static void report(const char *kernel, const char *impl, const char *shape, uint32_t macs,
                   uint64_t cycles, uint32_t crc)
{
    out_begin("BENCH");
    out_str("kernel", kernel);
    out_str("impl", impl);
    out_str("shape", shape);
    out_u32("macs", macs);
    out_u64("cycles", cycles);
    out_hex("crc", crc);
    out_end();
}

static uint32_t conv_macs(const priot_layer_t *L)
{
    return (uint32_t)L->out.c * L->in.c * (3u * L->in.h - 2u) * (3u * L->in.w - 2u);
}

static const char *const IMPL[2] = {"ref", "opt"};

/* The conv forward, reference then optimised, on xbuf / wbuf / bias. */
static void bench_conv_forward(const char *shape, const priot_layer_t *L)
{
    uint32_t impl;
    uint64_t t0, t1;
    for (impl = 0; impl < 2; impl++) {
        memset(ybuf, 0x55, L->out_size);
        t0 = board_cycles();
        (impl ? priot_conv3x3_forward : priot_conv3x3_forward_ref)(L, xbuf, wbuf, ybuf, accbuf);
        t1 = board_cycles();
        report("conv3x3_forward", IMPL[impl], shape, conv_macs(L), t1 - t0,
               priot_crc32(0, (const uint8_t *)ybuf, L->out_size));
    }
}

/* The conv forward alone (and NITI's conv3x3_acc32) on other weights: kind 1 model-sized,
 * 2 kernel rows at the packed-pair bound with extreme activations. */
static void bench_conv_weights(const char *shape, uint32_t c, uint32_t h, uint32_t w,
                               uint32_t oc, int kind)
{
    priot_layer_t L = layer(PRIOT_LAYER_CONV, c, h, w, oc);
    uint32_t impl, i;
    uint64_t t0, t1;
    seed(0x4321u + c * 7u + oc);
    fill_act(xbuf, L.in_size);
    if (kind == 1)
        fill_w_model(wbuf, L.n_edges);
    else
        fill_edge(wbuf, L.n_edges / 3u, xbuf, L.in_size);
    for (i = 0; i < oc; i++)
        bias[i] = (int32_t)(rnd() & 0x3FFFu) - 0x2000;
    bench_conv_forward(shape, &L);
    for (impl = 0; impl < 2; impl++) {
        t0 = board_cycles();
        (impl ? priot_conv3x3_acc32 : priot_conv3x3_acc32_ref)(&L, xbuf, wbuf, 1, wide, accbuf);
        t1 = board_cycles();
        report("niti_conv3x3_acc32", IMPL[impl], shape, conv_macs(&L), t1 - t0,
               priot_crc32(0, (const uint8_t *)wide, L.out_size * 4u));
    }
}

static void bench_conv(const char *shape, uint32_t c, uint32_t h, uint32_t w, uint32_t oc,
                       int pooled, int first_layer)
{
    priot_layer_t L = layer(PRIOT_LAYER_CONV, c, h, w, oc);
    const uint32_t row = L.row_edges, HW = h * w;
    uint32_t impl, o, i;
    uint64_t t0, t1;
    seed(0x1234u + c * 7u + oc);
    fill_act(xbuf, L.in_size);
    fill_w(wbuf, L.n_edges);
    for (i = 0; i < oc; i++)
        bias[i] = (int32_t)(rnd() & 0x3FFFu) - 0x2000;
    fill_err(ebuf, oc, h, w, pooled);
    bench_conv_forward(shape, &L);
    if (!first_layer)
        for (impl = 0; impl < 2; impl++) {
            memset(einbuf, 0x55, L.in_size);
            t0 = board_cycles();
            (impl ? priot_conv3x3_error_backward : priot_conv3x3_error_backward_ref)(
                &L, ebuf, wbuf, einbuf, accbuf);
            t1 = board_cycles();
            report("conv3x3_error_backward", IMPL[impl], shape, conv_macs(&L), t1 - t0,
                   priot_crc32(0, (const uint8_t *)einbuf, L.in_size));
        }
    for (impl = 0; impl < 2; impl++) {
        memset(gqbuf, 0x55, L.n_edges * 2u);
        t0 = board_cycles();
        for (o = 0; o < oc; o++) /* one output channel per call, as the engine does */
            (impl ? priot_conv3x3_score_grad : priot_conv3x3_score_grad_ref)(
                &L, ebuf, xbuf, o, o + 1u, gqbuf + o * row);
        t1 = board_cycles();
        report("conv3x3_score_grad", IMPL[impl], shape, conv_macs(&L), t1 - t0,
               priot_crc32_i16le(0, gqbuf, L.n_edges));
    }
    (void)HW;
}

static void bench_fc(const char *shape, uint32_t n, uint32_t oc, int first_layer)
{
    priot_layer_t L = layer(PRIOT_LAYER_FC, n, 1, 1, oc);
    uint32_t impl, o, i;
    uint64_t t0, t1;
    seed(0x4321u + n + oc);
    fill_act(xbuf, n);
    fill_w(wbuf, L.n_edges);
    for (i = 0; i < oc; i++)
        bias[i] = (int32_t)(rnd() & 0x3FFFu) - 0x2000;
    fill_err(ebuf, oc, 1, 1, 0);
    for (impl = 0; impl < 2; impl++) {
        memset(ybuf, 0x55, oc);
        t0 = board_cycles();
        (impl ? priot_fc_forward : priot_fc_forward_ref)(&L, xbuf, wbuf, ybuf);
        t1 = board_cycles();
        report("fc_forward", IMPL[impl], shape, n * oc, t1 - t0,
               priot_crc32(0, (const uint8_t *)ybuf, oc));
    }
    if (!first_layer)
        for (impl = 0; impl < 2; impl++) {
            memset(einbuf, 0x55, n);
            t0 = board_cycles();
            (impl ? priot_fc_error_backward : priot_fc_error_backward_ref)(&L, ebuf, wbuf,
                                                                           einbuf, accbuf);
            t1 = board_cycles();
            report("fc_error_backward", IMPL[impl], shape, n * oc, t1 - t0,
                   priot_crc32(0, (const uint8_t *)einbuf, n));
        }
    for (impl = 0; impl < 2; impl++) {
        memset(gqbuf, 0x55, L.n_edges * 2u);
        t0 = board_cycles();
        for (o = 0; o < oc; o++)
            (impl ? priot_fc_score_grad : priot_fc_score_grad_ref)(&L, ebuf, xbuf, o, o + 1u,
                                                                   gqbuf + o * n);
        t1 = board_cycles();
        report("fc_score_grad", IMPL[impl], shape, n * oc, t1 - t0,
               priot_crc32_i16le(0, gqbuf, L.n_edges));
    }
}

/* Score update, weight update and the top-k mask over n edges (one layer). */
static void bench_updates(const char *shape, uint32_t n, uint32_t row)
{
    uint32_t impl, o;
    uint64_t t0, t1;
    int16_t thr;
    uint32_t eq, kept;
    seed(0x5555u + n);
    fill_w(wbuf, n);
    for (o = 0; o < n; o++)
        gqbuf[o] = (int16_t)((int32_t)(rnd() & 0x3FFu) - 0x200);
    for (impl = 0; impl < 2; impl++) {
        seed(0x777u);
        fill_scores(scores, n);
        t0 = board_cycles();
        for (o = 0; o < n; o += row) /* one output row per call, as the engine does */
            (impl ? priot_score_update : priot_score_update_ref)(scores + o, wbuf + o,
                                                                gqbuf + o, row, 5);
        t1 = board_cycles();
        report("score_update", IMPL[impl], shape, n, t1 - t0,
               priot_crc32_i16le(0, scores, n));
    }
    for (impl = 0; impl < 2; impl++) {
        memcpy(weff, wbuf, n);
        t0 = board_cycles();
        for (o = 0; o < n; o += row)
            (impl ? priot_weight_update : priot_weight_update_ref)(weff + o, gqbuf + o, row, 5);
        t1 = board_cycles();
        report("weight_update", IMPL[impl], shape, n, t1 - t0,
               priot_crc32(0, (const uint8_t *)weff, n));
    }
    /* the mask: threshold (two histogram passes) and apply; one implementation */
    t0 = board_cycles();
    priot_topk_threshold(scores, n, priot_n_keep(n, 900), hist, &thr, &eq);
    t1 = board_cycles();
    report("mask_threshold", "opt", shape, n, t1 - t0, (uint32_t)(uint16_t)thr ^ (eq << 16));
    t0 = board_cycles();
    kept = priot_apply_mask(scores, wbuf, n, thr, eq, weff);
    t1 = board_cycles();
    report("mask_apply", "opt", shape, n, t1 - t0,
           priot_crc32(kept, (const uint8_t *)weff, n));
}

/* One training step's score update of a layer and the mask after it, on sparse gradients
 * (a quarter non-zero, |gq| < 64, as after the pool routing and the ReLU): "ref" is the
 * plain update and the full recompute (two histogram passes + the apply over every edge),
 * "opt" the update that keeps the histograms current (priot_score_update_mask) and the
 * incremental refresh (priot_mask_refresh). Same scores and w_eff (CRC). */
static void bench_incremental(const char *shape, uint32_t n, uint32_t row)
{
    priot_mask_t *m = (priot_mask_t *)maskmem;
    const uint32_t k = priot_n_keep(n, 900);
    uint32_t impl, o, eq;
    uint64_t t0, t1;
    int16_t thr;
    seed(0x999u + n);
    fill_w(wbuf, n);
    for (o = 0; o < n; o++)
        gqbuf[o] = (rnd() & 3u) ? 0 : (int16_t)((int32_t)(rnd() & 0x7Fu) - 0x40);
    for (impl = 0; impl < 2; impl++) {
        seed(0x777u);
        fill_scores(scores, n);
        priot_mask_init(m, scores, n, k, wbuf, weff);   /* the state a previous step left */
        t0 = board_cycles();
        for (o = 0; o < n; o += row)
            if (impl)
                priot_score_update_mask(scores + o, wbuf + o, gqbuf + o, row, 5, m, o,
                                        weff + o);
            else
                priot_score_update_ref(scores + o, wbuf + o, gqbuf + o, row, 5);
        t1 = board_cycles();
        report("score_update_hist", IMPL[impl], shape, n, t1 - t0,
               priot_crc32_i16le(0, scores, n));
        t0 = board_cycles();
        if (impl) {
            priot_mask_refresh(m, scores, wbuf, weff);
        } else {
            priot_topk_threshold(scores, n, k, hist, &thr, &eq);
            priot_apply_mask(scores, wbuf, n, thr, eq, weff);
        }
        t1 = board_cycles();
        report("mask_update", IMPL[impl], shape, n, t1 - t0,
               priot_crc32(0, (const uint8_t *)weff, n));
    }
}

/* The fc layers' gradient and score update of one training step: "ref" the plain
 * kernels, priot_fc_score_grad_ref of every row whose error is non-zero and
 * priot_score_update_ref over it; "opt" the fused form (prune.h: the non-zero inputs
 * listed once, priot_fc_score_update_mask per live row, the mask's counts kept current).
 * fc_grad_update_2pass (opt only): the optimised two-pass form it replaces
 * (priot_fc_score_grad into a gradient row, priot_score_update_mask over it). Not timed:
 * the mask afterwards (ref: full recompute, opt: priot_mask_refresh); the CRC covers the
 * scores and w_eff. "macs" counts the live rows' edges. */
static int16_t fc_thr;   /* the threshold after the last fc_update_ref / _opt */
static uint32_t fc_eq;

static uint32_t fc_update_ref(const priot_layer_t *L, const int8_t *e, uint32_t lr,
                              int16_t *sc, uint32_t k, uint64_t *cyc)
{
    const uint32_t n = L->in.c;
    uint32_t o, edges = 0;
    uint64_t t0 = board_cycles();
    for (o = 0; o < L->out.c; o++)
        if (e[o]) {
            priot_fc_score_grad_ref(L, e, xbuf, o, o + 1u, gqbuf);
            priot_score_update_ref(sc + o * n, L->w + o * n, gqbuf, n, lr);
            edges += n;
        }
    *cyc += board_cycles() - t0;
    priot_topk_threshold(sc, L->n_edges, k, hist, &fc_thr, &fc_eq);
    priot_apply_mask(sc, L->w, L->n_edges, fc_thr, fc_eq, weff);
    return edges;
}

static void fc_update_opt(const priot_layer_t *L, const int8_t *e, uint32_t lr, int16_t *sc,
                          priot_mask_t *m, int two_pass, uint64_t *cyc)
{
    const uint32_t n = L->in.c;
    priot_fc_inputs_t in;
    uint32_t o;
    uint64_t t0 = board_cycles();
    if (!two_pass)
        priot_fc_inputs(&in, L, xbuf, lr, accbuf);
    for (o = 0; o < L->out.c; o++)
        if (e[o]) {
            if (two_pass) {
                priot_fc_score_grad(L, e, xbuf, o, o + 1u, gqbuf);
                priot_score_update_mask(sc + o * n, L->w + o * n, gqbuf, n, lr, m, o * n,
                                        weff + o * n);
            } else {
                priot_fc_score_update_mask(&in, e, o, sc, m, m->has_win ? weff : (int8_t *)0);
            }
        }
    *cyc += board_cycles() - t0;
    priot_mask_refresh(m, sc, L->w, m->has_win ? weff : (int8_t *)0);
    fc_thr = m->thr;
    fc_eq = m->eq;
}

static void bench_fc_update(const char *shape, uint32_t n, uint32_t oc)
{
    priot_mask_t *m = (priot_mask_t *)maskmem;
    priot_layer_t L = layer(PRIOT_LAYER_FC, n, 1, 1, oc);
    uint32_t impl, edges = 0;
    uint64_t cyc;
    L.grad_shift = 0;   /* the tiny CNN's fc 784->32 */
    seed(0xFC0u + n);
    fill_act(xbuf, n);
    fill_w(wbuf, L.n_edges);
    fill_err(ebuf, oc, 1, 1, 0);
    for (impl = 0; impl < 3; impl++) {
        seed(0x777u);
        fill_scores(scores, L.n_edges);
        priot_mask_init(m, scores, L.n_edges, priot_n_keep(L.n_edges, 900), wbuf, weff);
        cyc = 0;
        if (impl == 0)
            edges = fc_update_ref(&L, ebuf, 5, scores, priot_n_keep(L.n_edges, 900), &cyc);
        else
            fc_update_opt(&L, ebuf, 5, scores, m, impl == 2, &cyc);
        report(impl == 2 ? "fc_grad_update_2pass" : "fc_grad_update", IMPL[impl != 0u], shape,
               edges, cyc,
               priot_crc32(priot_crc32_i16le(0, scores, L.n_edges), (const uint8_t *)weff,
                           L.n_edges));
    }
}

/* The fused fc update at its edges: every grad_shift class (0, 1, 4, 9, 15) and lr_shift
 * (0, 1, 5, 12), inputs and errors of both signs up to -128 / 127, scores crowded into
 * a few bins (ties, the window, bin changes) and at the int16 limits (saturation); 20
 * steps with the mask refreshed after each, the CRC chained over every step's scores,
 * threshold and w_eff; the rows _thr: the same with a threshold-only mask (no bitmap, no
 * w_eff); _2pass: the two-pass form (priot_fc_score_grad + priot_score_update_mask,
 * score_update_mask_m0.S on the firmware). Every opt against the same ref run. */
static void bench_fc_update_edges(void)
{
    static const uint8_t gs[5] = {0, 1, 4, 9, 15}, lr[4] = {0, 1, 5, 12};
    priot_mask_t *m = (priot_mask_t *)maskmem;
    const uint32_t n = 300, oc = 8;
    priot_layer_t L = layer(PRIOT_LAYER_FC, n, 1, 1, oc);
    uint32_t impl, step, i, crc, edges;
    uint64_t cyc;
    seed(0xED6Eu);
    for (i = 0; i < n; i++) {
        const uint32_t r = rnd();
        xbuf[i] = (r & 3u) == 0u ? 0 : (r & 3u) == 1u ? (int8_t)((r >> 4) & 0xFFu)
                                     : (r >> 4) & 1u ? 127 : -128;
    }
    fill_w(wbuf, L.n_edges);
    static const char *const NAME[5] = {"", "fc_grad_update_edges", "fc_grad_update_edges_thr",
                                        "fc_grad_update_edges_2pass",
                                        "fc_grad_update_edges_2pass_thr"};
    uint32_t crc_thr = 0, crc_ref = 0, crc_ref_thr = 0, edges_ref = 0;
    uint64_t cyc_ref = 0;
    for (impl = 0; impl < 5; impl++) {
        const int thr_only = impl == 2u || impl == 4u;
        seed(0x5EEDu);
        for (i = 0; i < L.n_edges; i++) {
            const uint32_t r = rnd();
            scores[i] = (r & 7u) == 0u ? ((r >> 3) & 1u ? 32767 : -32768)
                                      : (int16_t)((int32_t)((r >> 4) & 0x3FFu) - 300);
        }
        priot_mask_init(m, scores, L.n_edges, priot_n_keep(L.n_edges, 700),
                        thr_only ? (const int8_t *)0 : wbuf, thr_only ? (int8_t *)0 : weff);
        crc = 0;
        crc_thr = 0;
        cyc = 0;
        edges = 0;
        for (step = 0; step < 20u; step++) {
            L.grad_shift = gs[step % 5u];
            for (i = 0; i < oc; i++) {
                const uint32_t r = rnd();
                ebuf[i] = (r & 3u) == 0u ? 0 : (r & 3u) == 1u ? (int8_t)((r >> 4) & 0xFFu)
                                             : (r >> 4) & 1u ? 127 : -128;
            }
            if (impl == 0)
                edges += fc_update_ref(&L, ebuf, lr[step % 4u], scores,
                                       priot_n_keep(L.n_edges, 700), &cyc);
            else
                fc_update_opt(&L, ebuf, lr[step % 4u], scores, m, impl >= 3u, &cyc);
            crc_thr = priot_crc32_i16le(crc_thr, scores, L.n_edges) ^ (uint16_t)fc_thr ^
                      (fc_eq << 16);
            crc = priot_crc32(crc_thr, (const uint8_t *)weff, L.n_edges);
        }
        if (impl == 0) {
            crc_ref = crc;
            crc_ref_thr = crc_thr;
            edges_ref = edges;
            cyc_ref = cyc;
            continue;
        }
        report(NAME[impl], "ref", "n300-o8", edges_ref, cyc_ref, thr_only ? crc_ref_thr : crc_ref);
        report(NAME[impl], "opt", "n300-o8", edges_ref, cyc, thr_only ? crc_thr : crc);
    }
}

/* PRIOT-S: a layer's masked weights rebuilt from the flash weights (what a forward or a
 * backward pass of a layer costs it; priot_subset_apply) with 10% of the edges scored, for
 * both subset rules; "macs" counts the layer's edges. One implementation (the reference
 * build's iterator is the plain scan). */
static void bench_subset(const char *shape, uint32_t n)
{
    static const char *const RULE[2] = {"subset_apply_random", "subset_apply_magnitude"};
    priot_subset_t ss;
    const uint32_t k = priot_subset_size(n, 100), keep = priot_n_keep(k, 900);
    uint32_t rule, kept, eq;
    uint64_t t0, t1;
    int16_t thr;
    seed(0x4242u + n);
    fill_w(wbuf, n);
    fill_scores(scores, k);
    priot_topk_threshold(scores, k, keep, hist, &thr, &eq);
    for (rule = 0; rule < 2; rule++) {
        priot_subset_plan(&ss, rule, wbuf, n, k, (uint32_t *)accbuf);
        t0 = board_cycles();
        kept = priot_subset_apply(scores, &ss, wbuf, n, k, 7u, 2u, thr, eq, weff);
        t1 = board_cycles();
        report(RULE[rule], "opt", shape, n, t1 - t0, priot_crc32(kept, (const uint8_t *)weff, n));
    }
}

/* NITI kernels (niti.c vs niti_ref.c): int32 accumulators of whole tensors, the max
 * search and the requantisation over them, the weight update of one layer. */
#define TIMED(call) (t0 = board_cycles(), (call), t1 = board_cycles(), t1 - t0)

/* The requantisation at its edges (requant_m0.S against the C), every shift 0..31 with
 * and without the ReLU: the plane form through NITI's requant32 on accumulators
 * k 2^s + d around the int8 limits and the rounding point (and INT32_MIN / MAX); the
 * channel-pair form through a conv forward of one input channel whose centre tap is 1
 * (acc = bias + x, x in -8..7, biases k 2^s and k 2^s + 2^(s-1)). One CRC per form over all
 * outputs; cycles summed. */
static void bench_requant_edges(void)
{
    static const int32_t ks[] = {-200, -129, -128, -127, -1, 0, 1, 126, 127, 128, 200};
    const uint32_t nk = (uint32_t)(sizeof ks / sizeof ks[0]);
    uint32_t impl, sh, relu, n, i, crc;
    uint64_t t0, t1, cyc;
    int8_t w9[18] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    for (impl = 0; impl < 2; impl++) {   /* plane */
        crc = 0;
        cyc = 0;
        for (sh = 0; sh < 32u; sh++)
            for (relu = 0; relu < 2u; relu++) {
                const uint32_t half = sh ? 1u << (sh - 1u) : 0u;
                n = 0;
                wide[n++] = 0x80000000u;
                wide[n++] = 0x7FFFFFFFu;
                for (i = 0; i < nk; i++) {
                    const uint32_t base = (uint32_t)ks[i] << sh;
                    wide[n++] = base - 1u;
                    wide[n++] = base;
                    wide[n++] = base + 1u;
                    wide[n++] = base + half - 1u;
                    wide[n++] = base + half;
                    wide[n++] = base - half;
                }
                cyc += TIMED((impl ? priot_requant32 : priot_requant32_ref)(wide, n, sh, (int)relu,
                                                                         ybuf));
                crc = priot_crc32(crc, (const uint8_t *)ybuf, n);
            }
        report("requant_edges", IMPL[impl], "plane", 32u * 2u * n, cyc, crc);
    }
    for (i = 0; i < 16u; i++)
        xbuf[i] = (int8_t)((int32_t)i - 8);
    for (impl = 0; impl < 2; impl++) {   /* channel pair */
        crc = 0;
        cyc = 0;
        for (sh = 0; sh < 32u; sh++)
            for (relu = 0; relu < 2u; relu++)
                for (i = 0; i < nk; i++) {
                    int32_t b2[2];
                    priot_layer_t L;
                    b2[0] = (int32_t)((uint32_t)ks[i] << sh);
                    b2[1] = (int32_t)(((uint32_t)ks[i] << sh) + (sh ? 1u << (sh - 1u) : 0u));
                    L = priot_host_layer(PRIOT_LAYER_CONV, 1, 1, 16, 2,
                                         relu ? PRIOT_FLAG_RELU : 0u, sh, 7, 3, w9, b2);
                    cyc += TIMED((impl ? priot_conv3x3_forward : priot_conv3x3_forward_ref)(
                        &L, xbuf, w9, ybuf, accbuf));
                    crc = priot_crc32(crc, (const uint8_t *)ybuf, 32u);
                }
        report("requant_edges", IMPL[impl], "pair", 32u * 2u * nk * 32u, cyc, crc);
    }
}

static void bench_niti_conv(const char *shape, uint32_t c, uint32_t h, uint32_t w, uint32_t oc,
                            int first_layer)
{
    priot_layer_t L = layer(PRIOT_LAYER_CONV, c, h, w, oc);
    uint32_t impl, o, i, crc;
    uint64_t t0, t1, cyc;
    seed(0x1234u + c * 7u + oc);
    fill_act(xbuf, L.in_size);
    fill_w(wbuf, L.n_edges);
    for (i = 0; i < oc; i++)
        bias[i] = (int32_t)(rnd() & 0x3FFFu) - 0x2000;
    fill_err(ebuf, oc, h, w, 1);
    for (impl = 0; impl < 2; impl++) {
        cyc = TIMED((impl ? priot_conv3x3_acc32 : priot_conv3x3_acc32_ref)(&L, xbuf, wbuf, 1,
                                                                           wide, accbuf));
        report("niti_conv3x3_acc32", IMPL[impl], shape, conv_macs(&L), cyc,
               priot_crc32(0, (const uint8_t *)wide, L.out_size * 4u));
        cyc = TIMED(crc = (impl ? priot_max_abs32 : priot_max_abs32_ref)(wide, L.out_size));
        report("niti_max_abs32", IMPL[impl], shape, L.out_size, cyc, crc);
        cyc = TIMED((impl ? priot_requant32 : priot_requant32_ref)(wide, L.out_size, 9, 1,
                                                                   ybuf));
        report("niti_requant32", IMPL[impl], shape, L.out_size, cyc,
               priot_crc32(0, (const uint8_t *)ybuf, L.out_size));
    }
    if (!first_layer)
        for (impl = 0; impl < 2; impl++) {
            cyc = TIMED((impl ? priot_conv3x3_error_acc32 : priot_conv3x3_error_acc32_ref)(
                &L, ebuf, wbuf, wide));
            report("niti_conv3x3_error_acc32", IMPL[impl], shape, conv_macs(&L), cyc,
                   priot_crc32(0, (const uint8_t *)wide, L.in_size * 4u));
        }
    for (impl = 0; impl < 2; impl++) {
        t0 = board_cycles();
        for (o = 0; o < oc; o++) /* one output channel per call, as the engine does */
            (impl ? priot_conv3x3_grad32 : priot_conv3x3_grad32_ref)(&L, ebuf, xbuf, o,
                                                                     wide + o * L.row_edges);
        t1 = board_cycles();
        report("niti_conv3x3_grad32", IMPL[impl], shape, conv_macs(&L), t1 - t0,
               priot_crc32(0, (const uint8_t *)wide, L.n_edges * 4u));
        memcpy(weff, wbuf, L.n_edges);
        cyc = TIMED((impl ? priot_weight_update32 : priot_weight_update32_ref)(
            weff, wide, L.n_edges, 12));
        report("niti_weight_update32", IMPL[impl], shape, L.n_edges, cyc,
               priot_crc32(0, (const uint8_t *)weff, L.n_edges));
    }
}

static void bench_niti_fc(const char *shape, uint32_t n, uint32_t oc)
{
    priot_layer_t L = layer(PRIOT_LAYER_FC, n, 1, 1, oc);
    uint32_t impl, o, i, crc;
    uint64_t t0, t1, cyc;
    seed(0x4321u + n + oc);
    fill_act(xbuf, n);
    fill_w(wbuf, L.n_edges);
    for (i = 0; i < oc; i++)
        bias[i] = (int32_t)(rnd() & 0x3FFFu) - 0x2000;
    fill_err(ebuf, oc, 1, 1, 0);
    for (impl = 0; impl < 2; impl++) {
        cyc = TIMED((impl ? priot_fc_acc32 : priot_fc_acc32_ref)(&L, xbuf, wbuf, 1, wide));
        report("niti_fc_acc32", IMPL[impl], shape, n * oc, cyc,
               priot_crc32(0, (const uint8_t *)wide, oc * 4u));
        cyc = TIMED((impl ? priot_fc_error_acc32 : priot_fc_error_acc32_ref)(&L, ebuf, wbuf,
                                                                             wide));
        report("niti_fc_error_acc32", IMPL[impl], shape, n * oc, cyc,
               priot_crc32(0, (const uint8_t *)wide, n * 4u));
        /* one output row at a time into `wide` (n words), the CRC chained over the rows */
        cyc = 0;
        crc = 0;
        for (o = 0; o < oc; o++) {
            cyc += TIMED((impl ? priot_fc_grad32 : priot_fc_grad32_ref)(&L, ebuf, xbuf, o,
                                                                        wide));
            crc = priot_crc32(crc, (const uint8_t *)wide, n * 4u);
        }
        report("niti_fc_grad32", IMPL[impl], shape, n * oc, cyc, crc);
    }
}

int main(void)
{
    board_init();
    out_begin("BOOT");
    out_u32("fw", 1);
    out_u32("clk_hz", board_clk_hz());
    out_end();

    /* tiny CNN (MNIST): conv 1->8 @28x28 + pool, conv 8->16 @14x14 + pool, fc 784->32,
     * fc 32->10; VGG11 x1/8 (CIFAR-10): conv 16->32 @8x8 (pooled) */
    bench_conv("c1x28x28-o8", 1, 28, 28, 8, 1, 1);
    bench_conv("c8x14x14-o16", 8, 14, 14, 16, 1, 0);
    bench_conv("c16x8x8-o32", 16, 8, 8, 32, 1, 0);
    bench_conv("c3x5x7-o5", 3, 5, 7, 5, 0, 0); /* odd sizes, dense errors */
    /* the conv forward on weights of a trained model's size, and at the pair bound */
    bench_conv_weights("c1x28x28-o8-wmodel", 1, 28, 28, 8, 1);
    bench_conv_weights("c8x14x14-o16-wmodel", 8, 14, 14, 16, 1);
    bench_conv_weights("c16x8x8-o32-wmodel", 16, 8, 8, 32, 1);
    bench_conv_weights("c5x6x9-o7-wedge", 5, 6, 9, 7, 2);
    bench_fc("n784-o32", 784, 32, 0);
    bench_fc("n32-o10", 32, 10, 0);
    bench_updates("n1152-r72", 1152, 72);
    bench_updates("n25088-r784", 25088, 784);
    bench_incremental("n1152-r72", 1152, 72);
    bench_incremental("n25088-r784", 25088, 784);
    bench_fc_update("n784-o32", 784, 32);
    bench_fc_update("n32-o10", 32, 10);
    bench_fc_update_edges();
    bench_subset("n1152", 1152);
    bench_subset("n25088", 25088);
    bench_requant_edges();
    bench_niti_conv("c1x28x28-o8", 1, 28, 28, 8, 1);
    bench_niti_conv("c8x14x14-o16", 8, 14, 14, 16, 0);
    bench_niti_fc("n784-o32", 784, 32);
    bench_niti_fc("n32-o10", 32, 10);

    out_begin("DONE");
    out_str("status", "ok");
    out_end();
    board_halt();
    return 0;
}
