/* Host entry points (host.h) for ctypes. */
#include <string.h>
#include "priot/blob.h"
#include "priot/host.h"
#include "priot/kernels.h"
#include "priot/kernels_ref.h"
#include "priot/niti.h"
#include "priot/niti_ref.h"
#include "priot/prune.h"
#include "priot/rng.h"
#include "priot/state.h"
#include "priot/stream.h"
#include "priot/subset.h"

int32_t priot_host_api_version(void) { return PRIOT_HOST_API_VERSION; }
const char *priot_host_status_str(int32_t code) { return priot_status_str(code); }
uint32_t priot_host_sizeof_result(void) { return (uint32_t)sizeof(priot_host_result_t); }

int32_t priot_host_parse_model(const uint8_t *blob, uint32_t len)
{
    priot_model_t m;
    return priot_parse_model(blob, len, &m);
}

int32_t priot_host_parse_dataset(const uint8_t *blob, uint32_t len)
{
    priot_dataset_t d;
    return priot_parse_dataset(blob, len, &d);
}

int32_t priot_host_parse_config(const uint8_t *blob, uint32_t len)
{
    priot_config_t c;
    return priot_parse_config(blob, len, &c);
}

uint32_t priot_host_arena_need(const uint8_t *model, uint32_t model_len, int32_t *status)
{
    priot_model_t m;
    priot_status_t st = priot_parse_model(model, model_len, &m);
    if (status)
        *status = st;
    return st == PRIOT_OK ? priot_session_arena_need(&m) : 0u;
}

uint32_t priot_host_arena_need_cfg(const uint8_t *model, uint32_t model_len,
                                   const uint8_t *config, uint32_t config_len, int32_t *status)
{
    priot_model_t m;
    priot_config_t c;
    priot_status_t st = priot_parse_model(model, model_len, &m);
    if (st == PRIOT_OK)
        st = priot_parse_config(config, config_len, &c);
    if (status)
        *status = st;
    return st == PRIOT_OK ? priot_session_arena_need_cfg(&m, &c) : 0u;
}

typedef struct {
    uint8_t *pred;
    uint32_t cap, total;
} pred_ctx_t;

static void on_predict(void *ctx, uint32_t phase, uint32_t index, uint32_t label)
{
    pred_ctx_t *c = (pred_ctx_t *)ctx;
    uint32_t k = phase * c->total + index;
    if (c->pred && k < c->cap)
        c->pred[k] = (uint8_t)label;
}

static uint32_t copy_scores(const priot_session_t *s, int16_t *out, uint32_t cap)
{
    uint32_t l, off = 0;
    for (l = 0; l < s->model->n_layers; l++) {
        uint32_t n = s->n_scored[l];
        if (off + n > cap)
            return 0;
        memcpy(out + off, s->scores[l], n * sizeof(int16_t));
        off += n;
    }
    return 1;
}

/* The saved-state slots in a host buffer, with NOR flash semantics: erase sets 0xFF,
 * programming can only clear bits. */
typedef struct {
    uint8_t *region;
    uint32_t slot_size;
    priot_host_state_t *out;
} host_store_t;

static int host_erase(void *ctx, uint32_t slot)
{
    host_store_t *h = (host_store_t *)ctx;
    if (slot > 1u)
        return -1;
    memset(h->region + slot * h->slot_size, 0xFF, h->slot_size);
    return 0;
}

static int host_program(void *ctx, uint32_t slot, uint32_t off, const uint8_t *page)
{
    host_store_t *h = (host_store_t *)ctx;
    uint8_t *dst;
    uint32_t i;
    if (slot > 1u || off % PRIOT_STATE_PAGE || off + PRIOT_STATE_PAGE > h->slot_size)
        return -1;
    dst = h->region + slot * h->slot_size + off;
    for (i = 0; i < PRIOT_STATE_PAGE; i++)
        dst[i] &= page[i];
    return 0;
}

typedef struct {
    pred_ctx_t pred;
    host_store_t store;
} host_ctx_t;

static int host_erase_ctx(void *ctx, uint32_t slot)
{
    return host_erase(&((host_ctx_t *)ctx)->store, slot);
}

