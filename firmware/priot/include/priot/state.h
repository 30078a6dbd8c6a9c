/* The learned state kept across reboots (docs/BLOBS.md "Saved state"): a session's trained
 * state (PRIOT / PRIOT-S: the scores, from which the masks are rebuilt; static SGD, NITI:
 * the RAM weights) in one of two slots of a reserved flash region, with header, version,
 * sequence number and CRCs. A save erases and programs the slot that does not hold the
 * newest valid state, payload pages first and the header page last, so a power cut at any
 * point leaves the previous good state the newest valid one. A restore takes the newest
 * slot whose CRCs hold, and only onto the model and method it was saved from.
 *
 * Where the slots live is the caller's: the device's flash (erase/program through the boot
 * ROM, firmware/board/rp2040/flash.c) or a host buffer (host.c), so the image written is
 * the same bytes on both. */
#ifndef PRIOT_STATE_H
#define PRIOT_STATE_H
#include <stdint.h>
#include "priot/engine.h"

#define PRIOT_STATE_MAGIC 0x54535250u   /* "PRST" little-endian */
#define PRIOT_STATE_VERSION 1u
#define PRIOT_STATE_HEADER_SIZE 48u
#define PRIOT_STATE_PAGE 256u           /* flash program unit */
#define PRIOT_STATE_SECTOR 4096u        /* flash erase unit */

typedef struct priot_state_store {
    const uint8_t *base;   /* both slots as memory: slot i at base + i * slot_size */
    uint32_t slot_size;    /* bytes per slot, a multiple of PRIOT_STATE_SECTOR */
    void *ctx;
    /* Erase slot (every byte 0xFF afterwards); 0 on success. */
    int (*erase)(void *ctx, uint32_t slot);
    /* Program PRIOT_STATE_PAGE bytes at byte offset off (page aligned) of an erased slot;
     * 0 on success. */
    int (*program)(void *ctx, uint32_t slot, uint32_t off, const uint8_t *page);
} priot_state_store_t;

typedef struct priot_state_info {
    uint32_t slot;         /* 0 or 1 */
    uint32_t sequence;     /* 1 for the first save; the newer valid slot wins */
    uint32_t samples;      /* training samples behind this state, over all sessions */
    uint32_t bytes;        /* header + payload */
    uint32_t state_crc;    /* priot_score_crc of the state */
} priot_state_info_t;

/* Header + payload bytes of the session's state (payload: every layer's trained state in
 * layer order; scores int16 little-endian, weights int8). */
uint32_t priot_state_bytes(const priot_session_t *s);

/* The newest slot whose header and payload CRCs hold (info filled): PRIOT_OK, or
 * PRIOT_E_STATE_NONE when neither slot holds a valid state. Says nothing of the session. */
priot_status_t priot_state_newest(const priot_state_store_t *st, priot_state_info_t *info);

/* Restore the newest valid state into the session (then its masks are rebuilt):
 * PRIOT_OK; PRIOT_E_STATE_NONE (nothing saved yet); PRIOT_E_STATE_MISMATCH (the newest
 * valid state belongs to another model, method or scored subset: the session is left as
 * it was). */
priot_status_t priot_state_restore(priot_session_t *s, const priot_state_store_t *st,
                                   priot_state_info_t *info);

/* Save the session's state with `samples` training samples behind it into the slot not
 * holding the newest valid state, then read it back: PRIOT_OK; PRIOT_E_STATE_TOO_BIG (it
 * does not fit a slot); PRIOT_E_STATE_FLASH (erase / program failed or the read-back
 * differs). */
priot_status_t priot_state_save(const priot_session_t *s, const priot_state_store_t *st,
                                uint32_t samples, priot_state_info_t *info);

#endif
