/* PRIOT session and the protocol flow (engine.h). Semantics: docs/SEMANTICS.md. */
#include <string.h>
#include "priot/crc32.h"
#include "priot/engine.h"
#include "priot/kernels.h"
#include "priot/niti.h"
#include "priot/prune.h"
#include "priot/rng.h"

const char *priot_phase_name(uint32_t phase)
{
    switch (phase) {
    case PRIOT_PHASE_FROZEN: return "frozen";
    case PRIOT_PHASE_BEFORE: return "before";
    case PRIOT_PHASE_AFTER: return "after";
    default: return "unknown";
    }
}

/* ------------------------------------------------------------------ arena layout */

typedef struct {
    uint8_t *base;   /* NULL: only measure */
    uint32_t off;
} bump_t;

static void *bump(bump_t *b, uint32_t bytes)
{
    uint32_t start = (b->off + 3u) & ~3u;
    void *p;
    if (start < b->off || bytes > 0xFFFFFFFFu - start) {   /* saturate on overflow */
        b->off = 0xFFFFFFFFu;
        return (void *)0;
    }
    b->off = start + bytes;
    p = b->base ? (void *)(b->base + start) : (void *)0;
    return p;
}

static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

static int subset_method(const priot_config_t *cfg)
{
    return cfg && cfg->method == PRIOT_METHOD_PRIOT_S;
}

/* Static-scale SGD and NITI train the weights themselves: w_eff is their RAM copy, no
 * scores, no mask. */
static int sgd_method(const priot_config_t *cfg)
{
    return cfg && (cfg->method == PRIOT_METHOD_STATIC_SGD || cfg->method == PRIOT_METHOD_NITI);
}

/* NITI: shifts recomputed from every tensor's range (dynamic scales). */
static int niti_method(const priot_config_t *cfg)
{
    return cfg && cfg->method == PRIOT_METHOD_NITI;
}

/* NITI's update bits: lr_shift holds them (0..15). */
#define NITI_MAX_UPDATE_BITS 15u

/* Carve every buffer; with b->base == NULL only the size is computed. PRIOT scores every
 * edge; PRIOT-S only its subset (s->n_scored[l] scores per layer). */
static void layout(priot_session_t *s, const priot_model_t *m, const priot_config_t *cfg,
                   bump_t *b)
{
    uint32_t l, err_cap = 0, acc_cap = 0, grad_cap = 0, wide_cap = 0, max_edges = 0;
    int8_t *shared = (int8_t *)0;
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        s->mask[l] = (priot_mask_t *)0;
        max_edges = max_u32(max_edges, L->n_edges);
        err_cap = max_u32(err_cap, max_u32(L->out_size, L->in_size));
        if (niti_method(cfg))
            wide_cap = max_u32(wide_cap, max_u32(err_cap, L->n_edges));
        acc_cap = max_u32(acc_cap, L->type == PRIOT_LAYER_CONV ? (uint32_t)L->in.h * L->in.w
                                                               : L->in.c);
        grad_cap = max_u32(grad_cap, L->row_edges);
    }
    for (l = 0; l < m->n_layers; l++) {
        const uint32_t n = m->layers[l].n_edges;
        s->n_scored[l] = subset_method(cfg) ? priot_subset_size(n, cfg->score_permille)
                         : sgd_method(cfg)  ? 0u
                                            : n;
        s->scores[l] = (int16_t *)bump(b, s->n_scored[l] > 0x7FFFFFFFu
                                              ? 0xFFFFFFFFu
                                              : 2u * s->n_scored[l]);
        if (!subset_method(cfg))
            s->w_eff[l] = (int8_t *)bump(b, m->layers[l].n_edges);
        if (!sgd_method(cfg))   /* incremental mask state; PRIOT: + its edge bitmap */
            s->mask[l] = (priot_mask_t *)bump(b, priot_mask_bytes(n, !subset_method(cfg)));
    }
    if (subset_method(cfg)) {   /* one masked-weight buffer, filled layer by layer */
        shared = (int8_t *)bump(b, max_edges);
        for (l = 0; l < m->n_layers; l++)
            s->w_eff[l] = shared;
    }
    s->x[0] = (int8_t *)bump(b, m->layers[0].in_size);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        s->y[l] = (int8_t *)bump(b, L->out_size);
        s->x[l + 1] = (L->flags & PRIOT_FLAG_POOL) ? (int8_t *)bump(b, L->next_size) : s->y[l];
    }
    s->err[0] = (int8_t *)bump(b, err_cap);
    s->err[1] = (int8_t *)bump(b, err_cap);
    s->acc = (priot_acc_t *)bump(b, acc_cap > 0x3FFFFFFFu ? 0xFFFFFFFFu : 4u * acc_cap);
    s->grad = (int16_t *)bump(b, 2u * grad_cap);
    s->wide = (priot_acc_t *)bump(b, wide_cap > 0x3FFFFFFFu ? 0xFFFFFFFFu : 4u * wide_cap);
    s->wide_cap = wide_cap;
    s->err_cap = err_cap;
    s->acc_cap = acc_cap;
    s->grad_cap = grad_cap;
}

