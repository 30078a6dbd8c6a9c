/* PRIOT and PRIOT-S (methods 0 and 1): frozen weights, an int16 score per scored edge,
 * the top-k edges of each layer kept (docs/SEMANTICS.md "PRIOT: scores, mask, update", "PRIOT-S").
 * PRIOT scores every edge and keeps one masked copy per layer in w_eff; PRIOT-S scores a
 * subset (subset.h: the largest |w| or a seeded random one) and keeps one masked-weight
 * buffer of the largest layer, rebuilt from the flash weights and the layer's threshold
 * when a layer is used. */
#include "engine_method.h"
#include "priot/crc32.h"
#include "priot/kernels.h"
#include "priot/prune.h"
#include "priot/rng.h"
#include "priot/subset.h"

/* ------------------------------------------------------------------ layout */

static void full_layout(priot_session_t *s, const priot_model_t *m, const priot_config_t *cfg,
                         priot_bump_t *b)
{
    uint32_t l;
    (void)cfg;
    for (l = 0; l < m->n_layers; l++) {
        s->n_scored[l] = m->layers[l].n_edges;
        s->scores[l] = (int16_t *)priot_bump(b, priot_bytes(s->n_scored[l], 2u));
        s->w_eff[l] = (int8_t *)priot_bump(b, m->layers[l].n_edges);
        /* the incremental mask: threshold counts and the bitmap of its window's edges */
        s->mask[l] = (priot_mask_t *)priot_bump(b, priot_mask_bytes(s->n_scored[l], 1));
    }
}

/* The scored fraction of layer l: last_layer_permille for the last layer when set. */
static uint32_t layer_permille(const priot_model_t *m, const priot_config_t *cfg, uint32_t l)
{
    return l + 1u == m->n_layers && cfg->last_layer_permille ? cfg->last_layer_permille
                                                             : cfg->score_permille;
}

static void subset_layout(priot_session_t *s, const priot_model_t *m,
                           const priot_config_t *cfg, priot_bump_t *b)
{
    uint32_t l, max_edges = 0;
    int8_t *shared;
    s->subset = (priot_subset_t *)priot_bump(b, m->n_layers * (uint32_t)sizeof(priot_subset_t));
    for (l = 0; l < m->n_layers; l++) {
        const uint32_t n = m->layers[l].n_edges;
        max_edges = n > max_edges ? n : max_edges;
        s->n_scored[l] = priot_subset_size(n, layer_permille(m, cfg, l));
        s->scores[l] = (int16_t *)priot_bump(b, priot_bytes(s->n_scored[l], 2u));
        /* the threshold's counts only: a layer's weights are built when it is used */
        s->mask[l] = (priot_mask_t *)priot_bump(b, priot_mask_bytes(s->n_scored[l], 0));
    }
    shared = (int8_t *)priot_bump(b, max_edges);   /* filled layer by layer */
    for (l = 0; l < m->n_layers; l++)
        s->w_eff[l] = shared;
}

/* ------------------------------------------------------------------ masks */

/* Every layer's mask (prune.h, incremental top-k mask): from scratch (full: the scores
 * were set from outside) or refreshed after a step's priot_score_update_mask calls.
 * PRIOT keeps w_eff; PRIOT-S only the thresholds, its weights are built when used. */
