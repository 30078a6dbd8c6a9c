/* A PRIOT session: one parsed model + run config, and every buffer of the training loop
 * carved from a caller-provided arena (bump allocator, 4-byte aligned; no malloc).
 *
 * Arena contents: the training method's state first (PRIOT: scores, int16 per edge, and
 * w_eff, int8 per edge; see src/engine_method.h for the others), then the network input,
 * each layer's y (pre-pool) and pooled output, two error buffers, an int32 accumulator
 * plane, one row of score gradients (int16) and each layer's incremental mask state
 * (priot_mask_t: its threshold counts, PRIOT: + one bit per edge). Weights and
 * biases stay in the model blob (flash on the device).
 *
 * The engine knows no method: the session's method table (cfg.method -> src/methods.c)
 * supplies the layout, initial state, training step, masks, forward and checksum.
 *
 * The whole protocol flow is priot_run(); the firmware (firmware/app/main.c) and the host
 * library (host.c, driven from Python) both call it, so their results agree by
 * construction. Semantics: docs/SEMANTICS.md ("One training step" and the sections it
 * names); numpy twin: orchestration/priot/reference.py (run, train_step, predict). */
#ifndef PRIOT_ENGINE_H
#define PRIOT_ENGINE_H
#include <stdint.h>
#include "priot/arith.h"
#include "priot/prune.h"
#include "priot/status.h"
#include "priot/subset.h"
#include "priot/types.h"

struct priot_state_store;   /* state.h */
struct priot_state_info;

/* Evaluation phases (EVAL records of docs/PROTOCOL.md). */
enum { PRIOT_PHASE_FROZEN = 0, PRIOT_PHASE_BEFORE = 1, PRIOT_PHASE_AFTER = 2 };
const char *priot_phase_name(uint32_t phase);   /* "frozen", "before", "after" */

/* Per-phase cycles of training (the TRAIN record). Every phase is timed with hooks->now:
 *   forward  - forward pass of the training samples (with w_eff)
 *   loss     - softmax cross-entropy error of the logits
 *   backward - pool routing, ReLU mask, error propagation and the score *gradient*
 *              (gq = sat16(round_shift(G, grad_shift)), computed one output row at a time)
 *   update   - the score update s = sat16(s - round_shift(gq * w, lr_shift)), per row
 *   mask     - recomputing every layer's top-k mask and w_eff after the sample
 *   scale    - NITI only: the per-tensor range searches (max |v|) and shift choices of
 *              the dynamic scales, the cost static shifts avoid (0 for the other methods)
 *   cycles   - the whole training loop, excluding the time spent in the progress hook
 * Rows whose error is all zero have gq == 0 and are skipped (the update would be a no-op),
 * which is why gradient and update are cheap for ReLU-silenced channels. */
typedef struct {
    uint32_t samples;
    uint64_t cycles, forward, loss, backward, update, mask, scale;
} priot_train_stats_t;

typedef struct {
    void *ctx;
    /* Cycle counter (any monotonic 64-bit count); NULL or a function returning 0 is fine. */
    uint64_t (*now)(void *ctx);
    /* After each evaluation (phase PRIOT_PHASE_*). */
    void (*on_eval)(void *ctx, uint32_t phase, uint32_t correct, uint32_t total,
                    uint64_t cycles);
    /* Every config.progress_every training samples (counted over all epochs):
     * epoch 1-based, done = samples done in this epoch, total = samples per epoch. */
    void (*on_progress)(void *ctx, uint32_t epoch, uint32_t done, uint32_t total);
    /* At the end of training, before the "after" evaluation. */
    void (*on_train)(void *ctx, const priot_train_stats_t *stats);
    /* Optional: every evaluated test sample's predicted label. */
    void (*on_predict)(void *ctx, uint32_t phase, uint32_t index, uint32_t label);
    /* Where the saved state lives (state.h); needed when cfg.persist is set. */
    const struct priot_state_store *state;
    /* Optional: after the restore attempt (event PRIOT_STATE_RESTORED; status PRIOT_OK,
     * PRIOT_E_STATE_NONE or PRIOT_E_STATE_MISMATCH) and after the save
     * (PRIOT_STATE_SAVED); info is NULL for PRIOT_E_STATE_NONE. */
    void (*on_state)(void *ctx, uint32_t event, int status,
                     const struct priot_state_info *info);
} priot_hooks_t;

enum { PRIOT_STATE_RESTORED = 0, PRIOT_STATE_SAVED = 1 };

/* A training method's table of operations (src/engine_method.h). */
typedef struct priot_method_ops priot_method_ops_t;