uint32_t priot_session_arena_need_cfg(const priot_model_t *m, const priot_config_t *cfg)
{
    priot_session_t tmp;
    bump_t b = {(uint8_t *)0, 0};
    layout(&tmp, m, cfg, &b);
    return b.off;
}

uint32_t priot_session_arena_need(const priot_model_t *m)
{
    return priot_session_arena_need_cfg(m, (const priot_config_t *)0);
}

/* ------------------------------------------------------------------ timing */

static uint64_t now(const priot_session_t *s)
{
    return (s->hooks && s->hooks->now) ? s->hooks->now(s->hooks->ctx) : 0u;
}

/* Charge the time since *mark to *phase and move the mark. */
static void charge(const priot_session_t *s, uint64_t *phase, uint64_t *mark)
{
    uint64_t t;
    if (!s->hooks || !s->hooks->now)
        return;
    t = s->hooks->now(s->hooks->ctx);
    *phase += t - *mark;
    *mark = t;
}

/* ------------------------------------------------------------------ session */

static void init_scores(priot_session_t *s)
{
    const priot_model_t *m = s->model;
    const uint32_t shift = s->cfg.init_shift, low_mask = (1u << shift) - 1u;
    priot_rng_t rng;
    uint32_t l, i;
    priot_rng_seed(&rng, s->cfg.seed);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        int16_t *sc = s->scores[l];
        priot_subset_iter_t it;
        const int subset = subset_method(&s->cfg);
        if (subset)
            priot_subset_begin(&it, L->n_edges, s->n_scored[l], s->cfg.seed, l);
        for (i = 0; i < s->n_scored[l]; i++) {
            uint32_t r = priot_rng_next(&rng);
            int32_t v;
            if (s->cfg.score_init == 0) {
                int32_t w = L->w[subset ? priot_subset_next(&it) : i];
                uint32_t mag = (uint32_t)(w < 0 ? -w : w);
                v = priot_sat16((int32_t)((mag << shift) | (r & low_mask)));
            } else {
                v = (int32_t)((r >> 20) & 0xFFFu) - 2048;
            }
            sc[i] = (int16_t)v;
        }
    }
}

/* Every layer's mask: from scratch (full = 1: the scores may have been set from outside)
 * or incrementally after a training step's priot_score_update_mask calls. */
static void update_masks(priot_session_t *s, int full)
{
    const priot_model_t *m = s->model;
    uint32_t l;
    if (sgd_method(&s->cfg))
        return;   /* no mask: w_eff holds the trained weights */
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        priot_mask_t *mk = s->mask[l];
        const int subset = subset_method(&s->cfg);   /* PRIOT-S: thresholds only */
        const int8_t *w = subset ? (const int8_t *)0 : L->w;
        int8_t *w_eff = subset ? (int8_t *)0 : s->w_eff[l];
        if (full)
            priot_mask_init(mk, s->scores[l], s->n_scored[l],
                            priot_n_keep(s->n_scored[l], s->cfg.keep_permille), w, w_eff);
        else
            priot_mask_refresh(mk, s->scores[l], w, w_eff);
        s->mask_thr[l] = mk->thr;
        s->mask_eq[l] = mk->eq;
    }
    s->w_layer = PRIOT_MAX_LAYERS;   /* PRIOT-S: the shared buffer is stale */
}

void priot_session_update_masks(priot_session_t *s)
{
    update_masks(s, 1);
}

