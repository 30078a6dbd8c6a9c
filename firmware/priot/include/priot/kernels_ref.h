/* The plain reference kernels (src/kernels_ref.c): the specification in C of the
 * optimised kernels of kernels.h with the same name minus the `_ref` suffix. Same
 * arguments, same results bit for bit (docs/SEMANTICS.md); tests/test_kernels_fast.py and
 * the bench firmware (app/bench.c) compare the two. A firmware or host build with
 * -DPRIOT_REFERENCE_KERNELS=1 (make REF=1) makes the public names call these, which is
 * how `invoke bench` measures a whole training step "before" optimisation. */
#ifndef PRIOT_KERNELS_REF_H
#define PRIOT_KERNELS_REF_H
#include <stdint.h>
#include "priot/arith.h"
#include "priot/types.h"

void priot_conv3x3_forward_ref(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                               int8_t *y, priot_acc_t *acc);
void priot_fc_forward_ref(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                          int8_t *y);
void priot_conv3x3_error_backward_ref(const priot_layer_t *L, const int8_t *e_out,
                                      const int8_t *w, int8_t *e_in, priot_acc_t *acc);
void priot_fc_error_backward_ref(const priot_layer_t *L, const int8_t *e_out,
                                 const int8_t *w, int8_t *e_in, priot_acc_t *acc);
void priot_conv3x3_score_grad_ref(const priot_layer_t *L, const int8_t *e_out,
                                  const int8_t *x, uint32_t o_begin, uint32_t o_end,
                                  int16_t *gq);
void priot_fc_score_grad_ref(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                             uint32_t o_begin, uint32_t o_end, int16_t *gq);
void priot_score_update_ref(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                            uint32_t lr_shift);
void priot_weight_update_ref(int8_t *w, const int16_t *gq, uint32_t n, uint32_t lr_shift);
void priot_weight_update_psto_ref(int8_t *w, const int16_t *gq, uint32_t n,
                                  uint32_t lr_shift);

#endif
