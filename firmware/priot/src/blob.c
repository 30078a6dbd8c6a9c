/* Blob parsers (blob.h, docs/BLOBS.md). Mirrors orchestration/priot/blob.py. */
#include <stdint.h>
#include <string.h>
#include "priot/blob.h"
#include "priot/config.h"
#include "priot/crc32.h"

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Common header + CRC trailer. base: the blob kind's first framing code. */
static priot_status_t unframe(const uint8_t *blob, uint32_t len, const char *magic,
                              int base, uint32_t *payload_size)
{
    uint32_t ps, end;
    if (!blob)
        return PRIOT_E_ARG;
    if (((uintptr_t)blob & 3u) != 0)
        return PRIOT_E_ALIGN;
    if (len < PRIOT_BLOB_HEADER_SIZE + 4u)
        return (priot_status_t)(base + PRIOT_F_SIZE);
    if (memcmp(blob, magic, 4) != 0)
        return (priot_status_t)(base + PRIOT_F_MAGIC);
    if (rd16(blob + 4) != PRIOT_BLOB_VERSION)
        return (priot_status_t)(base + PRIOT_F_VERSION);
    if (rd16(blob + 6) != PRIOT_BLOB_HEADER_SIZE)
        return (priot_status_t)(base + PRIOT_F_HEADER_SIZE);
    ps = rd32(blob + 8);
    if (ps > len - PRIOT_BLOB_HEADER_SIZE - 4u)
        return (priot_status_t)(base + PRIOT_F_PAYLOAD_SIZE);
    end = PRIOT_BLOB_HEADER_SIZE + ps;
    if (rd32(blob + end) != priot_crc32(0, blob, end))
        return (priot_status_t)(base + PRIOT_F_CRC);
    *payload_size = ps;
    return PRIOT_OK;
}

static void set_shape(priot_tensor_shape_t *s, uint32_t c, uint32_t h, uint32_t w)
{
    s->c = (uint16_t)c;
    s->h = (uint16_t)h;
    s->w = (uint16_t)w;
}