priot_status_t priot_session_init(priot_session_t *s, const priot_model_t *m,
                                  const priot_config_t *cfg, uint8_t *arena,
                                  uint32_t arena_size)
{
    bump_t b;
    uint32_t skew;
    if (!s || !m || !cfg || (!arena && arena_size) || m->n_layers < 1 ||
        m->n_layers > PRIOT_MAX_LAYERS)
        return PRIOT_E_ARG;
    if (cfg->keep_permille < 1u || cfg->keep_permille > 1000u)
        return PRIOT_E_CONFIG_KEEP;
    if (cfg->lr_shift > 31u)
        return PRIOT_E_CONFIG_LR_SHIFT;
    if (cfg->score_init > 1u)
        return PRIOT_E_CONFIG_SCORE_INIT;
    if (cfg->init_shift > 14u)
        return PRIOT_E_CONFIG_INIT_SHIFT;
    if (cfg->method > PRIOT_METHOD_NITI)
        return PRIOT_E_CONFIG_METHOD;
    if (niti_method(cfg) && cfg->lr_shift > NITI_MAX_UPDATE_BITS)
        return PRIOT_E_CONFIG_LR_SHIFT;
    if (subset_method(cfg) ? cfg->score_permille < 1u || cfg->score_permille > 1000u
                           : cfg->score_permille != 0u)
        return PRIOT_E_CONFIG_SCORE_PERMILLE;
    memset(s, 0, sizeof(*s));
    s->w_layer = PRIOT_MAX_LAYERS;   /* the PRIOT-S weight buffer holds no layer yet */
    s->model = m;
    s->cfg = *cfg;
    s->arena = arena;
    s->arena_size = arena_size;
    /* align the arena start; the skipped bytes count as used */
    skew = (uint32_t)((4u - ((uintptr_t)arena & 3u)) & 3u);
    b.base = (uint8_t *)0;
    b.off = 0;
    layout(s, m, cfg, &b);
    if (b.off == 0xFFFFFFFFu || skew > arena_size || b.off > arena_size - skew) {
        s->arena_used = b.off == 0xFFFFFFFFu ? b.off : b.off + skew;
        return PRIOT_E_ARENA;
    }
    b.base = arena + skew;
    b.off = 0;
    layout(s, m, cfg, &b);
    s->arena_used = b.off + skew;
    if (sgd_method(cfg)) {
        uint32_t l;
        for (l = 0; l < m->n_layers; l++)
            memcpy(s->w_eff[l], m->layers[l].w, m->layers[l].n_edges);
        return PRIOT_OK;
    }
    init_scores(s);
    priot_session_update_masks(s);
    return PRIOT_OK;
}

const int8_t *priot_session_layer_weights(priot_session_t *s, uint32_t l)
{
    const priot_layer_t *L = &s->model->layers[l];
    if (subset_method(&s->cfg) && s->w_layer != l) {
        priot_subset_apply(s->scores[l], s->n_scored[l], L->w, L->n_edges, s->cfg.seed, l,
                           s->mask_thr[l], s->mask_eq[l], s->w_eff[l]);
        s->w_layer = l;
    }
    return s->w_eff[l];
}

/* ------------------------------------------------------------------ forward / train */

static void forward(priot_session_t *s, const uint8_t *image, int use_mask)
{
    const priot_model_t *m = s->model;
    uint32_t l;
    priot_input_q7(image, s->x[0], m->layers[0].in_size);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        const int8_t *w = use_mask ? priot_session_layer_weights(s, l) : L->w;
        if (L->type == PRIOT_LAYER_CONV)
            priot_conv3x3_forward(L, s->x[l], w, s->y[l], s->acc);
        else
            priot_fc_forward(L, s->x[l], w, s->y[l]);
        if (L->flags & PRIOT_FLAG_POOL)
            priot_maxpool2x2_forward(s->y[l], L->out, s->x[l + 1]);
    }
}

/* NITI forward: every layer's int32 accumulators are searched for their range and
 * shifted into int8 by the dynamic shift; x_exp tracks each input's exponent relative to
 * its static one (the bias is rescaled to it). With a mark, the range searches are
 * charged to stats.scale and the rest to stats.forward. */
