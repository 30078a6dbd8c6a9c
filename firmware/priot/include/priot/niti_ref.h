/* The plain NITI kernels (src/niti_ref.c): the specification in C of the optimised kernels
 * of niti.h with the same name minus the `_ref` suffix. Same arguments, same results bit
 * for bit (int32 wrap-around sums, only reordered); tests/test_niti_fast.py compares the
 * two. Built with -DPRIOT_REFERENCE_KERNELS=1 (make REF=1), the public niti.h names call
 * these: the "before" image of `invoke bench`. */
#ifndef PRIOT_NITI_REF_H
#define PRIOT_NITI_REF_H
#include <stdint.h>
#include "priot/arith.h"
#include "priot/types.h"

void priot_conv3x3_acc32_ref(const priot_layer_t *L, const int8_t *x, const int8_t *w,
                             int32_t d, priot_acc_t *acc, priot_acc_t *pair);
void priot_fc_acc32_ref(const priot_layer_t *L, const int8_t *x, const int8_t *w, int32_t d,
                        priot_acc_t *acc);
void priot_conv3x3_error_acc32_ref(const priot_layer_t *L, const int8_t *e_out,
                                   const int8_t *w, priot_acc_t *acc);
void priot_fc_error_acc32_ref(const priot_layer_t *L, const int8_t *e_out, const int8_t *w,
                              priot_acc_t *acc);
void priot_conv3x3_grad32_ref(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                              uint32_t o, priot_acc_t *g);
void priot_fc_grad32_ref(const priot_layer_t *L, const int8_t *e_out, const int8_t *x,
                         uint32_t o, priot_acc_t *g);
uint32_t priot_max_abs32_ref(const priot_acc_t *a, uint32_t n);
void priot_requant32_ref(const priot_acc_t *a, uint32_t n, uint32_t shift, int relu,
                         int8_t *y);
void priot_weight_update32_ref(int8_t *w, const priot_acc_t *g, uint32_t n, uint32_t shift);
void priot_weight_update32_psto_ref(int8_t *w, const priot_acc_t *g, uint32_t n,
                                    uint32_t shift);

#endif