priot_status_t priot_parse_model(const uint8_t *blob, uint32_t len, priot_model_t *m)
{
    priot_status_t st;
    uint32_t ps, end, data_start, n, i, sum = 0;
    uint32_t cur_c, cur_h, cur_w;
    const uint8_t *p;
    if (!m)
        return PRIOT_E_ARG;
    memset(m, 0, sizeof(*m));
    st = unframe(blob, len, "PRMD", PRIOT_E_MODEL_SIZE, &ps);
    if (st != PRIOT_OK)
        return st;
    end = PRIOT_BLOB_HEADER_SIZE + ps;
    p = blob + PRIOT_BLOB_HEADER_SIZE;
    if (ps < 16u)
        return PRIOT_E_MODEL_HEADER;
    n = p[0];
    if (n < 1u || n > PRIOT_MAX_LAYERS)
        return PRIOT_E_MODEL_N_LAYERS;
    if (p[5] != 7u || p[6] != 4u)
        return PRIOT_E_MODEL_FRAC;
    if (p[4] < 2u || p[4] > 64u)
        return PRIOT_E_MODEL_N_CLASSES;
    if (ps < 16u + n * PRIOT_MODEL_LAYER_SIZE)
        return PRIOT_E_MODEL_LAYER_TABLE;
    m->n_layers = (uint8_t)n;
    m->n_classes = p[4];
    set_shape(&m->in, p[1], p[2], p[3]);
    m->n_edges = rd32(p + 8);
    m->crc = rd32(blob + end);
    m->blob_size = end + 4u;
    data_start = PRIOT_BLOB_HEADER_SIZE + 16u + n * PRIOT_MODEL_LAYER_SIZE;
    cur_c = p[1];
    cur_h = p[2];
    cur_w = p[3];
    if (!cur_c || !cur_h || !cur_w)
        return PRIOT_E_LAYER_CHAIN;
    for (i = 0; i < n; i++) {
        const uint8_t *t = p + 16u + i * PRIOT_MODEL_LAYER_SIZE;
        priot_layer_t *L = &m->layers[i];
        const uint32_t type = t[0], flags = t[1], kernel = t[2], pad = t[3];
        const uint32_t lc = rd16(t + 4), lh = rd16(t + 6), lw = rd16(t + 8), oc = rd16(t + 10);
        const uint32_t w_off = rd32(t + 16), w_cnt = rd32(t + 20);
        const uint32_t b_off = rd32(t + 24), b_cnt = rd32(t + 28);
        const int conv = type == PRIOT_LAYER_CONV;
        uint32_t row;
        if (type != PRIOT_LAYER_CONV && type != PRIOT_LAYER_FC)
            return PRIOT_E_LAYER_TYPE;
        if (conv ? (kernel != 3u || pad != 1u) : (kernel != 1u || pad != 0u))
            return PRIOT_E_LAYER_KERNEL;
        if ((flags & ~(uint32_t)(PRIOT_FLAG_RELU | PRIOT_FLAG_POOL)) != 0 ||
            (!conv && (flags & PRIOT_FLAG_POOL)))
            return PRIOT_E_LAYER_FLAGS;
        if (t[12] > 31u || t[13] > 31u || t[14] > 31u)
            return PRIOT_E_LAYER_SHIFT;
        if (!lc || !lh || !lw || !oc)
            return PRIOT_E_LAYER_SHAPE;
        /* chain: this layer's input is the previous output (after the pool) */
        if (conv) {
            if (lc != cur_c || lh != cur_h || lw != cur_w)
                return PRIOT_E_LAYER_CHAIN;
        } else {
            uint32_t feat = cur_c * cur_h;    /* each factor <= 65535: check stepwise */
            if (feat > 65535u || feat * cur_w != lc || lh != 1u || lw != 1u)
                return PRIOT_E_LAYER_CHAIN;
        }
        row = conv ? lc * 9u : lc;
        if (w_cnt % row != 0u || w_cnt / row != oc)
            return PRIOT_E_LAYER_WEIGHT_COUNT;
        if (w_off < data_start || w_off > end || w_cnt > end - w_off)
            return PRIOT_E_LAYER_WEIGHT_OFFSET;
        if (b_cnt != 0u) {
            if (b_cnt != oc)
                return PRIOT_E_LAYER_BIAS_COUNT;
            if ((b_off & 3u) != 0u || b_off < data_start || b_off > end ||
                4u * b_cnt > end - b_off)
                return PRIOT_E_LAYER_BIAS_OFFSET;
        }
        L->type = (uint8_t)type;
        L->flags = (uint8_t)flags;
        L->out_shift = t[12];
        L->err_shift = t[13];
        L->grad_shift = t[14];
        set_shape(&L->in, lc, lh, lw);
        if (conv) {
            set_shape(&L->out, oc, lh, lw);
            if (flags & PRIOT_FLAG_POOL)
                set_shape(&L->next, oc, lh / 2u, lw / 2u);
            else
                L->next = L->out;
        } else {
            set_shape(&L->out, oc, 1, 1);
            L->next = L->out;
        }
        /* conv planes are at most 255 x 255 (the model input is u8-sized and the chain
         * only shrinks them), so these products fit in 32 bits */
        L->in_size = lc * lh * lw;
        L->out_size = (uint32_t)L->out.c * L->out.h * L->out.w;
        L->next_size = (uint32_t)L->next.c * L->next.h * L->next.w;
        L->n_edges = w_cnt;
        L->row_edges = row;
        L->w = (const int8_t *)(const void *)(blob + w_off);
        L->bias = b_cnt ? (const int32_t *)(const void *)(blob + b_off) : (const int32_t *)0;
        if (sum > 0xFFFFFFFFu - w_cnt)
            return PRIOT_E_MODEL_N_EDGES;
        sum += w_cnt;
        cur_c = L->next.c;
        cur_h = L->next.h;
        cur_w = L->next.w;
        if (!cur_h || !cur_w)   /* a pool on a 1-pixel plane leaves nothing to feed on */
            return PRIOT_E_LAYER_CHAIN;
    }
    {
        const priot_layer_t *last = &m->layers[n - 1u];
        if (last->type != PRIOT_LAYER_FC || last->flags != 0u)
            return PRIOT_E_MODEL_LAST_LAYER;
        if (last->out.c != m->n_classes)
            return PRIOT_E_MODEL_OUT_CLASSES;
    }
    if (sum != m->n_edges)
        return PRIOT_E_MODEL_N_EDGES;
    return PRIOT_OK;
}