static void forward_dynamic(priot_session_t *s, const uint8_t *image, uint64_t *mark)
{
    const priot_model_t *m = s->model;
    priot_train_stats_t *st = &s->stats;
    uint32_t l;
    priot_input_q7(image, s->x[0], m->layers[0].in_size);
    s->x_exp[0] = 0;
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        uint32_t shift;
        if (L->type == PRIOT_LAYER_CONV)
            priot_conv3x3_acc32(L, s->x[l], s->w_eff[l], s->x_exp[l], s->wide);
        else
            priot_fc_acc32(L, s->x[l], s->w_eff[l], s->x_exp[l], s->wide);
        if (mark)
            charge(s, &st->forward, mark);
        shift = priot_dyn_shift(priot_max_abs32(s->wide, L->out_size), 7u);
        if (mark)
            charge(s, &st->scale, mark);
        priot_requant32(s->wide, L->out_size, shift, (L->flags & PRIOT_FLAG_RELU) != 0, s->y[l]);
        if (L->flags & PRIOT_FLAG_POOL)
            priot_maxpool2x2_forward(s->y[l], L->out, s->x[l + 1]);
        s->x_exp[l + 1] = s->x_exp[l] + (int32_t)shift - (int32_t)L->out_shift;
        if (mark)
            charge(s, &st->forward, mark);
    }
}

uint32_t priot_predict(priot_session_t *s, const uint8_t *image, int use_mask)
{
    if (use_mask && niti_method(&s->cfg))
        forward_dynamic(s, image, (uint64_t *)0);
    else
        forward(s, image, use_mask);
    return priot_argmax_i8(s->x[s->model->n_layers], s->model->n_classes);
}

/* The edge index of the next scored edge (PRIOT-S), or UINT32_MAX past the last one. */
static uint32_t next_scored(priot_subset_iter_t *it, uint32_t *j, uint32_t k)
{
    return ++*j < k ? priot_subset_next(it) : 0xFFFFFFFFu;
}

static int all_zero(const int8_t *p, uint32_t n)
{
    while (n--)
        if (*p++)
            return 0;
    return 1;
}

/* SEMANTICS.md "Backward pass" 1-2: route err[*cur] (the error of layer l's output,
 * pooled shape) through the pool and the ReLU mask; returns the error of y (err[*cur]
 * after the swap). */
static const int8_t *output_error(priot_session_t *s, const priot_layer_t *L, uint32_t l,
                                  uint32_t *cur)
{
    if (L->flags & PRIOT_FLAG_POOL) {
        priot_maxpool2x2_backward(s->err[*cur], s->y[l], L->out, s->err[*cur ^ 1u]);
        *cur ^= 1u;
    }
    if (L->flags & PRIOT_FLAG_RELU)
        priot_relu_backward(s->err[*cur], s->y[l], L->out_size);
    return s->err[*cur];
}

/* Logits z (exponent d above the static logit exponent) at the static logit scale:
 * sat8(z * 2^d) for d >= 0, round_shift(z, -d) for d < 0. */
static void logits_to_static(const int8_t *z, uint32_t n, int32_t d, int8_t *out)
{
    while (n--) {
        const int32_t v = *z++;
        *out++ = (int8_t)(d >= 0 ? priot_sat8(v * (1 << (d > 8 ? 8 : d)))
                                 : priot_round_shift(v, -d > 31 ? 31u : (uint32_t)-d));
    }
}

/* One NITI step (SEMANTICS.md "NITI: dynamic scales"): like static SGD, but every
 * activation, error and gradient tensor gets the shift its current range needs. */
static void train_step_dynamic(priot_session_t *s, const uint8_t *image, uint32_t label)
{
    const priot_model_t *m = s->model;
    priot_train_stats_t *st = &s->stats;
    uint64_t mark = now(s);
    uint32_t cur = 0, l;

    forward_dynamic(s, image, &mark);
    logits_to_static(s->x[m->n_layers], m->n_classes, s->x_exp[m->n_layers], s->err[1]);
    priot_softmax_ce_error(s->err[1], m->n_classes, label, s->err[0], (uint32_t *)0);
    charge(s, &st->loss, &mark);

    for (l = m->n_layers; l-- > 0;) {
        const priot_layer_t *L = &m->layers[l];
        const int conv = L->type == PRIOT_LAYER_CONV;
        const uint32_t row = L->row_edges, plane = (uint32_t)L->out.h * L->out.w;
        const int8_t *e;
        uint32_t o, shift;
        e = output_error(s, L, l, &cur);
        if (l > 0) {   /* the input's error, with this step's weights */
            if (conv)
                priot_conv3x3_error_acc32(L, e, s->w_eff[l], s->wide);
            else
                priot_fc_error_acc32(L, e, s->w_eff[l], s->wide);
            charge(s, &st->backward, &mark);
            shift = priot_dyn_shift(priot_max_abs32(s->wide, L->in_size), 7u);
            charge(s, &st->scale, &mark);
            priot_requant32(s->wide, L->in_size, shift, 0, s->err[cur ^ 1u]);
        }
        /* the whole layer's gradient (zero rows for silent channels), then its range */
        for (o = 0; o < L->out.c; o++) {
            priot_acc_t *g = s->wide + o * row;
            if (conv ? all_zero(e + o * plane, plane) : e[o] == 0)
                memset(g, 0, row * sizeof(priot_acc_t));
            else if (conv)
                priot_conv3x3_grad32(L, e, s->x[l], o, g);
            else
                priot_fc_grad32(L, e, s->x[l], o, g);
        }
        charge(s, &st->backward, &mark);
        shift = priot_dyn_shift(priot_max_abs32(s->wide, L->n_edges), s->cfg.lr_shift);
        charge(s, &st->scale, &mark);
        for (o = 0; o < L->out.c; o++)
            if (conv ? !all_zero(e + o * plane, plane) : e[o] != 0)
                priot_weight_update32(s->w_eff[l] + o * row, s->wide + o * row, row, shift);
        charge(s, &st->update, &mark);
        if (l > 0)
            cur ^= 1u;
    }
    st->samples++;
}

