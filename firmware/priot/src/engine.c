/* The session and the protocol flow (engine.h): the arena layout, the run loop and the
 * evaluations. The engine knows no training method: each phase calls the session's
 * method table (engine_method.h; the methods in engine_priot.c, engine_sgd.c,
 * engine_niti.c, registered in methods.c). Semantics: docs/SEMANTICS.md. */
#include <string.h>
#include "engine_method.h"
#include "priot/config.h"
#include "priot/kernels.h"
#include "priot/state.h"

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

static uint32_t max_u32(uint32_t a, uint32_t b) { return a > b ? a : b; }

/* The method's state first (its layout op), then the buffers every method shares: the
 * network input, each layer's y and pooled output, two error buffers, the accumulator
 * plane and one row of gradients. With b->base == NULL only the size
 * is computed. */
static void layout(priot_session_t *s, const priot_model_t *m, const priot_config_t *cfg,
                   const priot_method_ops_t *method, priot_bump_t *b)
{
    uint32_t l, err_cap = 0, acc_cap = 0, grad_cap = 0, pair_cap = 0, tail;
    uint8_t *region;
    method->layout(s, m, cfg, b);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        err_cap = max_u32(err_cap, max_u32(L->out_size, L->in_size));
        acc_cap = max_u32(acc_cap, L->type == PRIOT_LAYER_CONV ? (uint32_t)L->in.h * L->in.w
                                                               : L->in.c);
        if (L->type == PRIOT_LAYER_CONV)
            pair_cap = max_u32(pair_cap, PRIOT_CONV_SCRATCH_PLANES * L->in.h * L->in.w);
        grad_cap = max_u32(grad_cap, L->row_edges);
    }
    s->x[0] = (int8_t *)priot_bump(b, m->layers[0].in_size);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        s->y[l] = (int8_t *)priot_bump(b, L->out_size);
        s->x[l + 1] = (L->flags & PRIOT_FLAG_POOL) ? (int8_t *)priot_bump(b, L->next_size)
                                                   : s->y[l];
    }
    s->err[0] = (int8_t *)priot_bump(b, err_cap);
    /* err[1], then acc; the conv forward's three-plane scratch overlays both (the errors
     * are dead during a forward pass), so it costs memory only where err[1] + acc are
     * smaller than three planes (fewer than 8 output channels) */
    tail = ((err_cap + 3u) & ~3u) + priot_bytes(acc_cap, 4u);
    region = (uint8_t *)priot_bump(b, max_u32(tail, priot_bytes(pair_cap, 4u)));
    s->err[1] = (int8_t *)region;
    s->acc = region ? (priot_acc_t *)(region + ((err_cap + 3u) & ~3u)) : (priot_acc_t *)0;
    s->acc_pair = (priot_acc_t *)region;
    s->grad = (int16_t *)priot_bump(b, priot_bytes(grad_cap, 2u));
    s->err_cap = err_cap;
    s->acc_cap = acc_cap;
    s->grad_cap = grad_cap;
}

uint32_t priot_session_arena_need_cfg(const priot_model_t *m, const priot_config_t *cfg)
{
    const priot_method_ops_t *method = priot_method_find(cfg ? cfg->method
                                                             : PRIOT_METHOD_PRIOT);
    priot_session_t tmp;
    priot_bump_t b = {(uint8_t *)0, 0};
    if (!method)
        return 0xFFFFFFFFu;
    layout(&tmp, m, cfg, method, &b);
    return b.off;
}

uint32_t priot_session_arena_need(const priot_model_t *m)
{
    return priot_session_arena_need_cfg(m, (const priot_config_t *)0);
}

/* ------------------------------------------------------------------ session */

priot_status_t priot_session_init(priot_session_t *s, const priot_model_t *m,
                                  const priot_config_t *cfg, uint8_t *arena,
                                  uint32_t arena_size)
{
    priot_bump_t b;
    priot_status_t st;
    uint32_t skew;
    if (!s || !m || !cfg || (!arena && arena_size) || m->n_layers < 1 ||
        m->n_layers > PRIOT_MAX_LAYERS)
        return PRIOT_E_ARG;
    st = priot_config_check(cfg);
    if (st != PRIOT_OK)
        return st;
    memset(s, 0, sizeof(*s));
    s->ops = priot_method_find(cfg->method);
    s->model = m;
    s->cfg = *cfg;
    s->arena = arena;
    s->arena_size = arena_size;
    /* align the arena start; the skipped bytes count as used */
    skew = (uint32_t)((4u - ((uintptr_t)arena & 3u)) & 3u);
    b.base = (uint8_t *)0;
    b.off = 0;
    layout(s, m, cfg, s->ops, &b);
    if (b.off == 0xFFFFFFFFu || skew > arena_size || b.off > arena_size - skew) {
        s->arena_used = b.off == 0xFFFFFFFFu ? b.off : b.off + skew;
        return PRIOT_E_ARENA;
    }
    b.base = arena + skew;
    b.off = 0;
    layout(s, m, cfg, s->ops, &b);
    s->arena_used = b.off + skew;
    s->ops->init(s);
    return PRIOT_OK;
}

