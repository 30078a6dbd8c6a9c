/* Stream mode: frames in, frames out (stream.h, docs/STREAMING.md). */
#include <string.h>
#include "engine_method.h"
#include "priot/crc32.h"
#include "priot/stream.h"

#define HEADER 2u              /* command, sequence */
#define CRC_BYTES 4u
#define REPLY_MAX 32u          /* the largest reply payload */

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint32_t image_bytes(const priot_model_t *m)
{
    return (uint32_t)m->in.c * m->in.h * m->in.w;
}

uint32_t priot_stream_buffer_bytes(const priot_model_t *m)
{
    const uint32_t raw = HEADER + 1u + image_bytes(m) + CRC_BYTES;   /* a TRAIN request */
    return raw + raw / 254u + 2u;                                    /* COBS overhead */
}

void priot_stream_init(priot_stream_t *st, priot_session_t *s, uint8_t *arena,
                       uint32_t arena_size, const priot_state_store_t *store,
                       uint8_t *buf, uint32_t cap,
                       void (*write)(void *ctx, const uint8_t *p, uint32_t n), void *ctx)
{
    memset(st, 0, sizeof(*st));
    st->s = s;
    st->store = store;
    st->write = write;
    st->ctx = ctx;
    st->buf = buf;
    st->cap = cap;
    st->model = s->model;
    st->cfg = s->cfg;
    st->arena = arena;
    st->arena_size = arena_size;
}

priot_status_t priot_stream_open(priot_stream_t *st, priot_session_t *s,
                                 const priot_model_t *m, const priot_config_t *cfg,
                                 uint8_t *arena, uint32_t arena_size,
                                 const priot_hooks_t *hooks, const priot_state_store_t *store,
                                 void (*write)(void *ctx, const uint8_t *p, uint32_t n),
                                 void *ctx, priot_status_t *restore,
                                 priot_state_info_t *info)
{
    const uint32_t need = priot_stream_buffer_bytes(m);
    uint32_t used;
    priot_status_t st_ = priot_session_init(s, m, cfg, arena, arena_size);
    if (st_ != PRIOT_OK)
        return st_;
    s->hooks = hooks;
    used = (s->arena_used + 3u) & ~3u;
    if (used > arena_size || arena_size - used < need)
        return PRIOT_E_ARENA;
    priot_stream_init(st, s, arena, arena_size, store, arena + used, need, write, ctx);
    *restore = PRIOT_E_STATE_NONE;
    if (cfg->persist & PRIOT_PERSIST_RESTORE) {
        if (!store)
            return PRIOT_E_STATE_STORE;
        *restore = priot_state_restore(s, store, info);
        if (*restore == PRIOT_OK)
            st->samples_base = info->samples;
        else if (*restore != PRIOT_E_STATE_NONE && *restore != PRIOT_E_STATE_MISMATCH)
            return *restore;
    }
    return PRIOT_OK;
}

/* COBS-encode src into dst (room for n + n / 254 + 2), with the 0x00 delimiter. */
static uint32_t cobs_encode(const uint8_t *src, uint32_t n, uint8_t *dst)
{
    uint32_t r = 0, w = 1, code_at = 0;
    uint8_t code = 1;
    while (r < n) {
        if (src[r] == 0u) {
            dst[code_at] = code;
            code_at = w++;
            code = 1;
        } else {
            dst[w++] = src[r];
            if (++code == 0xFFu) {
                dst[code_at] = code;
                code_at = w++;
                code = 1;
            }
        }
        r++;
    }
    dst[code_at] = code;
    dst[w++] = 0u;
    return w;
}

/* Decode buf[0..n) in place; the decoded length, or 0xFFFFFFFF if it is not COBS. */
static uint32_t cobs_decode(uint8_t *buf, uint32_t n)
{
    uint32_t r = 0, w = 0;
    while (r < n) {
        const uint32_t code = buf[r++];
        uint32_t i;
        if (code == 0u || r + code - 1u > n)
            return 0xFFFFFFFFu;
        for (i = 1; i < code; i++)
            buf[w++] = buf[r++];
        if (code < 0xFFu && r < n)
            buf[w++] = 0u;
    }
    return w;
}