static void update_masks(priot_session_t *s, int full, int subset)
{
    uint32_t l;
    for (l = 0; l < s->model->n_layers; l++) {
        const priot_layer_t *L = &s->model->layers[l];
        priot_mask_t *mk = s->mask[l];
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

static void full_update_masks(priot_session_t *s, int full) { update_masks(s, full, 0); }

static void subset_update_masks(priot_session_t *s, int full) { update_masks(s, full, 1); }

static const int8_t *subset_layer_weights(priot_session_t *s, uint32_t l)
{
    const priot_layer_t *L = &s->model->layers[l];
    if (s->w_layer != l) {
        priot_subset_apply(s->scores[l], &s->subset[l], L->w, L->n_edges, s->n_scored[l],
                           s->cfg.seed, l, s->mask_thr[l], s->mask_eq[l], s->w_eff[l]);
        s->w_layer = l;
    }
    return s->w_eff[l];
}

/* ------------------------------------------------------------------ initial state */

/* Initial scores (SEMANTICS.md "PRIOT: scores, mask, update"): magnitude |w| << init_shift plus
 * random low bits, or uniform in -2048..2047; one generator over all scored edges in
 * layer order (PRIOT-S: subset order). Then the masks. */
static void init_scores(priot_session_t *s, int subset)
{
    const priot_model_t *m = s->model;
    const uint32_t shift = s->cfg.init_shift, low_mask = (1u << shift) - 1u;
    priot_rng_t rng;
    uint32_t l, i;
    s->w_layer = PRIOT_MAX_LAYERS;   /* the PRIOT-S weight buffer holds no layer yet */
    priot_rng_seed(&rng, s->cfg.seed);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        int16_t *sc = s->scores[l];
        priot_subset_iter_t it;
        if (subset)
            priot_subset_begin(&it, &s->subset[l], L->w, L->n_edges, s->n_scored[l],
                               s->cfg.seed, l);
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
    s->ops->update_masks(s, 1);
}

static void full_init(priot_session_t *s) { init_scores(s, 0); }

/* Each layer's subset (the magnitude rule's histogram pass; its 129 words of scratch are
 * the layer's mask counts, which priot_mask_init sets afterwards), then the scores. */
static void subset_init(priot_session_t *s)
{
    const priot_model_t *m = s->model;
    uint32_t l;
    for (l = 0; l < m->n_layers; l++)
        priot_subset_plan(&s->subset[l], s->cfg.subset_rule, m->layers[l].w,
                          m->layers[l].n_edges, s->n_scored[l], s->mask[l]->lo);
    init_scores(s, 1);
}

/* ------------------------------------------------------------------ training */

/* s = sat16(s - round_shift(gq * w, lr_shift)) over the row's edges, the mask's counts
 * kept current. */
static void update_row_scores(priot_session_t *s, uint32_t l, uint32_t o, void *ctx)
{
    const uint32_t row = s->model->layers[l].row_edges;
    (void)ctx;
    priot_score_update_mask(s->scores[l] + o * row, s->model->layers[l].w + o * row, s->grad,
                            row, s->cfg.lr_shift, s->mask[l], o * row, s->w_eff[l] + o * row);
}

/* An fc layer's gradient and score update in one (prune.h priot_fc_score_update_mask):
 * the layer's non-zero inputs listed once in s->acc (in.c words, free after the layer's
 * error backward), then the non-silent rows over the listed inputs only. */
static void fc_update_scores(priot_session_t *s, uint32_t l, const int8_t *e, void *ctx)
{
    const priot_layer_t *L = &s->model->layers[l];
    priot_fc_inputs_t in;
    uint32_t o;
    (void)ctx;
    priot_fc_inputs(&in, L, s->x[l], s->cfg.lr_shift, s->acc);
    for (o = 0; o < L->out.c; o++)
        if (e[o])
            priot_fc_score_update_mask(&in, e, o, s->scores[l], s->mask[l], s->w_eff[l]);
}

static void full_train_step(priot_session_t *s, const uint8_t *image, uint32_t label)
{
    priot_static_train_step(s, image, label, update_row_scores, fc_update_scores, (void *)0);
}

/* PRIOT-S: the walk through a layer's scored edges (increasing edge index) during one
 * step; rows are visited in increasing order, silent ones skipped. */
typedef struct {
    uint32_t layer;            /* layer walked (PRIOT_MAX_LAYERS: none yet) */
    priot_subset_iter_t it;
    uint32_t j;                /* subset position of the edge `edge` */
    uint32_t edge;             /* edge index of the next scored edge, UINT32_MAX past the last */
} subset_walk_t;

/* The score update of the row's scored edges; the scored edges of the silent rows before
 * it are stepped over. */
static void update_row_subset(priot_session_t *s, uint32_t l, uint32_t o, void *ctx)
{
    subset_walk_t *w = (subset_walk_t *)ctx;
    const priot_layer_t *L = &s->model->layers[l];
    const uint32_t k = s->n_scored[l], begin = o * L->row_edges, end = begin + L->row_edges;
    if (w->layer != l) {
        w->layer = l;
        w->j = 0;
        priot_subset_begin(&w->it, &s->subset[l], L->w, L->n_edges, k, s->cfg.seed, l);
        w->edge = priot_subset_next(&w->it);
    }
    if (w->edge < begin) {   /* the silent rows' scored edges, counted */
        w->edge = priot_subset_skip(&w->it, w->edge, begin);
        w->j = w->it.j - 1u;
    }
    priot_subset_score_update(&w->it, &w->j, &w->edge, begin, end, s->scores[l], L->w,
                              s->grad, s->cfg.lr_shift, s->mask[l]);
}

static void subset_train_step(priot_session_t *s, const uint8_t *image, uint32_t label)
{
    subset_walk_t walk;
    walk.layer = PRIOT_MAX_LAYERS;
    priot_static_train_step(s, image, label, update_row_subset, (priot_fc_update_fn)0,
                            &walk);
}

/* ------------------------------------------------------------------ checksum */

/* CRC-32 of all scores (layer order, little-endian int16). */
/* The scores of layer l (the state a save keeps; the masks follow from them). */
static uint8_t *scores_state_layer(const priot_session_t *s, uint32_t l, uint32_t *bytes)
{
    *bytes = 2u * s->n_scored[l];
    return (uint8_t *)s->scores[l];
}

static uint32_t scores_crc(const priot_session_t *s)
{
    uint32_t l, crc = 0;
    for (l = 0; l < s->model->n_layers; l++)
        crc = priot_crc32_i16le(crc, s->scores[l], s->n_scored[l]);
    return crc;
}

const priot_method_ops_t priot_method_priot = {
    .lr_shift_max = 31u,
    .score_permille_min = 0u,
    .score_permille_max = 0u,
    .layout = full_layout,
    .init = full_init,
    .train_step = full_train_step,
    .update_masks = full_update_masks,
    .layer_weights = priot_ram_layer_weights,
    .forward = priot_forward_trained,
    .state_crc = scores_crc,
    .state_layer = scores_state_layer,
};

const priot_method_ops_t priot_method_priot_s = {
    .lr_shift_max = 31u,
    .score_permille_min = 1u,
    .score_permille_max = 1000u,
    .subset_rule_max = PRIOT_SUBSET_MAGNITUDE,
    .last_layer_permille_max = 1000u,
    .layout = subset_layout,
    .init = subset_init,
    .train_step = subset_train_step,
    .update_masks = subset_update_masks,
    .layer_weights = subset_layer_weights,
    .forward = priot_forward_trained,
    .state_crc = scores_crc,
    .state_layer = scores_state_layer,
};
