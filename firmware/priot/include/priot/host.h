/* Host entry points: plain C functions (scalar and pointer arguments only) for ctypes
 * (orchestration/priot/native.py). Built into libpriot.so by `make -C firmware host`; they
 * are portable C too, so the firmware build may compile them (and drop them at link).
 * No allocation: every buffer, including the session arena, comes from the caller. */
#ifndef PRIOT_HOST_H
#define PRIOT_HOST_H
#include <stdint.h>
#include "priot/engine.h"

#define PRIOT_HOST_API_VERSION 2

typedef struct {
    int32_t status;                /* priot_status_t */
    uint32_t frozen_correct, before_correct, after_correct, test_total;
    uint32_t train_samples, train_per_epoch, score_crc;
    uint32_t arena_used, n_edges, n_layers, n_classes;
} priot_host_result_t;

/* What the saved state did in a priot_host_run_persist (state.h): status -1 = not asked,
 * else a priot_status_t; then slot, sequence, samples, bytes, state CRC. */
typedef struct {
    int32_t restored_status;
    uint32_t restored_slot, restored_seq, restored_samples, restored_bytes, restored_crc;
    int32_t saved_status;
    uint32_t saved_slot, saved_seq, saved_samples, saved_bytes, saved_crc;
} priot_host_state_t;

int32_t priot_host_api_version(void);
const char *priot_host_status_str(int32_t code);
uint32_t priot_host_sizeof_result(void);

/* Parse one blob (priot_parse_model/dataset/config); returns the status. */
int32_t priot_host_parse_model(const uint8_t *blob, uint32_t len);
int32_t priot_host_parse_dataset(const uint8_t *blob, uint32_t len);
int32_t priot_host_parse_config(const uint8_t *blob, uint32_t len);

/* Arena bytes the model blob needs (0 and *status set if the blob is invalid). */
uint32_t priot_host_arena_need(const uint8_t *model, uint32_t model_len, int32_t *status);
/* The same for a run config (PRIOT-S needs fewer score bytes). */
uint32_t priot_host_arena_need_cfg(const uint8_t *model, uint32_t model_len,
                                   const uint8_t *config, uint32_t config_len, int32_t *status);

/* The whole priot_run on the three blobs. scores_out (optional, scores_cap entries):
 * the final scores of all layers, concatenated; pred_out (optional, 3 * test_total
 * bytes): predicted labels of the frozen, before and after evaluations. */
int32_t priot_host_run(const uint8_t *model, uint32_t model_len, const uint8_t *dataset,
                       uint32_t dataset_len, const uint8_t *config, uint32_t config_len,
                       uint8_t *arena, uint32_t arena_size, priot_host_result_t *res,
                       int16_t *scores_out, uint32_t scores_cap, uint8_t *pred_out,
                       uint32_t pred_cap);

/* priot_host_run with the saved-state slots in state_region (2 * slot_size bytes, slot_size
 * a multiple of 4096; erased = 0xFF), read and written as the firmware does its flash
 * (config persist bits); what happened in *state_out. */
int32_t priot_host_run_persist(const uint8_t *model, uint32_t model_len,
                               const uint8_t *dataset, uint32_t dataset_len,
                               const uint8_t *config, uint32_t config_len, uint8_t *arena,
                               uint32_t arena_size, priot_host_result_t *res,
                               int16_t *scores_out, uint32_t scores_cap, uint8_t *pred_out,
                               uint32_t pred_cap, uint8_t *state_region, uint32_t slot_size,
                               priot_host_state_t *state_out);

/* Accuracy curve in one pass: for each of the n_points ascending `points`, train on the
 * dataset's training samples up to that count (in order, one pass; train_limit and epochs
 * are ignored) and count the correct predictions on the test samples (test_limit
 * honoured) with the trained state, as priot_run's "after" evaluation would after that
 * many samples. correct_out: n_points counts. */
