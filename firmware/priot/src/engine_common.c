/* The building blocks the training methods share (engine_method.h): the arena bump
 * allocator, phase timing, the static-scale forward pass and training step.
 * Semantics: docs/SEMANTICS.md. */
#include "engine_method.h"
#include "priot/kernels.h"

void *priot_bump(priot_bump_t *b, uint32_t bytes)
{
    uint32_t start = (b->off + 3u) & ~3u;
    if (start < b->off || bytes > 0xFFFFFFFFu - start) {   /* saturate on overflow */
        b->off = 0xFFFFFFFFu;
        return (void *)0;
    }
    b->off = start + bytes;
    return b->base ? (void *)(b->base + start) : (void *)0;
}

uint64_t priot_now(const priot_session_t *s)
{
    return (s->hooks && s->hooks->now) ? s->hooks->now(s->hooks->ctx) : 0u;
}

void priot_charge(const priot_session_t *s, uint64_t *phase, uint64_t *mark)
{
    uint64_t t;
    if (!s->hooks || !s->hooks->now)
        return;
    t = s->hooks->now(s->hooks->ctx);
    *phase += t - *mark;
    *mark = t;
}

const int8_t *priot_ram_layer_weights(priot_session_t *s, uint32_t l)
{
    return s->w_eff[l];
}

void priot_forward_static(priot_session_t *s, const uint8_t *image, int use_mask)
{
    const priot_model_t *m = s->model;
    uint32_t l;
    priot_input_q7(image, s->x[0], m->layers[0].in_size);
    for (l = 0; l < m->n_layers; l++) {
        const priot_layer_t *L = &m->layers[l];
        const int8_t *w = use_mask ? s->ops->layer_weights(s, l) : L->w;
        if (L->type == PRIOT_LAYER_CONV)
            priot_conv3x3_forward(L, s->x[l], w, s->y[l], s->acc_pair);
        else
            priot_fc_forward(L, s->x[l], w, s->y[l]);
        if (L->flags & PRIOT_FLAG_POOL)
            priot_maxpool2x2_forward(s->y[l], L->out, s->x[l + 1]);
    }
}

void priot_forward_trained(priot_session_t *s, const uint8_t *image)
{
    priot_forward_static(s, image, 1);
}

const int8_t *priot_output_error(priot_session_t *s, const priot_layer_t *L, uint32_t l,
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

void priot_static_train_step(priot_session_t *s, const uint8_t *image, uint32_t label,
                             priot_row_update_fn update_row, priot_fc_update_fn fc_update,
                             void *ctx)
{
    const priot_model_t *m = s->model;
    priot_train_stats_t *st = &s->stats;
    uint64_t mark = priot_now(s);
    uint32_t cur = 0, l;

    priot_forward_static(s, image, 1);
    priot_charge(s, &st->forward, &mark);

    priot_softmax_ce_error(s->x[m->n_layers], m->n_classes, label, s->err[0], (uint32_t *)0);
    priot_charge(s, &st->loss, &mark);

    for (l = m->n_layers; l-- > 0;) {
        const priot_layer_t *L = &m->layers[l];
        const int8_t *e = priot_output_error(s, L, l, &cur);
        uint32_t o;
        /* the input's error first, with this step's weights (static SGD updates them) */
        if (l > 0) {
            const int8_t *w = s->ops->layer_weights(s, l);
            if (L->type == PRIOT_LAYER_CONV)
                priot_conv3x3_error_backward(L, e, w, s->err[cur ^ 1u], s->acc);
            else
                priot_fc_error_backward(L, e, w, s->err[cur ^ 1u], s->acc);
        }
        priot_charge(s, &st->backward, &mark);
        if (fc_update && L->type != PRIOT_LAYER_CONV) {
            /* the fc gradient fused into the update: its time is the update phase's */
            fc_update(s, l, e, ctx);
            priot_charge(s, &st->update, &mark);
        } else {
            /* gradient and update, one output row at a time; silent rows skipped */
            for (o = 0; o < L->out.c; o++) {
                if (priot_row_silent(L, e, o))
                    continue;
                if (L->type == PRIOT_LAYER_CONV)
                    priot_conv3x3_score_grad(L, e, s->x[l], o, o + 1u, s->grad);
                else
                    priot_fc_score_grad(L, e, s->x[l], o, o + 1u, s->grad);
                priot_charge(s, &st->backward, &mark);
                update_row(s, l, o, ctx);
                priot_charge(s, &st->update, &mark);
            }
        }
        if (l > 0)
            cur ^= 1u;   /* err[cur] now holds the error of the layer's input */
        priot_charge(s, &st->backward, &mark);
    }

    s->ops->update_masks(s, 0);
    priot_charge(s, &st->mask, &mark);
    st->samples++;
}
