/* The saved state (state.h, docs/BLOBS.md "Saved state"). */
#include <string.h>
#include "engine_method.h"
#include "priot/crc32.h"
#include "priot/state.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the saved state stores int16 scores little-endian, as they lie in memory here"
#endif

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* What identifies the state's meaning besides the model: the method and, for PRIOT-S,
 * which edges carry the scores (the random rule's subset depends on the seed). */
typedef struct {
    uint32_t model_crc, method, subset_rule, score_permille, last_layer_permille, n_layers;
    uint32_t subset_seed;
} identity_t;

static identity_t identity_of(const priot_session_t *s)
{
    identity_t id;
    const int subset = s->cfg.method == PRIOT_METHOD_PRIOT_S;
    id.model_crc = s->model->crc;
    id.method = s->cfg.method;
    id.subset_rule = subset ? s->cfg.subset_rule : 0u;
    id.score_permille = subset ? s->cfg.score_permille : 0u;
    id.last_layer_permille = subset ? s->cfg.last_layer_permille : 0u;
    id.n_layers = s->model->n_layers;
    id.subset_seed = subset && s->cfg.subset_rule == PRIOT_SUBSET_RANDOM ? s->cfg.seed : 0u;
    return id;
}

static uint32_t payload_bytes(const priot_session_t *s)
{
    uint32_t l, n = 0, b;
    for (l = 0; l < s->model->n_layers; l++) {
        s->ops->state_layer(s, l, &b);
        n += b;
    }
    return n;
}

uint32_t priot_state_bytes(const priot_session_t *s)
{
    return PRIOT_STATE_HEADER_SIZE + payload_bytes(s);
}

static uint32_t payload_crc(const priot_session_t *s)
{
    uint32_t l, b, crc = 0;
    for (l = 0; l < s->model->n_layers; l++) {
        const uint8_t *p = s->ops->state_layer(s, l, &b);
        crc = priot_crc32(crc, p, b);
    }
    return crc;
}

/* A slot's header if its magic, version, size and both CRCs hold (payload_size fits the
 * slot), else NULL. */
static const uint8_t *valid_slot(const priot_state_store_t *st, uint32_t slot)
{
    const uint8_t *h = st->base + slot * st->slot_size;
    uint32_t payload;
    if (rd32(h) != PRIOT_STATE_MAGIC || rd16(h + 4) != PRIOT_STATE_VERSION ||
        rd16(h + 6) != PRIOT_STATE_HEADER_SIZE)
        return (const uint8_t *)0;
    if (rd32(h + 44) != priot_crc32(0, h, 44))
        return (const uint8_t *)0;
    payload = rd32(h + 12);
    if (payload > st->slot_size - PRIOT_STATE_HEADER_SIZE)
        return (const uint8_t *)0;
    if (rd32(h + 40) != priot_crc32(0, h + PRIOT_STATE_HEADER_SIZE, payload))
        return (const uint8_t *)0;
    return h;
}

static void info_of(const uint8_t *h, uint32_t slot, priot_state_info_t *info)
{
    info->slot = slot;
    info->sequence = rd32(h + 8);
    info->samples = rd32(h + 32);
    info->bytes = PRIOT_STATE_HEADER_SIZE + rd32(h + 12);
    info->state_crc = rd32(h + 36);
}

priot_status_t priot_state_newest(const priot_state_store_t *st, priot_state_info_t *info)
{
    const uint8_t *a, *b;
    if (!st || !st->base || !info)
        return PRIOT_E_ARG;
    a = valid_slot(st, 0);
    b = valid_slot(st, 1);
    if (!a && !b)
        return PRIOT_E_STATE_NONE;
    /* the newer of two valid slots; sequence numbers compared modulo 2^32 */
    if (a && (!b || (int32_t)(rd32(a + 8) - rd32(b + 8)) > 0))
        info_of(a, 0, info);
    else
        info_of(b, 1, info);
    return PRIOT_OK;
}

static int identity_matches(const uint8_t *h, const identity_t *id, uint32_t payload)
{
    return rd32(h + 16) == id->model_crc && h[20] == id->method &&
           h[21] == id->subset_rule && rd16(h + 22) == id->score_permille &&
           rd16(h + 24) == id->last_layer_permille && h[26] == id->n_layers &&
           rd32(h + 28) == id->subset_seed && rd32(h + 12) == payload;
}

priot_status_t priot_state_restore(priot_session_t *s, const priot_state_store_t *st,
                                   priot_state_info_t *info)
{
    const identity_t id = identity_of(s);
    const uint8_t *h, *p;
    uint32_t l, b;
    priot_status_t r = priot_state_newest(st, info);
    if (r != PRIOT_OK)
        return r;
    h = st->base + info->slot * st->slot_size;
    if (!identity_matches(h, &id, payload_bytes(s)))
        return PRIOT_E_STATE_MISMATCH;
    p = h + PRIOT_STATE_HEADER_SIZE;
    for (l = 0; l < s->model->n_layers; l++) {
        uint8_t *dst = s->ops->state_layer(s, l, &b);
        memcpy(dst, p, b);
        p += b;
    }
    s->ops->update_masks(s, 1);
    return PRIOT_OK;
}

/* Bytes [off, off + PRIOT_STATE_PAGE) of the slot image (header, then every layer's
 * state; 0xFF past the end, which programs nothing). */
static void image_page(const priot_session_t *s, const uint8_t *hdr, uint32_t off,
                       uint8_t *page)
{
    uint32_t i = 0, pos = PRIOT_STATE_HEADER_SIZE, l, b;
    memset(page, 0xFF, PRIOT_STATE_PAGE);
    for (; off + i < PRIOT_STATE_HEADER_SIZE && i < PRIOT_STATE_PAGE; i++)
        page[i] = hdr[off + i];
    for (l = 0; l < s->model->n_layers && i < PRIOT_STATE_PAGE; l++) {
        const uint8_t *src = s->ops->state_layer(s, l, &b);
        uint32_t from, n;
        if (off + i >= pos + b) {
            pos += b;
            continue;
        }
        from = off + i - pos;
        n = b - from;
        if (n > PRIOT_STATE_PAGE - i)
            n = PRIOT_STATE_PAGE - i;
        memcpy(page + i, src + from, n);
        i += n;
        pos += b;
    }
}

priot_status_t priot_state_save(const priot_session_t *s, const priot_state_store_t *st,
                                uint32_t samples, priot_state_info_t *info)
{
    const identity_t id = identity_of(s);
    const uint32_t payload = payload_bytes(s);
    const uint32_t total = PRIOT_STATE_HEADER_SIZE + payload;
    uint8_t hdr[PRIOT_STATE_HEADER_SIZE], page[PRIOT_STATE_PAGE];
    priot_state_info_t newest;
    uint32_t slot = 0, seq = 1, off, pages;
    const uint8_t *mem;
    if (!s || !st || !st->base || !st->erase || !st->program || !info ||
        st->slot_size % PRIOT_STATE_SECTOR)
        return PRIOT_E_ARG;
    if (total > st->slot_size)
        return PRIOT_E_STATE_TOO_BIG;
    if (priot_state_newest(st, &newest) == PRIOT_OK) {
        slot = newest.slot ^ 1u;
        seq = newest.sequence + 1u;
    }
    memset(hdr, 0, sizeof(hdr));
    wr32(hdr, PRIOT_STATE_MAGIC);
    wr16(hdr + 4, PRIOT_STATE_VERSION);
    wr16(hdr + 6, PRIOT_STATE_HEADER_SIZE);
    wr32(hdr + 8, seq);
    wr32(hdr + 12, payload);
    wr32(hdr + 16, id.model_crc);
    hdr[20] = (uint8_t)id.method;
    hdr[21] = (uint8_t)id.subset_rule;
    wr16(hdr + 22, id.score_permille);
    wr16(hdr + 24, id.last_layer_permille);
    hdr[26] = (uint8_t)id.n_layers;
    wr32(hdr + 28, id.subset_seed);
    wr32(hdr + 32, samples);
    wr32(hdr + 36, s->ops->state_crc(s));
    wr32(hdr + 40, payload_crc(s));
    wr32(hdr + 44, priot_crc32(0, hdr, 44));

    if (st->erase(st->ctx, slot))
        return PRIOT_E_STATE_FLASH;
    /* the payload pages first, the header's page last: until that one is programmed the
     * slot has no valid header, whatever else is in it */
    pages = (total + PRIOT_STATE_PAGE - 1u) / PRIOT_STATE_PAGE;
    for (off = (pages - 1u) * PRIOT_STATE_PAGE;; off -= PRIOT_STATE_PAGE) {
        image_page(s, hdr, off, page);
        if (st->program(st->ctx, slot, off, page))
            return PRIOT_E_STATE_FLASH;
        if (off == 0u)
            break;
    }
    mem = st->base + slot * st->slot_size;
    for (off = 0; off < total; off += PRIOT_STATE_PAGE) {
        uint32_t n = total - off < PRIOT_STATE_PAGE ? total - off : PRIOT_STATE_PAGE;
        image_page(s, hdr, off, page);
        if (memcmp(mem + off, page, n))
            return PRIOT_E_STATE_FLASH;
    }
    info_of(hdr, slot, info);
    return PRIOT_OK;
}