int32_t priot_host_curve(const uint8_t *model, uint32_t model_len, const uint8_t *dataset,
                         uint32_t dataset_len, const uint8_t *config, uint32_t config_len,
                         uint8_t *arena, uint32_t arena_size, const uint32_t *points,
                         uint32_t n_points, uint32_t *correct_out);

/* Session-level training: scores_in (optional, n_edges entries) replaces the initial
 * scores (masks recomputed), then n training steps on images (n * image bytes) and
 * labels; the final scores go to scores_out and w_eff to weff_out (each optional,
 * n_edges entries). */
int32_t priot_host_train(const uint8_t *model, uint32_t model_len, const uint8_t *config,
                         uint32_t config_len, uint8_t *arena, uint32_t arena_size,
                         const int16_t *scores_in, const uint8_t *images,
                         const uint8_t *labels, uint32_t n, int16_t *scores_out,
                         int8_t *weff_out);

/* Forward n images with the frozen model (scores_in NULL, use_mask 0) or with the masks
 * of scores_in (or of the initial scores if scores_in is NULL). logits_out: n * n_classes
 * int8 (optional); pred_out: n labels (optional). */
int32_t priot_host_predict(const uint8_t *model, uint32_t model_len, const uint8_t *config,
                           uint32_t config_len, uint8_t *arena, uint32_t arena_size,
                           const int16_t *scores_in, int32_t use_mask, const uint8_t *images,
                           uint32_t n, int8_t *logits_out, uint8_t *pred_out);

/* A layer descriptor for the single-kernel entry points (and the bench firmware): a
 * 3x3 same conv (in_c x h x w -> out_c x h x w) or an fc layer (h = w = 1). */
priot_layer_t priot_host_layer(uint32_t type, uint32_t in_c, uint32_t h, uint32_t w,
                               uint32_t out_c, uint32_t flags, uint32_t out_shift,
                               uint32_t err_shift, uint32_t grad_shift, const int8_t *wt,
                               const int32_t *bias);

/* Single kernels with scalar shape arguments (see kernels.h / prune.h). */
int32_t priot_host_round_shift(int32_t v, uint32_t s);
int32_t priot_host_sat8(int32_t v);
int32_t priot_host_sat16(int32_t v);
uint32_t priot_host_rng(uint32_t seed, uint32_t n, uint32_t *out);
/* The k (1..n) scored edges of a PRIOT-S layer of n weights w under subset rule `rule`
 * (subset.h), in iteration order, into out[k]. */
void priot_host_subset(const int8_t *w, uint32_t n, uint32_t k, uint32_t rule, uint32_t seed,
                       uint32_t layer, uint32_t *out);
/* Words of scratch per input plane word that the conv forward and NITI's conv3x3_acc32
 * take (PRIOT_CONV_SCRATCH_PLANES, kernels.h): acc / pair below hold that many planes. */
uint32_t priot_host_conv_scratch_planes(void);
void priot_host_conv_forward(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                             uint32_t out_shift, uint32_t relu, const int8_t *x,
                             const int8_t *wt, const int32_t *bias, int8_t *y, uint32_t *acc);
void priot_host_fc_forward(uint32_t in_n, uint32_t out_n, uint32_t out_shift, uint32_t relu,
                           const int8_t *x, const int8_t *wt, const int32_t *bias, int8_t *y);
void priot_host_maxpool_forward(uint32_t c, uint32_t h, uint32_t w, const int8_t *y,
                                int8_t *out);
void priot_host_maxpool_backward(uint32_t c, uint32_t h, uint32_t w, const int8_t *e_pooled,
                                 const int8_t *y, int8_t *e_y);
void priot_host_conv_error_backward(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                                    uint32_t err_shift, const int8_t *e_out, const int8_t *wt,
                                    int8_t *e_in, uint32_t *acc);