void priot_session_update_masks(priot_session_t *s)
{
    s->ops->update_masks(s, 1);
}

const int8_t *priot_session_layer_weights(priot_session_t *s, uint32_t l)
{
    return s->ops->layer_weights(s, l);
}

uint32_t priot_predict(priot_session_t *s, const uint8_t *image, int use_mask)
{
    if (use_mask)
        s->ops->forward(s, image);
    else
        priot_forward_static(s, image, 0);
    return priot_argmax_i8(s->x[s->model->n_layers], s->model->n_classes);
}

void priot_train_step(priot_session_t *s, const uint8_t *image, uint32_t label)
{
    s->ops->train_step(s, image, label);
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
    return s->ops->state_crc(s);
}

static uint32_t limit(uint32_t n, uint32_t lim) { return (lim && lim < n) ? lim : n; }

static uint32_t eval_phase(priot_session_t *s, const priot_dataset_t *d, uint32_t n,
                           uint32_t phase, uint64_t *cycles)
{
    const priot_hooks_t *h = s->hooks;
    uint64_t t0 = priot_now(s);
    uint32_t correct = priot_evaluate(s, d, n, phase != PRIOT_PHASE_FROZEN, phase);
    *cycles = priot_now(s) - t0;
    if (h && h->on_eval)
        h->on_eval(h->ctx, phase, correct, n, *cycles);
    return correct;
}

/* cfg.persist & RESTORE: the saved state replaces the initial one when it was saved for
 * this model and method; none saved, or saved for another, is reported, not an error. */
static priot_status_t restore_state(priot_session_t *s, const priot_hooks_t *hooks,
                                    priot_run_result_t *r)
{
    priot_state_info_t info;
    priot_status_t st = priot_state_restore(s, hooks->state, &info);
    r->restore_status = st;
    if (hooks->on_state)
        hooks->on_state(hooks->ctx, PRIOT_STATE_RESTORED, st,
                        st == PRIOT_E_STATE_NONE ? (const priot_state_info_t *)0 : &info);
    if (st == PRIOT_OK)
        r->restored_samples = info.samples;
    return st == PRIOT_E_STATE_NONE || st == PRIOT_E_STATE_MISMATCH ? PRIOT_OK : st;
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
    if (cfg->persist && !(hooks && hooks->state))
        return PRIOT_E_STATE_STORE;
    st = priot_session_init(s, m, cfg, arena, arena_size);
    if (st != PRIOT_OK)
        return st;
    s->hooks = hooks;
    if (cfg->persist & PRIOT_PERSIST_RESTORE) {
        st = restore_state(s, hooks, r);
        if (st != PRIOT_OK)
            return st;
    }
    n_tr = limit(d->n_train, cfg->train_limit);
    n_te = limit(d->n_test, cfg->test_limit);
    r->test_total = n_te;
    r->train_per_epoch = n_tr;

    r->frozen_correct = eval_phase(s, d, n_te, PRIOT_PHASE_FROZEN, &r->frozen_cycles);
    r->before_correct = eval_phase(s, d, n_te, PRIOT_PHASE_BEFORE, &r->before_cycles);

    memset(&s->stats, 0, sizeof(s->stats));
    t0 = priot_now(s);
    for (ep = 1; ep <= cfg->epochs; ep++) {
        for (i = 0; i < n_tr; i++) {
            priot_train_step(s, d->train_x + i * d->image_size, d->train_y[i]);
            done++;
            if (cfg->progress_every && done % cfg->progress_every == 0u && hooks &&
                hooks->on_progress) {
                uint64_t tp = priot_now(s);
                hooks->on_progress(hooks->ctx, ep, i + 1u, n_tr);
                excluded += priot_now(s) - tp;
            }
        }
    }
    s->stats.cycles = priot_now(s) - t0 - excluded;
    r->train = s->stats;
    if (hooks && hooks->on_train)
        hooks->on_train(hooks->ctx, &r->train);

    r->after_correct = eval_phase(s, d, n_te, PRIOT_PHASE_AFTER, &r->after_cycles);
    r->score_crc = priot_score_crc(s);
    if (cfg->persist & PRIOT_PERSIST_SAVE) {
        priot_state_info_t info;
        st = priot_state_save(s, hooks->state, r->restored_samples + r->train.samples, &info);
        if (hooks->on_state)
            hooks->on_state(hooks->ctx, PRIOT_STATE_SAVED, st, &info);
        if (st != PRIOT_OK)
            return st;
        r->saved_sequence = info.sequence;
        r->saved_slot = info.slot;
        r->saved_samples = info.samples;
    }
    return PRIOT_OK;
}
