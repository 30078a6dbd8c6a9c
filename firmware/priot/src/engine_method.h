/* Inside the engine: what a training method gives the engine (its table of operations,
 * priot_method_ops_t, in the style of TFLite Micro's op registrations) and what the
 * engine gives the methods (engine_common.c: the arena bump allocator, phase timing, the
 * forward pass, the static-scale training step). Not a public header: the session API is
 * priot/engine.h.
 *
 * One method, one file: engine_priot.c (PRIOT, PRIOT-S), engine_sgd.c (static-scale
 * SGD and the RAM weight copy it shares with NITI), engine_niti.c (NITI). methods.c
 * registers them by their config code (types.h, PRIOT_METHOD_*); the engine (engine.c)
 * and the config check (config.c) know a method only through this table. */
#ifndef PRIOT_ENGINE_METHOD_H
#define PRIOT_ENGINE_METHOD_H
#include <stdint.h>
#include "priot/engine.h"

/* Arena bump allocator (4-byte aligned); base == NULL only measures. An overflowing
 * request saturates off at 0xFFFFFFFF (the layout can never fit). */
typedef struct {
    uint8_t *base;
    uint32_t off;
} priot_bump_t;

void *priot_bump(priot_bump_t *b, uint32_t bytes);

/* Bytes of n elements of `size` bytes, saturated at 0xFFFFFFFF (priot_bump then fails). */
static inline uint32_t priot_bytes(uint32_t n, uint32_t size)
{
    return n > 0xFFFFFFFFu / size ? 0xFFFFFFFFu : n * size;
}

struct priot_method_ops {
    /* Config ranges of this method, checked by priot_config_check (config.c). */
    uint8_t lr_shift_max;            /* lr_shift must be 0..lr_shift_max */
    uint16_t score_permille_min, score_permille_max;   /* 0..0 unless the method scores
                                                          a subset */
    uint8_t grad_rounding_max;       /* grad_rounding must be 0..grad_rounding_max (0:
                                        the method does not train weights) */
    uint8_t subset_rule_max;         /* subset_rule 0..max (0 unless it scores a subset) */
    uint16_t last_layer_permille_max;    /* last_layer_permille 0..max (likewise) */
    /* Carve the method's state from the arena: s->scores / n_scored (the scores it
     * trains, none for the weight-training methods), s->w_eff (the weights layers
     * compute with) and any scratch of its own. Runs before the shared buffers. */
    void (*layout)(priot_session_t *s, const priot_model_t *m, const priot_config_t *cfg,
                   priot_bump_t *b);
    /* The initial trained state (scores and masks, or the weight copy), after layout. */
    void (*init)(priot_session_t *s);
    /* One training step on one sample, per-phase cycles charged to s->stats. */
    void (*train_step)(priot_session_t *s, const uint8_t *image, uint32_t label);
    /* Rebuild what derives from the scores (the masks): from scratch (full) or after a
     * training step's updates (incrementally where the method can); nothing for weight
     * training. */
    void (*update_masks)(priot_session_t *s, int full);
    /* The weights layer l computes with (priot_session_layer_weights). */
    const int8_t *(*layer_weights)(priot_session_t *s, uint32_t l);
    /* Forward one image through the trained model (logits in s->x[n_layers]). */
    void (*forward)(priot_session_t *s, const uint8_t *image);
    /* CRC-32 of the trained state (scores, or the trained weights). */
    uint32_t (*state_crc)(const priot_session_t *s);
    /* Layer l's trained state as bytes (*bytes of them): what a saved state keeps and a
     * restore writes back (state.c), the masks being rebuilt from it. */
    uint8_t *(*state_layer)(const priot_session_t *s, uint32_t l, uint32_t *bytes);
};

/* The registered method of a config code, or NULL if the code is unknown (methods.c). */
const priot_method_ops_t *priot_method_find(uint32_t code);

/* ---- engine_common.c: the building blocks the methods share ---------------------- */

/* The hook's cycle counter (0 without one). */
uint64_t priot_now(const priot_session_t *s);
/* Charge the time since *mark to *phase and move the mark (nothing without a counter). */
void priot_charge(const priot_session_t *s, uint64_t *phase, uint64_t *mark);

/* The static-scale forward pass with the stored weights (use_mask 0) or the method's
 * layer weights (use_mask 1). */
void priot_forward_static(priot_session_t *s, const uint8_t *image, int use_mask);
/* priot_forward_static with the method's layer weights (a forward op). */
void priot_forward_trained(priot_session_t *s, const uint8_t *image);
/* s->w_eff[l]: the layer weights of every method that keeps them per layer in RAM. */
const int8_t *priot_ram_layer_weights(priot_session_t *s, uint32_t l);

/* SEMANTICS.md "Backward pass" 1-2: route err[*cur] (the error of layer l's output,
 * pooled shape) through the pool and the ReLU mask; returns the error of y (err[*cur]
 * after the swap). */
const int8_t *priot_output_error(priot_session_t *s, const priot_layer_t *L, uint32_t l,
                                 uint32_t *cur);
/* Whether output channel o of the error e of layer L's y is all zero (the channel's
 * gradient row is then zero, and its update a no-op). */
static inline int priot_row_silent(const priot_layer_t *L, const int8_t *e, uint32_t o)
{
    uint32_t n;
    if (L->type != PRIOT_LAYER_CONV)
        return e[o] == 0;
    n = (uint32_t)L->out.h * L->out.w;
    for (e += o * n; n; n--)
        if (*e++)
            return 0;
    return 1;
}

/* How a static-scale method applies the gradient of output row o of layer l, s->grad
 * (row_edges int16), to its trained state; ctx: the method's own per-step state. */
typedef void (*priot_row_update_fn)(priot_session_t *s, uint32_t l, uint32_t o, void *ctx);

/* A method's gradient and update of a whole fc layer l in one (the gradient fused into
 * the update, not written to s->grad), from the error e of its y; the non-silent rows in
 * increasing o. */
typedef void (*priot_fc_update_fn)(priot_session_t *s, uint32_t l, const int8_t *e,
                                   void *ctx);

/* One training step with the static shifts (SEMANTICS.md "One training step"): forward
 * with the method's layer weights, loss, then from the last layer: the error routing,
 * the input's error with this step's weights, and each non-silent output row's gradient
 * handed to update_row in increasing o, or, for an fc layer when fc_update is given,
 * the layer to fc_update (its time, gradient included, charged to the update phase);
 * finally s->ops->update_masks. */
void priot_static_train_step(priot_session_t *s, const uint8_t *image, uint32_t label,
                             priot_row_update_fn update_row, priot_fc_update_fn fc_update,
                             void *ctx);

/* ---- engine_sgd.c: the RAM weight copy of the weight-training methods ------------ */

/* w_eff[l]: one RAM copy of every layer's weights, trained in place; no scores. */
void priot_weights_layout(priot_session_t *s, const priot_model_t *m,
                          const priot_config_t *cfg, priot_bump_t *b);
void priot_weights_init(priot_session_t *s);
void priot_weights_update_masks(priot_session_t *s, int full);   /* nothing: no mask */
uint32_t priot_weights_crc(const priot_session_t *s);
/* The weight-training methods' state_layer: the RAM weights w_eff[l]. */
uint8_t *priot_weights_state_layer(const priot_session_t *s, uint32_t l, uint32_t *bytes);

#endif
