/* Fixed flash offsets of the blobs (docs/BLOBS.md; orchestration/priot/blob.py holds the
 * same numbers and a test checks they agree). */
#ifndef PRIOT_FLASH_LAYOUT_H
#define PRIOT_FLASH_LAYOUT_H
#define PRIOT_FLASH_BASE     0x10000000u
#define PRIOT_FIRMWARE_MAX   (124u * 1024u)
/* the saved state (priot/state.h): two slots of PRIOT_STATE_SLOT bytes, sector aligned */
#define PRIOT_STATE_ADDR     0x1001F000u
#define PRIOT_STATE_SLOT     (64u * 1024u)
#define PRIOT_CONFIG_ADDR    0x1003F000u
#define PRIOT_CONFIG_MAX     (4u * 1024u)
#define PRIOT_MODEL_ADDR     0x10040000u
#define PRIOT_MODEL_MAX      (768u * 1024u)
#define PRIOT_DATASET_ADDR   0x10100000u
#define PRIOT_DATASET_MAX    (1024u * 1024u)
#endif
