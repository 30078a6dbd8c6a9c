/* Layer kernels, one function per op, CMSIS-NN style. The normative behaviour of every
 * function is the section of docs/SEMANTICS.md named in its comment. numpy twins in
 * orchestration/priot/reference.py: input_from_pixels, layer_forward (conv_acc / fc_acc +
 * requant), maxpool, maxpool_backward, relu_backward, error_backward (conv_error_acc /
 * fc_error_acc), score_grad (conv_score_grad / fc_score_grad), score_update,
 * softmax_probs_q15 / softmax_error, argmax_first.
 *
 * Conventions: tensors are CHW int8 arrays (batch 1), weights are the layout of the blob
 * ([out_c][in_c][3][3] / [out][in]); `w` arguments are the weights actually used (the
 * stored weights for the frozen model, w_eff otherwise); scratch buffers are
 * caller-provided (no allocation); integers only, 32-bit arithmetic only. */
#ifndef PRIOT_KERNELS_H
#define PRIOT_KERNELS_H
#include <stdint.h>
#include "priot/arith.h"
#include "priot/types.h"

/* "Number formats": x = pixel >> 1. */
void priot_input_q7(const uint8_t *pixels, int8_t *x, uint32_t n);

/* "Layers", conv: y[o] = requant(b[o] + 3x3 same correlation of x with w[o]), RELU if
 * flagged. x: in shape, y: out shape (pre-pool). acc: scratch of PRIOT_CONV_SCRATCH_PLANES *
 * in.h * in.w words (the optimised kernel computes two output channels at a time, with one
 * more plane for their packed sums). */
#define PRIOT_CONV_SCRATCH_PLANES 3u
void priot_conv3x3_forward(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                           int8_t *y, priot_acc_t *acc);

/* "Layers", fc: y[o] = requant(b[o] + sum_j x[j] w[o][j]), RELU if flagged. */
void priot_fc_forward(const priot_layer_t *L, const int8_t *x, const int8_t *w, int8_t *y);

/* "Layers", POOL: 2x2 max pool, stride 2, floor; ties -> first in (0,0),(0,1),(1,0),(1,1). */
void priot_maxpool2x2_forward(const int8_t *y, priot_tensor_shape_t s, int8_t *out);

/* "Backward pass" 1: route e_pooled (pooled shape) to each window's argmax in y (shape
 * s); every other position of e_y (shape s) gets 0. */
void priot_maxpool2x2_backward(const int8_t *e_pooled, const int8_t *y,
                               priot_tensor_shape_t s, int8_t *e_y);

/* "Backward pass" 2: e[k] = 0 where y[k] <= 0 (in place). */
void priot_relu_backward(int8_t *e, const int8_t *y, uint32_t n);

/* "Backward pass" 4, conv: e_in = sat8(round_shift(transposed conv of e_out with w,
 * err_shift)). e_out: out shape, e_in: in shape, acc: scratch of in.h * in.w words. */
void priot_conv3x3_error_backward(const priot_layer_t *L, const int8_t *e_out,
                                  const int8_t *w, int8_t *e_in, priot_acc_t *acc);

/* "Backward pass" 4, fc: e_in[j] = sat8(round_shift(sum_o e_out[o] w[o][j], err_shift)).
 * acc: scratch of in.c words. */
void priot_fc_error_backward(const priot_layer_t *L, const int8_t *e_out, const int8_t *w,
                             int8_t *e_in, priot_acc_t *acc);

/* "PRIOT: Score gradient" for output channels o_begin..o_end-1:
 * gq = sat16(round_shift(G, grad_shift)), written row after row (row_edges per channel)
 * starting at gq[0]. x is the layer input, e_out the error of y after pool routing and
 * the ReLU mask. */
void priot_conv3x3_score_grad(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                              uint32_t o_begin, uint32_t o_end, int16_t *gq);
void priot_fc_score_grad(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                         uint32_t o_begin, uint32_t o_end, int16_t *gq);

/* "PRIOT: Score update": s = sat16(s - round_shift(gq * w, lr_shift)), w stored weights. */
/* Static-scale weight training (SEMANTICS.md "Static-scale SGD"):
 * w = sat8(w - round_shift(gq, lr_shift)) for n weights (the RAM copy). */
void priot_weight_update(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift);
/* The same with NITI's pseudo-stochastic rounding (SEMANTICS.md "Gradient rounding"):
 * w = sat8(w - psto_shift(gq, lr_shift)). */
void priot_weight_update_psto(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift);

void priot_score_update(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                        uint32_t lr_shift);

/* "Loss": T table (256 entries, T[0] = 65536). */
extern const uint32_t priot_exp_table[256];

/* "Loss": the Q15 softmax p of logits z (n in 1..64), and the error of the logits
 * e = sat8(round_shift(p - onehot(label) * 32768, 8)). p may be NULL. */
void priot_softmax_ce_error(const int8_t *z, uint32_t n, uint32_t label, int8_t *e,
                            uint32_t *p);

/* "Prediction": index of the first maximum. */
uint32_t priot_argmax_i8(const int8_t *z, uint32_t n);

#endif
