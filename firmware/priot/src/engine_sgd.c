/* Static-scale SGD (method 2, docs/SEMANTICS.md "Static-scale SGD"): the baseline that
 * trains the int8 weights themselves with PRIOT's static shifts; and the RAM weight copy
 * it shares with NITI (engine_niti.c): no scores, no mask, w_eff is the trained copy. */
#include <string.h>
#include "engine_method.h"
#include "priot/crc32.h"
#include "priot/kernels.h"

void priot_weights_layout(priot_session_t *s, const priot_model_t *m,
                          const priot_config_t *cfg, priot_bump_t *b)
{
    uint32_t l;
    (void)cfg;
    for (l = 0; l < m->n_layers; l++) {
        s->n_scored[l] = 0;
        s->scores[l] = (int16_t *)priot_bump(b, 0);   /* no scores: empty, not NULL */
        s->w_eff[l] = (int8_t *)priot_bump(b, m->layers[l].n_edges);
    }
}

void priot_weights_init(priot_session_t *s)
{
    uint32_t l;
    for (l = 0; l < s->model->n_layers; l++)
        memcpy(s->w_eff[l], s->model->layers[l].w, s->model->layers[l].n_edges);
}

void priot_weights_update_masks(priot_session_t *s, int full)
{
    (void)s;
    (void)full;
}

/* CRC-32 of the trained weights (layer order). */
uint8_t *priot_weights_state_layer(const priot_session_t *s, uint32_t l, uint32_t *bytes)
{
    *bytes = s->model->layers[l].n_edges;
    return (uint8_t *)s->w_eff[l];
}

uint32_t priot_weights_crc(const priot_session_t *s)
{
    uint32_t l, crc = 0;
    for (l = 0; l < s->model->n_layers; l++)
        crc = priot_crc32(crc, (const uint8_t *)s->w_eff[l], s->model->layers[l].n_edges);
    return crc;
}

/* w = sat8(w - round(gq / 2^lr_shift)) over the row's weights, rounded as configured. */
static void update_row_weights(priot_session_t *s, uint32_t l, uint32_t o, void *ctx)
{
    const uint32_t row = s->model->layers[l].row_edges;
    (void)ctx;
    (s->cfg.grad_rounding == PRIOT_ROUND_PSEUDO_STOCHASTIC ? priot_weight_update_psto
                                                           : priot_weight_update)(
        s->w_eff[l] + o * row, s->grad, row, s->cfg.lr_shift);
}

static void sgd_train_step(priot_session_t *s, const uint8_t *image, uint32_t label)
{
    priot_static_train_step(s, image, label, update_row_weights, (priot_fc_update_fn)0,
                            (void *)0);
}

const priot_method_ops_t priot_method_static_sgd = {
    .lr_shift_max = 31u,
    .score_permille_min = 0u,
    .score_permille_max = 0u,
    .grad_rounding_max = PRIOT_ROUND_PSEUDO_STOCHASTIC,
    .layout = priot_weights_layout,
    .init = priot_weights_init,
    .train_step = sgd_train_step,
    .update_masks = priot_weights_update_masks,
    .layer_weights = priot_ram_layer_weights,
    .forward = priot_forward_trained,
    .state_crc = priot_weights_crc,
    .state_layer = priot_weights_state_layer,
};