static int host_program_ctx(void *ctx, uint32_t slot, uint32_t off, const uint8_t *page)
{
    return host_program(&((host_ctx_t *)ctx)->store, slot, off, page);
}

/* The saved-state slots in a caller's buffer, as the engine's store. */
static void host_store_init(host_ctx_t *hc, priot_state_store_t *store, uint8_t *region,
                            uint32_t slot_size)
{
    hc->store.region = region;
    hc->store.slot_size = slot_size;
    store->base = region;
    store->slot_size = slot_size;
    store->ctx = hc;
    store->erase = host_erase_ctx;
    store->program = host_program_ctx;
}

static void host_on_predict(void *ctx, uint32_t phase, uint32_t index, uint32_t label)
{
    on_predict(&((host_ctx_t *)ctx)->pred, phase, index, label);
}

static void host_on_state(void *ctx, uint32_t event, int status, const priot_state_info_t *info)
{
    priot_host_state_t *o = ((host_ctx_t *)ctx)->store.out;
    uint32_t *f = event == PRIOT_STATE_SAVED ? &o->saved_slot : &o->restored_slot;
    if (event == PRIOT_STATE_SAVED)
        o->saved_status = status;
    else
        o->restored_status = status;
    if (info && (status == PRIOT_OK || status == PRIOT_E_STATE_MISMATCH)) {
        f[0] = info->slot;
        f[1] = info->sequence;
        f[2] = info->samples;
        f[3] = info->bytes;
        f[4] = info->state_crc;
    }
}

static int32_t host_run(const uint8_t *model, uint32_t model_len, const uint8_t *dataset,
                        uint32_t dataset_len, const uint8_t *config, uint32_t config_len,
                        uint8_t *arena, uint32_t arena_size, priot_host_result_t *res,
                        int16_t *scores_out, uint32_t scores_cap, uint8_t *pred_out,
                        uint32_t pred_cap, uint8_t *state_region, uint32_t slot_size,
                        priot_host_state_t *state_out);

int32_t priot_host_run(const uint8_t *model, uint32_t model_len, const uint8_t *dataset,
                       uint32_t dataset_len, const uint8_t *config, uint32_t config_len,
                       uint8_t *arena, uint32_t arena_size, priot_host_result_t *res,
                       int16_t *scores_out, uint32_t scores_cap, uint8_t *pred_out,
                       uint32_t pred_cap)
{
    return host_run(model, model_len, dataset, dataset_len, config, config_len, arena,
                    arena_size, res, scores_out, scores_cap, pred_out, pred_cap,
                    (uint8_t *)0, 0u, (priot_host_state_t *)0);
}

int32_t priot_host_run_persist(const uint8_t *model, uint32_t model_len,
                               const uint8_t *dataset, uint32_t dataset_len,
                               const uint8_t *config, uint32_t config_len, uint8_t *arena,
                               uint32_t arena_size, priot_host_result_t *res,
                               int16_t *scores_out, uint32_t scores_cap, uint8_t *pred_out,
                               uint32_t pred_cap, uint8_t *state_region, uint32_t slot_size,
                               priot_host_state_t *state_out)
{
    if (!state_region || !state_out || slot_size == 0u || slot_size % PRIOT_STATE_SECTOR)
        return PRIOT_E_ARG;
    return host_run(model, model_len, dataset, dataset_len, config, config_len, arena,
                    arena_size, res, scores_out, scores_cap, pred_out, pred_cap, state_region,
                    slot_size, state_out);
}

