/* NITI (method 3, docs/SEMANTICS.md "NITI: dynamic scales"): integer weight training like
 * static SGD (the RAM weight copy of engine_sgd.c), but every activation, error and
 * gradient tensor gets the shift its current range needs, searched every step over a
 * whole tensor's int32 accumulators (s->wide). The range searches are charged to the
 * TRAIN record's `scale` phase. Kernels: niti.h. */
#include <string.h>
#include "engine_method.h"
#include "priot/kernels.h"
#include "priot/niti.h"

/* The weight copy, then one int32 buffer of the largest tensor (activation, error or
 * weight gradient). */
static void niti_layout(priot_session_t *s, const priot_model_t *m, const priot_config_t *cfg,
                        priot_bump_t *b)
{
    uint32_t l, cap = 0;
    priot_weights_layout(s, m, cfg, b);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        const uint32_t biggest = L->in_size > L->out_size ? L->in_size : L->out_size;
        cap = biggest > cap ? biggest : cap;
        cap = L->n_edges > cap ? L->n_edges : cap;
    }
    s->wide = (priot_acc_t *)priot_bump(b, priot_bytes(cap, 4u));
    s->wide_cap = cap;
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
            priot_conv3x3_acc32(L, s->x[l], s->w_eff[l], s->x_exp[l], s->wide, s->acc_pair);
        else
            priot_fc_acc32(L, s->x[l], s->w_eff[l], s->x_exp[l], s->wide);
        if (mark)
            priot_charge(s, &st->forward, mark);
        shift = priot_dyn_shift(priot_max_abs32(s->wide, L->out_size), 7u);
        if (mark)
            priot_charge(s, &st->scale, mark);
        priot_requant32(s->wide, L->out_size, shift, (L->flags & PRIOT_FLAG_RELU) != 0, s->y[l]);
        if (L->flags & PRIOT_FLAG_POOL)
            priot_maxpool2x2_forward(s->y[l], L->out, s->x[l + 1]);
        s->x_exp[l + 1] = s->x_exp[l] + (int32_t)shift - (int32_t)L->out_shift;
        if (mark)
            priot_charge(s, &st->forward, mark);
    }
}

static void niti_forward(priot_session_t *s, const uint8_t *image)
{
    forward_dynamic(s, image, (uint64_t *)0);
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

/* One NITI step: like static SGD, but with the dynamic shifts; the weight gradients
 * rounded as configured (NITI's own: pseudo-stochastic). */
static void niti_train_step(priot_session_t *s, const uint8_t *image, uint32_t label)
{
    const priot_model_t *m = s->model;
    priot_train_stats_t *st = &s->stats;
    void (*const update)(int8_t *, const priot_acc_t *, uint32_t, uint32_t) =
        s->cfg.grad_rounding == PRIOT_ROUND_PSEUDO_STOCHASTIC ? priot_weight_update32_psto
                                                              : priot_weight_update32;
    uint64_t mark = priot_now(s);
    uint32_t cur = 0, l;

    forward_dynamic(s, image, &mark);
    logits_to_static(s->x[m->n_layers], m->n_classes, s->x_exp[m->n_layers], s->err[1]);
    priot_softmax_ce_error(s->err[1], m->n_classes, label, s->err[0], (uint32_t *)0);
    priot_charge(s, &st->loss, &mark);

    for (l = m->n_layers; l-- > 0;) {
        const priot_layer_t *L = &m->layers[l];
        const int conv = L->type == PRIOT_LAYER_CONV;
        const uint32_t row = L->row_edges;
        const int8_t *e = priot_output_error(s, L, l, &cur);
        uint32_t o, shift;
        if (l > 0) {   /* the input's error, with this step's weights */
            if (conv)
                priot_conv3x3_error_acc32(L, e, s->w_eff[l], s->wide);
            else
                priot_fc_error_acc32(L, e, s->w_eff[l], s->wide);
            priot_charge(s, &st->backward, &mark);
            shift = priot_dyn_shift(priot_max_abs32(s->wide, L->in_size), 7u);
            priot_charge(s, &st->scale, &mark);
            priot_requant32(s->wide, L->in_size, shift, 0, s->err[cur ^ 1u]);
        }
        /* the whole layer's gradient (zero rows for silent channels), then its range */
        for (o = 0; o < L->out.c; o++) {
            priot_acc_t *g = s->wide + o * row;
            if (priot_row_silent(L, e, o))
                memset(g, 0, row * sizeof(priot_acc_t));
            else if (conv)
                priot_conv3x3_grad32(L, e, s->x[l], o, g);
            else
                priot_fc_grad32(L, e, s->x[l], o, g);
        }
        priot_charge(s, &st->backward, &mark);
        shift = priot_dyn_shift(priot_max_abs32(s->wide, L->n_edges), s->cfg.lr_shift);
        priot_charge(s, &st->scale, &mark);
        for (o = 0; o < L->out.c; o++)
            if (!priot_row_silent(L, e, o))
                update(s->w_eff[l] + o * row, s->wide + o * row, row, shift);
        priot_charge(s, &st->update, &mark);
        if (l > 0)
            cur ^= 1u;
    }
    st->samples++;
}

const priot_method_ops_t priot_method_niti = {
    .lr_shift_max = 15u,   /* lr_shift holds NITI's update bits */
    .score_permille_min = 0u,
    .score_permille_max = 0u,
    .grad_rounding_max = PRIOT_ROUND_PSEUDO_STOCHASTIC,
    .layout = niti_layout,
    .init = priot_weights_init,
    .train_step = niti_train_step,
    .update_masks = priot_weights_update_masks,
    .layer_weights = priot_ram_layer_weights,
    .forward = niti_forward,
    .state_crc = priot_weights_crc,
    .state_layer = priot_weights_state_layer,
};