void priot_host_fc_error_backward(uint32_t in_n, uint32_t out_n, uint32_t err_shift,
                                  const int8_t *e_out, const int8_t *wt, int8_t *e_in,
                                  uint32_t *acc);
void priot_host_conv_score_grad(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                                uint32_t grad_shift, const int8_t *e_out, const int8_t *x,
                                int16_t *gq);
void priot_host_fc_score_grad(uint32_t in_n, uint32_t out_n, uint32_t grad_shift,
                              const int8_t *e_out, const int8_t *x, int16_t *gq);
/* An fc layer's score update with the gradient fused in (prune.h priot_fc_inputs /
 * priot_fc_score_update_mask) on m (a priot_mask_t; w_eff NULL without its bitmap): every
 * row o with e_out[o] != 0; scratch: in_n words. */
void priot_host_fc_score_update_mask(uint32_t in_n, uint32_t out_n, uint32_t grad_shift,
                                     uint32_t lr_shift, const int8_t *e_out, const int8_t *x,
                                     const int8_t *wt, int16_t *s, void *m, int8_t *w_eff,
                                     uint32_t *scratch);

/* Single-kernel entry points (host.c) call the optimised kernels, or the reference
 * kernels (kernels_ref.h) while priot_host_use_ref_kernels(1) is in effect. */
void priot_host_use_ref_kernels(int32_t on);
void priot_host_score_update(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                             uint32_t lr_shift);
void priot_host_weight_update(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift,
                              uint32_t rounding);   /* rounding: PRIOT_ROUND_* */

void priot_host_score_grad_range(uint32_t type, uint32_t in_c, uint32_t h, uint32_t w,
                                 uint32_t out_c, uint32_t grad_shift, uint32_t o_begin,
                                 uint32_t o_end, const int8_t *e_out, const int8_t *x,
                                 int16_t *gq);

/* NITI kernels (niti.h; reference twins niti_ref.h under priot_host_use_ref_kernels(1)).
 * priot_host_niti_grad: all out_c channels (type 1 conv, 2 fc), one call per channel. */
void priot_host_niti_conv_acc(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c, int32_t d,
                              const int8_t *x, const int8_t *wt, const int32_t *bias,
                              uint32_t *acc, uint32_t *pair);
void priot_host_niti_fc_acc(uint32_t in_n, uint32_t out_n, int32_t d, const int8_t *x,
                            const int8_t *wt, const int32_t *bias, uint32_t *acc);
void priot_host_niti_conv_error_acc(uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                                    const int8_t *e_out, const int8_t *wt, uint32_t *acc);
void priot_host_niti_fc_error_acc(uint32_t in_n, uint32_t out_n, const int8_t *e_out,
                                  const int8_t *wt, uint32_t *acc);
void priot_host_niti_grad(uint32_t type, uint32_t in_c, uint32_t h, uint32_t w, uint32_t out_c,
                          const int8_t *e_out, const int8_t *x, uint32_t *g);
uint32_t priot_host_niti_max_abs(const uint32_t *a, uint32_t n);
void priot_host_niti_requant(const uint32_t *a, uint32_t n, uint32_t shift, int32_t relu,
                             int8_t *y);
void priot_host_niti_weight_update(int8_t *w, const uint32_t *g, uint32_t n, uint32_t shift,
                                   uint32_t rounding);

/* Stream mode on the host (stream.h): open the stream as the firmware does (session, saved
 * state from state_region when the config's persist bit 0 is set: *restore_status), feed
 * the n_in bytes, and return every reply byte in out (*out_len of them). state_region may
 * be NULL (SAVE then fails). */
int32_t priot_host_stream(const uint8_t *model, uint32_t model_len, const uint8_t *config,
                          uint32_t config_len, uint8_t *arena, uint32_t arena_size,
                          const uint8_t *in, uint32_t n_in, uint8_t *out, uint32_t out_cap,
                          uint32_t *out_len, uint8_t *state_region, uint32_t slot_size,
                          int32_t *restore_status);

#endif