static int32_t host_run(const uint8_t *model, uint32_t model_len, const uint8_t *dataset,
                        uint32_t dataset_len, const uint8_t *config, uint32_t config_len,
                        uint8_t *arena, uint32_t arena_size, priot_host_result_t *res,
                        int16_t *scores_out, uint32_t scores_cap, uint8_t *pred_out,
                        uint32_t pred_cap, uint8_t *state_region, uint32_t slot_size,
                        priot_host_state_t *state_out)
{
    priot_model_t m;
    priot_dataset_t d;
    priot_config_t c;
    priot_session_t s;
    priot_run_result_t r;
    priot_hooks_t hooks;
    host_ctx_t hc;
    priot_state_store_t store;
    priot_status_t st;
    if (!res)
        return PRIOT_E_ARG;
    memset(res, 0, sizeof(*res));
    st = priot_parse_model(model, model_len, &m);
    if (st == PRIOT_OK)
        st = priot_parse_dataset(dataset, dataset_len, &d);
    if (st == PRIOT_OK)
        st = priot_parse_config(config, config_len, &c);
    if (st == PRIOT_OK && scores_out && scores_cap < m.n_edges)
        st = PRIOT_E_BUFFER;
    if (st != PRIOT_OK) {
        res->status = st;
        return st;
    }
    res->n_edges = m.n_edges;
    res->n_layers = m.n_layers;
    res->n_classes = m.n_classes;
    memset(&hooks, 0, sizeof(hooks));
    hc.pred.pred = pred_out;
    hc.pred.cap = pred_out ? pred_cap : 0u;
    hc.pred.total = c.test_limit && c.test_limit < d.n_test ? c.test_limit : d.n_test;
    hooks.ctx = &hc;
    hooks.on_predict = host_on_predict;
    if (state_region) {
        memset(state_out, 0, sizeof(*state_out));
        state_out->restored_status = state_out->saved_status = -1;
        host_store_init(&hc, &store, state_region, slot_size);
        hc.store.out = state_out;
        hooks.state = &store;
        hooks.on_state = host_on_state;
    }
    st = priot_run(&s, &m, &d, &c, arena, arena_size, &hooks, &r);
    res->arena_used = s.arena_used;
    res->status = st;
    if (st != PRIOT_OK)
        return st;
    res->frozen_correct = r.frozen_correct;
    res->before_correct = r.before_correct;
    res->after_correct = r.after_correct;
    res->test_total = r.test_total;
    res->train_samples = r.train.samples;
    res->train_per_epoch = r.train_per_epoch;
    res->score_crc = r.score_crc;
    if (scores_out)
        copy_scores(&s, scores_out, scores_cap);
    return PRIOT_OK;
}

int32_t priot_host_curve(const uint8_t *model, uint32_t model_len, const uint8_t *dataset,
                         uint32_t dataset_len, const uint8_t *config, uint32_t config_len,
                         uint8_t *arena, uint32_t arena_size, const uint32_t *points,
                         uint32_t n_points, uint32_t *correct_out)
{
    priot_model_t m;
    priot_dataset_t d;
    priot_config_t c;
    priot_session_t s;
    priot_status_t st;
    uint32_t i = 0, j, n_te;
    if (!points || !correct_out)
        return PRIOT_E_ARG;
    st = priot_parse_model(model, model_len, &m);
    if (st == PRIOT_OK)
        st = priot_parse_dataset(dataset, dataset_len, &d);
    if (st == PRIOT_OK)
        st = priot_parse_config(config, config_len, &c);
    if (st == PRIOT_OK)
        st = priot_check_dataset(&m, &d);
    if (st == PRIOT_OK)
        st = priot_session_init(&s, &m, &c, arena, arena_size);
    if (st != PRIOT_OK)
        return st;
    n_te = c.test_limit && c.test_limit < d.n_test ? c.test_limit : d.n_test;
    for (j = 0; j < n_points; j++) {
        if (j && points[j] < points[j - 1])
            return PRIOT_E_ARG;
        for (; i < points[j] && i < d.n_train; i++)
            priot_train_step(&s, d.train_x + i * d.image_size, d.train_y[i]);
        correct_out[j] = priot_evaluate(&s, &d, n_te, 1, PRIOT_PHASE_AFTER);
    }
    return PRIOT_OK;
}

/* Parse model + config and set up a session whose scores are scores_in (if given). */
static priot_status_t open_session(priot_session_t *s, priot_model_t *m,
                                   const uint8_t *model, uint32_t model_len,
                                   const uint8_t *config, uint32_t config_len,
                                   uint8_t *arena, uint32_t arena_size,
                                   const int16_t *scores_in)
{
    priot_config_t c;
    priot_status_t st = priot_parse_model(model, model_len, m);
    uint32_t l, off = 0;
    if (st != PRIOT_OK)
        return st;
    st = priot_parse_config(config, config_len, &c);
    if (st != PRIOT_OK)
        return st;
    st = priot_session_init(s, m, &c, arena, arena_size);
    if (st != PRIOT_OK || !scores_in)
        return st;
    for (l = 0; l < m->n_layers; l++) {
        memcpy(s->scores[l], scores_in + off, s->n_scored[l] * sizeof(int16_t));
        off += s->n_scored[l];
    }
    priot_session_update_masks(s);
    return PRIOT_OK;
}