void priot_train_step(priot_session_t *s, const uint8_t *image, uint32_t label)
{
    const priot_model_t *m = s->model;
    priot_train_stats_t *st = &s->stats;
    const uint32_t lr = s->cfg.lr_shift;
    uint64_t mark;
    uint32_t cur = 0, l;

    if (niti_method(&s->cfg)) {
        train_step_dynamic(s, image, label);
        return;
    }
    mark = now(s);

    forward(s, image, 1);
    charge(s, &st->forward, &mark);

    priot_softmax_ce_error(s->x[m->n_layers], m->n_classes, label, s->err[0], (uint32_t *)0);
    charge(s, &st->loss, &mark);

    for (l = m->n_layers; l-- > 0;) {
        const priot_layer_t *L = &m->layers[l];
        const int conv = L->type == PRIOT_LAYER_CONV;
        const uint32_t row = L->row_edges, plane = (uint32_t)L->out.h * L->out.w;
        int16_t *sc = s->scores[l];
        const int8_t *e;
        uint32_t o;
        priot_subset_iter_t it;
        uint32_t next_idx = 0xFFFFFFFFu, j = 0;
        const int subset = subset_method(&s->cfg);
        if (subset) {
            priot_subset_begin(&it, L->n_edges, s->n_scored[l], s->cfg.seed, l);
            next_idx = priot_subset_next(&it);
        }
        e = output_error(s, L, l, &cur);
        /* the input's error first, with this step's weights (static SGD updates them) */
        if (l > 0) {
            const int8_t *w = priot_session_layer_weights(s, l);
            if (conv)
                priot_conv3x3_error_backward(L, e, w, s->err[cur ^ 1u], s->acc);
            else
                priot_fc_error_backward(L, e, w, s->err[cur ^ 1u], s->acc);
        }
        charge(s, &st->backward, &mark);
        /* score gradient and update, one output row at a time; all-zero rows skipped */
        for (o = 0; o < L->out.c; o++) {
            const uint32_t row_end = (o + 1u) * row;
            if (conv ? all_zero(e + o * plane, plane) : e[o] == 0) {
                /* zero gradient: skip the row (and its scored edges) */
                while (subset && next_idx < row_end)
                    next_idx = next_scored(&it, &j, s->n_scored[l]);
                continue;
            }
            if (conv)
                priot_conv3x3_score_grad(L, e, s->x[l], o, o + 1u, s->grad);
            else
                priot_fc_score_grad(L, e, s->x[l], o, o + 1u, s->grad);
            charge(s, &st->backward, &mark);
            if (sgd_method(&s->cfg)) {
                priot_weight_update(s->w_eff[l] + o * row, s->grad, row, lr);
            } else if (!subset) {
                priot_score_update_mask(sc + o * row, L->w + o * row, s->grad, row, lr,
                                        s->mask[l], o * row, s->w_eff[l] + o * row);
            } else {
                priot_subset_score_update(&it, &j, &next_idx, o * row, row_end, sc, L->w,
                                          s->grad, lr, s->mask[l]);
            }
            charge(s, &st->update, &mark);
        }
        if (l > 0)
            cur ^= 1u;   /* err[cur] now holds the error of the layer's input */
        charge(s, &st->backward, &mark);
    }

    update_masks(s, 0);
    charge(s, &st->mask, &mark);
    st->samples++;
}

