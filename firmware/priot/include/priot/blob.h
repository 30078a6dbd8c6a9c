/* Parsers of the model, dataset and run-config blobs (docs/BLOBS.md); the same checks as
 * orchestration/priot/blob.py. `len` is the number of readable bytes at `blob` (the whole
 * flash region is fine: the header announces the real size, which must fit in `len`).
 * Blobs must be 4-byte aligned (biases are read as int32 in place) and are read in
 * place: the filled structs point into them. Multi-byte integers are little-endian; the
 * in-place int32 biases assume a little-endian CPU (RP2040, x86, arm64).
 * Every failure returns a distinct priot_status_t (status.h) naming the field. */
#ifndef PRIOT_BLOB_H
#define PRIOT_BLOB_H
#include <stdint.h>
#include "priot/status.h"
#include "priot/types.h"

#define PRIOT_BLOB_VERSION 1u
#define PRIOT_BLOB_HEADER_SIZE 16u
#define PRIOT_MODEL_LAYER_SIZE 32u
#define PRIOT_CONFIG_PAYLOAD_SIZE 32u

priot_status_t priot_parse_model(const uint8_t *blob, uint32_t len, priot_model_t *m);
priot_status_t priot_parse_dataset(const uint8_t *blob, uint32_t len, priot_dataset_t *d);
priot_status_t priot_parse_config(const uint8_t *blob, uint32_t len, priot_config_t *c);

#endif