int32_t priot_host_train(const uint8_t *model, uint32_t model_len, const uint8_t *config,
                         uint32_t config_len, uint8_t *arena, uint32_t arena_size,
                         const int16_t *scores_in, const uint8_t *images,
                         const uint8_t *labels, uint32_t n, int16_t *scores_out,
                         int8_t *weff_out)
{
    priot_model_t m;
    priot_session_t s;
    uint32_t i, l, off = 0, img;
    priot_status_t st = open_session(&s, &m, model, model_len, config, config_len, arena,
                                     arena_size, scores_in);
    if (st != PRIOT_OK)
        return st;
    img = m.layers[0].in_size;
    for (i = 0; i < n; i++) {
        if (labels[i] >= m.n_classes)
            return PRIOT_E_ARG;
        priot_train_step(&s, images + i * img, labels[i]);
    }
    if (scores_out)
        copy_scores(&s, scores_out, m.n_edges);
    if (weff_out)
        for (l = 0; l < m.n_layers; l++) {
            memcpy(weff_out + off, priot_session_layer_weights(&s, l), m.layers[l].n_edges);
            off += m.layers[l].n_edges;
        }
    return PRIOT_OK;
}

int32_t priot_host_predict(const uint8_t *model, uint32_t model_len, const uint8_t *config,
                           uint32_t config_len, uint8_t *arena, uint32_t arena_size,
                           const int16_t *scores_in, int32_t use_mask, const uint8_t *images,
                           uint32_t n, int8_t *logits_out, uint8_t *pred_out)
{
    priot_model_t m;
    priot_session_t s;
    uint32_t i, img;
    priot_status_t st = open_session(&s, &m, model, model_len, config, config_len, arena,
                                     arena_size, scores_in);
    if (st != PRIOT_OK)
        return st;
    img = m.layers[0].in_size;
    for (i = 0; i < n; i++) {
        uint32_t p = priot_predict(&s, images + i * img, use_mask != 0);
        if (pred_out)
            pred_out[i] = (uint8_t)p;
        if (logits_out)
            memcpy(logits_out + i * m.n_classes, s.x[m.n_layers], m.n_classes);
    }
    return PRIOT_OK;
}

/* ------------------------------------------------------------------ single kernels */

/* The single-kernel wrappers below call the optimised kernels (kernels.c), or the plain
 * reference kernels (kernels_ref.c) after priot_host_use_ref_kernels(1). */
static int32_t use_ref;

void priot_host_use_ref_kernels(int32_t on) { use_ref = on != 0; }

#define KERNEL(name) (use_ref ? name##_ref : name)

int32_t priot_host_round_shift(int32_t v, uint32_t s) { return priot_round_shift(v, s); }
int32_t priot_host_sat8(int32_t v) { return priot_sat8(v); }
int32_t priot_host_sat16(int32_t v) { return priot_sat16(v); }

uint32_t priot_host_rng(uint32_t seed, uint32_t n, uint32_t *out)
{
    priot_rng_t r;
    uint32_t i;
    priot_rng_seed(&r, seed);
    for (i = 0; i < n; i++)
        out[i] = priot_rng_next(&r);
    return r.x;
}

void priot_host_subset(const int8_t *w, uint32_t n, uint32_t k, uint32_t rule, uint32_t seed,
                       uint32_t layer, uint32_t *out)
{
    uint32_t hist[129], j;
    priot_subset_t ss;
    priot_subset_iter_t it;
    priot_subset_plan(&ss, rule, w, n, k, hist);
    priot_subset_begin(&it, &ss, w, n, k, seed, layer);
    for (j = 0; j < k; j++)
        out[j] = priot_subset_next(&it);
}

