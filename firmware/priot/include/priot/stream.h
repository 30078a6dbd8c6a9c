/* Stream mode (docs/STREAMING.md): samples arrive one at a time as frames on UART0 and
 * the device predicts, learns, reports and saves while it runs. This is the protocol as a
 * byte-in / bytes-out state machine over a session, so the firmware (app/main.c wires it
 * to UART0) and the host library (host.c) run the same code and answer a stream with the
 * same bytes.
 *
 * Frame: COBS-encoded, terminated by one 0x00 byte. Decoded: u8 command, u8 sequence,
 * payload, u32 CRC-32 (little-endian) of command + sequence + payload. A reply has command
 * | 0x80, the request's sequence, a u8 status, its payload, and the CRC. A frame whose CRC,
 * length or command is wrong changes nothing and gets a reply with the status saying so;
 * an empty frame (0x00 0x00) gets none, so a host may send 0x00 first to end whatever a
 * vanished host left half-sent. */
#ifndef PRIOT_STREAM_H
#define PRIOT_STREAM_H
#include <stdint.h>
#include "priot/engine.h"
#include "priot/state.h"

enum {
    PRIOT_CMD_PREDICT = 1,   /* image -> u8 label */
    PRIOT_CMD_TRAIN = 2,     /* u8 label + image -> u8 label predicted before training,
                                u32 samples seen, u32 of them predicted correctly */
    PRIOT_CMD_REPORT = 3,    /* -> u32 seen, u32 correct, u32 trained this session,
                                u32 trained over all sessions, u32 state CRC */
    PRIOT_CMD_SAVE = 4,      /* -> u32 sequence, u8 slot, u32 bytes (state.h) */
    PRIOT_CMD_RESET = 5,     /* back to the initial state, counters 0 */
    PRIOT_CMD_BAD = 0x7F     /* the command of a reply to a frame that could not be read */
};

enum {
    PRIOT_STREAM_OK = 0,
    PRIOT_STREAM_BAD_CRC = 1,
    PRIOT_STREAM_BAD_LENGTH = 2,     /* payload size wrong for the command */
    PRIOT_STREAM_UNKNOWN_COMMAND = 3,
    PRIOT_STREAM_BAD_FRAME = 4,      /* not COBS, shorter than 6 bytes, or too long */
    PRIOT_STREAM_BAD_LABEL = 5,      /* label >= n_classes */
    PRIOT_STREAM_SAVE_FAILED = 6     /* no store, too big or the flash write failed */
};

typedef struct {
    priot_session_t *s;
    const priot_state_store_t *store;          /* may be NULL: SAVE then fails */
    void (*write)(void *ctx, const uint8_t *p, uint32_t n);
    void *ctx;
    uint32_t samples_base;     /* training samples behind a restored state */
    uint32_t seen, correct, trained;
    uint8_t *buf;              /* the frame being received (decoded in place) */
    uint32_t cap, len, overflow;
    /* for RESET: what priot_session_init needs again */
    const priot_model_t *model;
    priot_config_t cfg;
    uint8_t *arena;
    uint32_t arena_size;
} priot_stream_t;

/* Bytes of frame buffer a model's stream needs (the largest request, COBS-encoded). */
uint32_t priot_stream_buffer_bytes(const priot_model_t *m);

/* A stream over an initialised session (the one priot_session_init set up in arena).
 * buf: priot_stream_buffer_bytes(model) bytes, outside the session's arena part. */
void priot_stream_init(priot_stream_t *st, priot_session_t *s, uint8_t *arena,
                       uint32_t arena_size, const priot_state_store_t *store,
                       uint8_t *buf, uint32_t cap,
                       void (*write)(void *ctx, const uint8_t *p, uint32_t n), void *ctx);

/* What the firmware and the host both do to start a stream: init the session in the
 * arena, restore the saved state when cfg->persist asks (the outcome in *restore, info
 * filled when one was found), and place the frame buffer in the arena after the session.
 * PRIOT_E_ARENA if the arena cannot hold both. */
priot_status_t priot_stream_open(priot_stream_t *st, priot_session_t *s,
                                 const priot_model_t *m, const priot_config_t *cfg,
                                 uint8_t *arena, uint32_t arena_size,
                                 const priot_hooks_t *hooks, const priot_state_store_t *store,
                                 void (*write)(void *ctx, const uint8_t *p, uint32_t n),
                                 void *ctx, priot_status_t *restore,
                                 priot_state_info_t *info);

/* One received byte; a complete frame is answered through write before it returns. */
void priot_stream_feed(priot_stream_t *st, uint8_t byte);

#endif
