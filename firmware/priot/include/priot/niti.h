/* Kernels of the NITI-style baseline (method 3, docs/SEMANTICS.md "NITI: dynamic scales"):
 * integer training whose per-tensor shifts are recomputed every step from each tensor's
 * current range, the cost PRIOT's static shifts avoid. These kernels stop at the int32
 * accumulators (whole tensors, so the range is known before anything is rounded); the
 * max search and the rounding are separate calls, so the engine can time the max search
 * as its own phase. numpy twins in orchestration/priot/reference.py: conv_acc, fc_acc,
 * conv_error_acc, fc_error_acc, conv_score_grad, fc_score_grad.
 *
 * Conventions as in kernels.h; accumulators are priot_acc_t (int32 wrap-around). */
#ifndef PRIOT_NITI_H
#define PRIOT_NITI_H
#include <stdint.h>
#include "priot/arith.h"
#include "priot/niti_scale.h"   /* priot_bias_rescale, priot_dyn_shift */
#include "priot/types.h"

/* acc[o][p] = bias_rescale(b[o], d) + 3x3 same correlation of x with w[o] (all out.c
 * planes, out.h * out.w words each). pair: scratch of PRIOT_CONV_SCRATCH_PLANES * in.h *
 * in.w words (the optimised kernel's output-channel pairs, kernels.h). */
void priot_conv3x3_acc32(const priot_layer_t *L, const int8_t *x, const int8_t *w, int32_t d,
                         priot_acc_t *acc, priot_acc_t *pair);
/* acc[o] = bias_rescale(b[o], d) + sum_j x[j] w[o][j]. */
void priot_fc_acc32(const priot_layer_t *L, const int8_t *x, const int8_t *w, int32_t d,
                    priot_acc_t *acc);

/* Input error accumulators before any shift: the transposed conv of e_out with w (in
 * shape) / acc[j] = sum_o e_out[o] w[o][j]. */
void priot_conv3x3_error_acc32(const priot_layer_t *L, const int8_t *e_out, const int8_t *w,
                               priot_acc_t *acc);
void priot_fc_error_acc32(const priot_layer_t *L, const int8_t *e_out, const int8_t *w,
                          priot_acc_t *acc);

/* The weight gradient G of output channel o (row_edges words), unshifted. */
void priot_conv3x3_grad32(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                          uint32_t o, priot_acc_t *g);
void priot_fc_grad32(const priot_layer_t *L, const int8_t *e_out, const int8_t *x, uint32_t o,
                     priot_acc_t *g);

/* max |a[i]| (|INT32_MIN| = 2^31): the per-tensor range search. */
uint32_t priot_max_abs32(const priot_acc_t *a, uint32_t n);

/* y = sat8(round_shift(a, shift)), then ReLU if relu. */
void priot_requant32(const priot_acc_t *a, uint32_t n, uint32_t shift, int relu, int8_t *y);

/* w = sat8(w - round_shift(g, shift)) for n weights. */
void priot_weight_update32(int8_t *w, const priot_acc_t *g, uint32_t n, uint32_t shift);
/* w = sat8(w - psto_shift(g, shift)): NITI's pseudo-stochastic rounding (its default). */
void priot_weight_update32_psto(int8_t *w, const priot_acc_t *g, uint32_t n, uint32_t shift);

#endif