priot_layer_t priot_host_layer(uint32_t type, uint32_t in_c, uint32_t h, uint32_t w,
                               uint32_t out_c, uint32_t flags, uint32_t out_shift,
                               uint32_t err_shift, uint32_t grad_shift, const int8_t *wt,
                               const int32_t *bias)
{
    priot_layer_t L;
    memset(&L, 0, sizeof(L));
    L.type = (uint8_t)type;
    L.flags = (uint8_t)flags;
    L.out_shift = (uint8_t)out_shift;
    L.err_shift = (uint8_t)err_shift;
    L.grad_shift = (uint8_t)grad_shift;
    L.in.c = (uint16_t)in_c;
    L.in.h = (uint16_t)h;
    L.in.w = (uint16_t)w;
    L.out.c = (uint16_t)out_c;
    L.out.h = (uint16_t)h;
    L.out.w = (uint16_t)w;
    L.next = L.out;
    L.in_size = in_c * h * w;
    L.out_size = out_c * h * w;
    L.next_size = L.out_size;
    L.row_edges = type == PRIOT_LAYER_CONV ? in_c * 9u : in_c;
    L.n_edges = L.row_edges * out_c;
    L.w = wt;
    L.bias = bias;
    return L;
}

uint32_t priot_host_conv_scratch_planes(void) { return PRIOT_CONV_SCRATCH_PLANES; }

void priot_host_conv_forward(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                             uint32_t out_shift, uint32_t relu, const int8_t *x,
                             const int8_t *wt, const int32_t *bias, int8_t *y, uint32_t *acc)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_CONV, in_c, h, w, out_c,
                                 relu ? PRIOT_FLAG_RELU : 0u, out_shift, 0, 0, wt, bias);
    KERNEL(priot_conv3x3_forward)(&L, x, wt, y, acc);
}

void priot_host_fc_forward(uint32_t in_n, uint32_t out_n, uint32_t out_shift, uint32_t relu,
                           const int8_t *x, const int8_t *wt, const int32_t *bias, int8_t *y)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_FC, in_n, 1, 1, out_n,
                                 relu ? PRIOT_FLAG_RELU : 0u, out_shift, 0, 0, wt, bias);
    KERNEL(priot_fc_forward)(&L, x, wt, y);
}

static priot_tensor_shape_t shape3(uint32_t c, uint32_t h, uint32_t w)
{
    priot_tensor_shape_t s;
    s.c = (uint16_t)c;
    s.h = (uint16_t)h;
    s.w = (uint16_t)w;
    return s;
}

void priot_host_maxpool_forward(uint32_t c, uint32_t h, uint32_t w, const int8_t *y,
                                int8_t *out)
{
    priot_maxpool2x2_forward(y, shape3(c, h, w), out);
}

void priot_host_maxpool_backward(uint32_t c, uint32_t h, uint32_t w, const int8_t *e_pooled,
                                 const int8_t *y, int8_t *e_y)
{
    priot_maxpool2x2_backward(e_pooled, y, shape3(c, h, w), e_y);
}

void priot_host_conv_error_backward(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                                    uint32_t err_shift, const int8_t *e_out, const int8_t *wt,
                                    int8_t *e_in, uint32_t *acc)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_CONV, in_c, h, w, out_c, 0, 0, err_shift, 0,
                                 wt, (const int32_t *)0);
    KERNEL(priot_conv3x3_error_backward)(&L, e_out, wt, e_in, acc);
}

void priot_host_fc_error_backward(uint32_t in_n, uint32_t out_n, uint32_t err_shift,
                                  const int8_t *e_out, const int8_t *wt, int8_t *e_in,
                                  uint32_t *acc)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_FC, in_n, 1, 1, out_n, 0, 0, err_shift, 0, wt,
                                 (const int32_t *)0);
    KERNEL(priot_fc_error_backward)(&L, e_out, wt, e_in, acc);
}

void priot_host_conv_score_grad(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                                uint32_t grad_shift, const int8_t *e_out, const int8_t *x,
                                int16_t *gq)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_CONV, in_c, h, w, out_c, 0, 0, 0, grad_shift,
                                 (const int8_t *)0, (const int32_t *)0);
    KERNEL(priot_conv3x3_score_grad)(&L, e_out, x, 0, out_c, gq);
}

