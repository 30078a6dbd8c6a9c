/* The one range check of a run config (docs/BLOBS.md "Run-config payload"), used by the blob
 * parser (priot_parse_config) and the session (priot_session_init). */
#ifndef PRIOT_CONFIG_H
#define PRIOT_CONFIG_H
#include "priot/status.h"
#include "priot/types.h"

/* PRIOT_OK, or the PRIOT_E_CONFIG_* code naming the first field out of range, in this
 * order: keep_permille 1..1000, lr_shift 0..31, score_init 0..1, init_shift 0..14, method
 * (a registered code), lr_shift within the method's range (NITI 0..15), epochs 0..1000,
 * score_permille within the method's range (PRIOT-S 1..1000, the others 0), grad_rounding
 * within the method's range (static SGD and NITI 0..1, the others 0), subset_rule
 * (PRIOT-S 0..1, the others 0), last_layer_permille (PRIOT-S 0..1000, the others 0),
 * persist 0..3, mode 0..1. */
priot_status_t priot_config_check(const priot_config_t *c);

#endif