typedef struct {
    const priot_model_t *model;
    priot_config_t cfg;
    const priot_method_ops_t *ops;    /* the method of cfg.method */
    const priot_hooks_t *hooks;       /* may be NULL (no timing, no callbacks) */

    int16_t *scores[PRIOT_MAX_LAYERS];    /* n_scored[l] scores per layer */
    uint32_t n_scored[PRIOT_MAX_LAYERS];  /* PRIOT: every edge; PRIOT-S: the subset size */
    int8_t *w_eff[PRIOT_MAX_LAYERS];
    int8_t *x[PRIOT_MAX_LAYERS + 1];  /* x[l]: input of layer l; x[n_layers]: logits */
    int8_t *y[PRIOT_MAX_LAYERS];      /* pre-pool output of layer l */
    int8_t *err[2];                   /* error ping-pong buffers, err_cap bytes each */
    priot_acc_t *acc;                 /* accumulator plane */
    /* the conv forward's scratch (PRIOT_CONV_SCRATCH_PLANES planes, kernels.h); it
     * starts at err[1] and covers acc: no error is live during a forward pass */
    priot_acc_t *acc_pair;
    int16_t *grad;                    /* one row of score gradients */
    priot_acc_t *wide;                /* NITI: a whole tensor's int32 accumulators */
    int32_t x_exp[PRIOT_MAX_LAYERS + 1];  /* NITI: x[l]'s exponent minus its static one */
    /* each layer's incremental mask state (prune.h: threshold and its counts; PRIOT also
     * a bitmap of the edges near the threshold); NULL for the weight-training methods */
    priot_mask_t *mask[PRIOT_MAX_LAYERS];
    /* PRIOT-S keeps no per-layer masked copies: w_eff[l] all point at one buffer of the
     * largest layer, filled for one layer at a time from the flash weights and the
     * layer's threshold (priot_session_layer_weights). */
    int16_t mask_thr[PRIOT_MAX_LAYERS];
    uint32_t mask_eq[PRIOT_MAX_LAYERS];
    priot_subset_t *subset;           /* PRIOT-S: each layer's scored subset (arena) */
    uint32_t w_layer;                 /* layer whose weights the shared buffer holds */
    uint32_t err_cap, acc_cap, grad_cap, wide_cap;

    uint8_t *arena;
    uint32_t arena_size, arena_used;

    priot_train_stats_t stats;        /* accumulated by priot_train_step */
} priot_session_t;

typedef struct {
    uint32_t frozen_correct, before_correct, after_correct;
    uint32_t test_total;              /* evaluated test samples (test_limit honoured) */
    uint32_t train_per_epoch;         /* training samples per epoch (train_limit honoured) */
    uint64_t frozen_cycles, before_cycles, after_cycles;
    priot_train_stats_t train;
    uint32_t score_crc;               /* CRC-32 of all scores, int16 little-endian */
    /* cfg.persist: the restore's status (PRIOT_OK: restored, PRIOT_E_STATE_NONE,
     * PRIOT_E_STATE_MISMATCH) and the training samples behind the restored state; the
     * saved state's sequence number, slot and samples (0 when nothing was saved) */
    int32_t restore_status;
    uint32_t restored_samples, saved_sequence, saved_slot, saved_samples;
} priot_run_result_t;

/* Arena bytes a session for this model needs (the exact amount priot_session_init uses). */
uint32_t priot_session_arena_need(const priot_model_t *m);
/* The same for a run config (PRIOT-S keeps scores for its subset only); 0xFFFFFFFF for
 * an unknown method. */
uint32_t priot_session_arena_need_cfg(const priot_model_t *m, const priot_config_t *cfg);

/* Check cfg (priot_config_check, config.h), allocate the buffers and set the method's
 * initial state: PRIOT/PRIOT-S the scores from cfg (seed, score_init, init_shift) and
 * the initial masks, the weight-training methods a RAM copy of the weights.
 * PRIOT_E_ARENA if the arena is too small (arena_used then holds the bytes needed). `m`
 * and the blob it points into must outlive the session. */
priot_status_t priot_session_init(priot_session_t *s, const priot_model_t *m,
                                  const priot_config_t *cfg, uint8_t *arena,
                                  uint32_t arena_size);

/* Recompute every layer's mask and w_eff from the current scores. */
void priot_session_update_masks(priot_session_t *s);

/* The weights layer l computes with (masked for PRIOT/PRIOT-S, the RAM copy for the
 * weight-training methods). For PRIOT-S this (re)builds the shared buffer when it holds
 * another layer, so the pointer is valid until the next call for another layer. */
const int8_t *priot_session_layer_weights(priot_session_t *s, uint32_t l);

/* Forward one uint8 image (model input shape); returns the predicted label. The logits
 * are left in s->x[n_layers]. use_mask = 0: the frozen model (stored weights). */
uint32_t priot_predict(priot_session_t *s, const uint8_t *image, int use_mask);

/* One training step of the session's method (SEMANTICS.md "One training step"), masks
 * recomputed at the end; per-phase cycles added to s->stats when s->hooks->now is set. */
void priot_train_step(priot_session_t *s, const uint8_t *image, uint32_t label);

/* Correct predictions on the first n test samples of d. */
uint32_t priot_evaluate(priot_session_t *s, const priot_dataset_t *d, uint32_t n,
                        int use_mask, uint32_t phase);

/* Check that the dataset fits the model (shape and n_classes). */
priot_status_t priot_check_dataset(const priot_model_t *m, const priot_dataset_t *d);

/* CRC-32 of the trained state: all scores (layer order, little-endian int16), or the
 * trained weights for the weight-training methods. */
uint32_t priot_score_crc(const priot_session_t *s);

/* The protocol flow: init session -> (cfg.persist & RESTORE: the saved state, state.h)
 * -> eval frozen -> eval before -> train `epochs` passes over the first train samples ->
 * eval after -> score CRC -> (cfg.persist & SAVE: save the state). Hooks may be NULL
 * unless cfg.persist is set (then hooks->state is needed). */
priot_status_t priot_run(priot_session_t *s, const priot_model_t *m,
                         const priot_dataset_t *d, const priot_config_t *cfg,
                         uint8_t *arena, uint32_t arena_size, const priot_hooks_t *hooks,
                         priot_run_result_t *r);

#endif