void priot_host_fc_score_grad(uint32_t in_n, uint32_t out_n, uint32_t grad_shift,
                              const int8_t *e_out, const int8_t *x, int16_t *gq)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_FC, in_n, 1, 1, out_n, 0, 0, 0, grad_shift,
                                 (const int8_t *)0, (const int32_t *)0);
    KERNEL(priot_fc_score_grad)(&L, e_out, x, 0, out_n, gq);
}

void priot_host_score_update(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                             uint32_t lr_shift)
{
    KERNEL(priot_score_update)(s, w, gq, n, lr_shift);
}

void priot_host_weight_update(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift,
                              uint32_t rounding)
{
    (rounding == PRIOT_ROUND_PSEUDO_STOCHASTIC ? KERNEL(priot_weight_update_psto)
                                               : KERNEL(priot_weight_update))(w, gq, n, lr_shift);
}

/* Score gradient of output channels o_begin..o_end-1 only (conv: type 1, fc: type 2). */
void priot_host_score_grad_range(uint32_t type, uint32_t in_c, uint32_t h, uint32_t w,
                                 uint32_t out_c, uint32_t grad_shift, uint32_t o_begin,
                                 uint32_t o_end, const int8_t *e_out, const int8_t *x,
                                 int16_t *gq)
{
    priot_layer_t L = priot_host_layer(type, in_c, h, w, out_c, 0, 0, 0, grad_shift,
                                 (const int8_t *)0, (const int32_t *)0);
    if (type == PRIOT_LAYER_CONV)
        KERNEL(priot_conv3x3_score_grad)(&L, e_out, x, o_begin, o_end, gq);
    else
        KERNEL(priot_fc_score_grad)(&L, e_out, x, o_begin, o_end, gq);
}

/* An fc layer's score update with its gradient fused in (prune.h priot_fc_inputs,
 * priot_fc_score_update_mask) on the incremental mask m: the rows o with e_out[o] != 0.
 * scratch: in_n words. */
void priot_host_fc_score_update_mask(uint32_t in_n, uint32_t out_n, uint32_t grad_shift,
                                     uint32_t lr_shift, const int8_t *e_out, const int8_t *x,
                                     const int8_t *wt, int16_t *s, void *m, int8_t *w_eff,
                                     uint32_t *scratch)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_FC, in_n, 1, 1, out_n, 0, 0, 0, grad_shift,
                                       wt, (const int32_t *)0);
    priot_fc_inputs_t in;
    uint32_t o;
    priot_fc_inputs(&in, &L, x, lr_shift, scratch);
    for (o = 0; o < out_n; o++)
        if (e_out[o])
            priot_fc_score_update_mask(&in, e_out, o, s, (priot_mask_t *)m, w_eff);
}

/* ------------------------------------------------------------------ NITI kernels (niti.h)
 * Optimised (niti.c) or, after priot_host_use_ref_kernels(1), the plain twins (niti_ref.c).
 * d: the input exponent above the static one (bias_rescale); conv: all out_c planes. */

void priot_host_niti_conv_acc(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c, int32_t d,
                              const int8_t *x, const int8_t *wt, const int32_t *bias,
                              uint32_t *acc, uint32_t *pair)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_CONV, in_c, h, w, out_c, 0, 0, 0, 0, wt, bias);
    KERNEL(priot_conv3x3_acc32)(&L, x, wt, d, acc, pair);
}

void priot_host_niti_fc_acc(uint32_t in_n, uint32_t out_n, int32_t d, const int8_t *x,
                            const int8_t *wt, const int32_t *bias, uint32_t *acc)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_FC, in_n, 1, 1, out_n, 0, 0, 0, 0, wt, bias);
    KERNEL(priot_fc_acc32)(&L, x, wt, d, acc);
}

void priot_host_niti_conv_error_acc(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                                    const int8_t *e_out, const int8_t *wt, uint32_t *acc)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_CONV, in_c, h, w, out_c, 0, 0, 0, 0, wt,
                                 (const int32_t *)0);
    KERNEL(priot_conv3x3_error_acc32)(&L, e_out, wt, acc);
}