priot_status_t priot_parse_dataset(const uint8_t *blob, uint32_t len, priot_dataset_t *d)
{
    priot_status_t st;
    uint32_t ps, rem, img, per, n_tr, n_te, i;
    const uint8_t *p;
    if (!d)
        return PRIOT_E_ARG;
    memset(d, 0, sizeof(*d));
    st = unframe(blob, len, "PRDS", PRIOT_E_DATASET_SIZE, &ps);
    if (st != PRIOT_OK)
        return st;
    p = blob + PRIOT_BLOB_HEADER_SIZE;
    if (ps < 16u)
        return PRIOT_E_DATASET_HEADER;
    n_tr = rd32(p);
    n_te = rd32(p + 4);
    if (!p[8] || !p[9] || !p[10] || p[11] < 2u)
        return PRIOT_E_DATASET_SHAPE;
    img = (uint32_t)p[8] * p[9] * p[10];
    per = img + 1u;
    rem = ps - 16u;
    if (n_tr > rem / per)
        return PRIOT_E_DATASET_LENGTH;
    rem -= n_tr * per;
    if (rem % per != 0u || rem / per != n_te)
        return PRIOT_E_DATASET_LENGTH;
    set_shape(&d->shape, p[8], p[9], p[10]);
    d->n_train = n_tr;
    d->n_test = n_te;
    d->n_classes = p[11];
    d->angle_deg = (int16_t)(uint16_t)rd16(p + 12);
    d->image_size = img;
    d->train_x = p + 16;
    d->train_y = d->train_x + n_tr * img;
    d->test_x = d->train_y + n_tr;
    d->test_y = d->test_x + n_te * img;
    d->crc = rd32(blob + PRIOT_BLOB_HEADER_SIZE + ps);
    d->blob_size = PRIOT_BLOB_HEADER_SIZE + ps + 4u;
    for (i = 0; i < n_tr; i++)
        if (d->train_y[i] >= d->n_classes)
            return PRIOT_E_DATASET_TRAIN_LABEL;
    for (i = 0; i < n_te; i++)
        if (d->test_y[i] >= d->n_classes)
            return PRIOT_E_DATASET_TEST_LABEL;
    return PRIOT_OK;
}

priot_status_t priot_parse_config(const uint8_t *blob, uint32_t len, priot_config_t *c)
{
    priot_status_t st;
    uint32_t ps;
    const uint8_t *p;
    if (!c)
        return PRIOT_E_ARG;
    memset(c, 0, sizeof(*c));
    st = unframe(blob, len, "PRCF", PRIOT_E_CONFIG_SIZE, &ps);
    if (st != PRIOT_OK)
        return st;
    if (ps != PRIOT_CONFIG_PAYLOAD_SIZE)
        return PRIOT_E_CONFIG_LENGTH;
    p = blob + PRIOT_BLOB_HEADER_SIZE;
    c->seed = rd32(p);
    c->keep_permille = (uint16_t)rd16(p + 4);
    c->lr_shift = p[6];
    c->score_init = p[7];
    c->init_shift = p[8];
    c->method = p[9];
    c->epochs = (uint16_t)rd16(p + 10);
    c->train_limit = rd32(p + 12);
    c->test_limit = rd32(p + 16);
    c->progress_every = rd32(p + 20);
    c->score_permille = (uint16_t)rd16(p + 24);
    c->grad_rounding = p[26];
    c->subset_rule = p[27];
    c->last_layer_permille = (uint16_t)rd16(p + 28);
    c->mode = p[30];
    c->persist = p[31];
    return priot_config_check(c);
}