static void reply(priot_stream_t *st, uint32_t cmd, uint32_t seq, uint32_t status,
                  const uint8_t *payload, uint32_t n)
{
    uint8_t raw[HEADER + 1u + REPLY_MAX + CRC_BYTES], enc[sizeof(raw) + 4u];
    raw[0] = (uint8_t)(cmd | 0x80u);
    raw[1] = (uint8_t)seq;
    raw[2] = (uint8_t)status;
    if (n)
        memcpy(raw + 3, payload, n);
    wr32(raw + 3 + n, priot_crc32(0, raw, 3u + n));
    st->write(st->ctx, enc, cobs_encode(raw, 3u + n + CRC_BYTES, enc));
}

static void dispatch(priot_stream_t *st, const uint8_t *f, uint32_t n)
{
    const uint32_t cmd = f[0], seq = f[1], len = n - HEADER - CRC_BYTES;
    const uint8_t *p = f + HEADER;
    const uint32_t img = image_bytes(st->model);
    uint8_t out[REPLY_MAX];
    if (rd32(f + n - CRC_BYTES) != priot_crc32(0, f, n - CRC_BYTES)) {
        reply(st, cmd & 0x7Fu, seq, PRIOT_STREAM_BAD_CRC, 0, 0);
        return;
    }
    switch (cmd) {
    case PRIOT_CMD_PREDICT:
        if (len != img)
            break;
        out[0] = (uint8_t)priot_predict(st->s, p, 1);
        reply(st, cmd, seq, PRIOT_STREAM_OK, out, 1);
        return;
    case PRIOT_CMD_TRAIN:
        if (len != 1u + img)
            break;
        if (p[0] >= st->model->n_classes) {
            reply(st, cmd, seq, PRIOT_STREAM_BAD_LABEL, 0, 0);
            return;
        }
        /* prequential: the prediction before this sample is learned */
        out[0] = (uint8_t)priot_predict(st->s, p + 1, 1);
        st->seen++;
        st->correct += out[0] == p[0];
        priot_train_step(st->s, p + 1, p[0]);
        st->trained++;
        wr32(out + 1, st->seen);
        wr32(out + 5, st->correct);
        reply(st, cmd, seq, PRIOT_STREAM_OK, out, 9);
        return;
    case PRIOT_CMD_REPORT:
        if (len != 0u)
            break;
        wr32(out, st->seen);
        wr32(out + 4, st->correct);
        wr32(out + 8, st->trained);
        wr32(out + 12, st->samples_base + st->trained);
        wr32(out + 16, priot_score_crc(st->s));
        reply(st, cmd, seq, PRIOT_STREAM_OK, out, 20);
        return;
    case PRIOT_CMD_SAVE: {
        priot_state_info_t info;
        if (len != 0u)
            break;
        if (!st->store ||
            priot_state_save(st->s, st->store, st->samples_base + st->trained, &info) !=
                PRIOT_OK) {
            reply(st, cmd, seq, PRIOT_STREAM_SAVE_FAILED, 0, 0);
            return;
        }
        wr32(out, info.sequence);
        out[4] = (uint8_t)info.slot;
        wr32(out + 5, info.bytes);
        reply(st, cmd, seq, PRIOT_STREAM_OK, out, 9);
        return;
    }
    case PRIOT_CMD_RESET: {
        const priot_hooks_t *hooks = st->s->hooks;
        if (len != 0u)
            break;
        priot_session_init(st->s, st->model, &st->cfg, st->arena, st->arena_size);
        st->s->hooks = hooks;
        st->seen = st->correct = st->trained = st->samples_base = 0;
        reply(st, cmd, seq, PRIOT_STREAM_OK, 0, 0);
        return;
    }
    default:
        reply(st, cmd & 0x7Fu, seq, PRIOT_STREAM_UNKNOWN_COMMAND, 0, 0);
        return;
    }
    reply(st, cmd, seq, PRIOT_STREAM_BAD_LENGTH, 0, 0);
}

void priot_stream_feed(priot_stream_t *st, uint8_t byte)
{
    uint32_t n;
    if (byte != 0u) {
        if (st->len < st->cap)
            st->buf[st->len++] = byte;
        else
            st->overflow = 1;
        return;
    }
    n = st->len;
    st->len = 0;
    if (st->overflow) {
        st->overflow = 0;
        reply(st, PRIOT_CMD_BAD, 0, PRIOT_STREAM_BAD_FRAME, 0, 0);
        return;
    }
    if (n == 0u)
        return;   /* an empty frame: a host resynchronising */
    n = cobs_decode(st->buf, n);
    if (n == 0xFFFFFFFFu || n < HEADER + CRC_BYTES) {
        reply(st, PRIOT_CMD_BAD, 0, PRIOT_STREAM_BAD_FRAME, 0, 0);
        return;
    }
    dispatch(st, st->buf, n);
}