void priot_host_niti_fc_error_acc(uint32_t in_n, uint32_t out_n, const int8_t *e_out,
                                  const int8_t *wt, uint32_t *acc)
{
    priot_layer_t L = priot_host_layer(PRIOT_LAYER_FC, in_n, 1, 1, out_n, 0, 0, 0, 0, wt,
                                 (const int32_t *)0);
    KERNEL(priot_fc_error_acc32)(&L, e_out, wt, acc);
}

/* Gradients of all out_c output channels, one kernel call per channel as the engine does
 * (type 1: conv, g = out_c x in_c x 9 words; type 2: fc, out_c x in_c). */
void priot_host_niti_grad(uint32_t type, uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                          const int8_t *e_out, const int8_t *x, uint32_t *g)
{
    priot_layer_t L = priot_host_layer(type, in_c, h, w, out_c, 0, 0, 0, 0, (const int8_t *)0,
                                 (const int32_t *)0);
    uint32_t o;
    for (o = 0; o < out_c; o++, g += L.row_edges) {
        if (type == PRIOT_LAYER_CONV)
            KERNEL(priot_conv3x3_grad32)(&L, e_out, x, o, g);
        else
            KERNEL(priot_fc_grad32)(&L, e_out, x, o, g);
    }
}

uint32_t priot_host_niti_max_abs(const uint32_t *a, uint32_t n)
{
    return KERNEL(priot_max_abs32)(a, n);
}

void priot_host_niti_requant(const uint32_t *a, uint32_t n, uint32_t shift, int32_t relu,
                             int8_t *y)
{
    KERNEL(priot_requant32)(a, n, shift, relu, y);
}

void priot_host_niti_weight_update(int8_t *w, const uint32_t *g, uint32_t n, uint32_t shift,
                                   uint32_t rounding)
{
    (rounding == PRIOT_ROUND_PSEUDO_STOCHASTIC ? KERNEL(priot_weight_update32_psto)
                                               : KERNEL(priot_weight_update32))(w, g, n, shift);
}

/* ---- stream mode (stream.h) ------------------------------------------------------- */

typedef struct {
    uint8_t *out;
    uint32_t cap, len, overflow;
} stream_out_t;

static void stream_write(void *ctx, const uint8_t *p, uint32_t n)
{
    stream_out_t *o = (stream_out_t *)ctx;
    if (o->len + n > o->cap) {
        o->overflow = 1;
        return;
    }
    memcpy(o->out + o->len, p, n);
    o->len += n;
}

int32_t priot_host_stream(const uint8_t *model, uint32_t model_len, const uint8_t *config,
                          uint32_t config_len, uint8_t *arena, uint32_t arena_size,
                          const uint8_t *in, uint32_t n_in, uint8_t *out, uint32_t out_cap,
                          uint32_t *out_len, uint8_t *state_region, uint32_t slot_size,
                          int32_t *restore_status)
{
    priot_model_t m;
    priot_config_t c;
    priot_session_t s;
    priot_stream_t st;
    priot_state_info_t info;
    priot_status_t restore = PRIOT_E_STATE_NONE, r;
    host_ctx_t hc;
    priot_state_store_t store;
    stream_out_t o;
    uint32_t i;
    if (!out_len || !restore_status || (n_in && !in))
        return PRIOT_E_ARG;
    r = priot_parse_model(model, model_len, &m);
    if (r == PRIOT_OK)
        r = priot_parse_config(config, config_len, &c);
    if (r != PRIOT_OK)
        return r;
    memset(&hc, 0, sizeof(hc));
    if (state_region)
        host_store_init(&hc, &store, state_region, slot_size);
    o.out = out;
    o.cap = out_cap;
    o.len = o.overflow = 0;
    r = priot_stream_open(&st, &s, &m, &c, arena, arena_size, (const priot_hooks_t *)0,
                          state_region ? &store : (const priot_state_store_t *)0,
                          stream_write, &o, &restore, &info);
    *restore_status = restore;
    if (r != PRIOT_OK)
        return r;
    for (i = 0; i < n_in; i++)
        priot_stream_feed(&st, in[i]);
    *out_len = o.len;
    return o.overflow ? PRIOT_E_BUFFER : PRIOT_OK;
}