uint32_t priot_evaluate(priot_session_t *s, const priot_dataset_t *d, uint32_t n,
                        int use_mask, uint32_t phase)
{
    uint32_t i, correct = 0;
    const priot_hooks_t *h = s->hooks;
    for (i = 0; i < n && i < d->n_test; i++) {
        uint32_t pred = priot_predict(s, d->test_x + i * d->image_size, use_mask);
        correct += pred == d->test_y[i];
        if (h && h->on_predict)
            h->on_predict(h->ctx, phase, i, pred);
    }
    return correct;
}

priot_status_t priot_check_dataset(const priot_model_t *m, const priot_dataset_t *d)
{
    if (d->shape.c != m->in.c || d->shape.h != m->in.h || d->shape.w != m->in.w)
        return PRIOT_E_DATA_SHAPE;
    if (d->n_classes != m->n_classes)
        return PRIOT_E_DATA_CLASSES;
    return PRIOT_OK;
}

uint32_t priot_score_crc(const priot_session_t *s)
{
    uint32_t l, crc = 0;
    for (l = 0; l < s->model->n_layers; l++)
        crc = sgd_method(&s->cfg)
                  ? priot_crc32(crc, (const uint8_t *)s->w_eff[l], s->model->layers[l].n_edges)
                  : priot_crc32_i16le(crc, s->scores[l], s->n_scored[l]);
    return crc;
}

static uint32_t limit(uint32_t n, uint32_t lim) { return (lim && lim < n) ? lim : n; }

static uint32_t eval_phase(priot_session_t *s, const priot_dataset_t *d, uint32_t n,
                           uint32_t phase, uint64_t *cycles)
{
    const priot_hooks_t *h = s->hooks;
    uint64_t t0 = now(s);
    uint32_t correct = priot_evaluate(s, d, n, phase != PRIOT_PHASE_FROZEN, phase);
    *cycles = now(s) - t0;
    if (h && h->on_eval)
        h->on_eval(h->ctx, phase, correct, n, *cycles);
    return correct;
}

priot_status_t priot_run(priot_session_t *s, const priot_model_t *m,
                         const priot_dataset_t *d, const priot_config_t *cfg,
                         uint8_t *arena, uint32_t arena_size, const priot_hooks_t *hooks,
                         priot_run_result_t *r)
{
    priot_status_t st;
    uint32_t ep, i, n_tr, n_te, done = 0;
    uint64_t t0, excluded = 0;
    if (!s || !m || !d || !cfg || !r)
        return PRIOT_E_ARG;
    memset(r, 0, sizeof(*r));
    st = priot_check_dataset(m, d);
    if (st != PRIOT_OK)
        return st;
    st = priot_session_init(s, m, cfg, arena, arena_size);
    if (st != PRIOT_OK)
        return st;
    s->hooks = hooks;
    n_tr = limit(d->n_train, cfg->train_limit);
    n_te = limit(d->n_test, cfg->test_limit);
    r->test_total = n_te;
    r->train_per_epoch = n_tr;

    r->frozen_correct = eval_phase(s, d, n_te, PRIOT_PHASE_FROZEN, &r->frozen_cycles);
    r->before_correct = eval_phase(s, d, n_te, PRIOT_PHASE_BEFORE, &r->before_cycles);

    memset(&s->stats, 0, sizeof(s->stats));
    t0 = now(s);
    for (ep = 1; ep <= cfg->epochs; ep++) {
        for (i = 0; i < n_tr; i++) {
            priot_train_step(s, d->train_x + i * d->image_size, d->train_y[i]);
            done++;
            if (cfg->progress_every && done % cfg->progress_every == 0u && hooks &&
                hooks->on_progress) {
                uint64_t tp = now(s);
                hooks->on_progress(hooks->ctx, ep, i + 1u, n_tr);
                excluded += now(s) - tp;
            }
        }
    }
    s->stats.cycles = now(s) - t0 - excluded;
    r->train = s->stats;
    if (hooks && hooks->on_train)
        hooks->on_train(hooks->ctx, &r->train);

    r->after_correct = eval_phase(s, d, n_te, PRIOT_PHASE_AFTER, &r->after_cycles);
    r->score_crc = priot_score_crc(s);
    return PRIOT_OK;
}
