/* Top-k mask by a two-level histogram threshold (prune.h, docs/SEMANTICS.md "Mask"). */
#include <string.h>
#include "priot/arith.h"
#include "priot/prune.h"

uint32_t priot_n_keep(uint32_t n, uint32_t keep_permille)
{
    /* floor(n * k / 1000) = q * k + floor(r * k / 1000) with n = 1000 q + r */
    uint32_t q = n / 1000u, r = n % 1000u;
    uint32_t k = q * keep_permille + (r * keep_permille) / 1000u;
    return k ? k : 1u;
}

/* Walk bins 255..0 and return the bin in which the running count reaches `need`;
 * *before = count in the bins above it. */
static uint32_t select_bin(const uint32_t *hist, uint32_t need, uint32_t *before)
{
    uint32_t b = 256, cum = 0;
    while (b-- > 0) {
        if (cum + hist[b] >= need)
            break;
        cum += hist[b];
    }
    *before = cum;
    return b;
}

PRIOT_HOT void priot_topk_threshold(const int16_t *s, uint32_t n, uint32_t k, uint32_t *hist,
                                    int16_t *thr, uint32_t *n_eq_keep)
{
    /* u = s + 32768 is the int16 bit pattern with the sign bit flipped */
    const uint16_t *p;
    uint32_t i, hi, lo, above_hi, above_lo, base;
    if (k > n)
        k = n;
    /* level 1: high byte of u */
    memset(hist, 0, 256 * sizeof(uint32_t));
    for (p = (const uint16_t *)s, i = n; i; i--)
        hist[((uint32_t)*p++ >> 8) ^ 0x80u]++;
    hi = select_bin(hist, k, &above_hi);
    /* level 2: low byte among the scores in bin `hi` (u - base < 256) */
    memset(hist, 0, 256 * sizeof(uint32_t));
    base = (hi ^ 0x80u) << 8; /* the raw uint16 pattern of the bin's smallest score */
    for (p = (const uint16_t *)s, i = n; i; i--) {
        uint32_t d = (uint32_t)*p++ - base;
        if (d < 256u)
            hist[d]++;
    }
    lo = select_bin(hist, k - above_hi, &above_lo);
    *thr = (int16_t)((int32_t)((hi << 8) | lo) - 32768);
    *n_eq_keep = k - above_hi - above_lo;
}

PRIOT_HOT void priot_topk_threshold_hint(const int16_t *s, uint32_t n, uint32_t k,
                                         uint32_t *hist, int16_t *thr, uint32_t *n_eq_keep,
                                         uint32_t *hint)
{
    if (k > n)
        k = n;
    if (*hint < 256u) {
        /* key = s + 32768 (the bit pattern with the sign flipped) orders like s; the bin of
         * key is key >> 8. One pass: scores above the hinted bin, low bytes inside it. */
        const uint32_t h = *hint;
        const int32_t kb = (int32_t)(h << 8);
        const uint16_t *p;
        uint32_t i, above = 0, inside = 0, lo, above_lo;
        memset(hist, 0, 256 * sizeof(uint32_t));
        for (p = (const uint16_t *)s, i = n; i; i--) {
            const int32_t d = (int32_t)((uint32_t)*p++ ^ 0x8000u) - kb;
            if ((uint32_t)d < 256u) {
                hist[d]++;
                inside++;
            } else if (d > 0) {
                above++;
            }
        }
        if (above < k && k <= above + inside) {   /* the k-th largest is in the bin */
            lo = select_bin(hist, k - above, &above_lo);
            *thr = (int16_t)((int32_t)((h << 8) | lo) - 32768);
            *n_eq_keep = k - above - above_lo;
            return;
        }
    }
    priot_topk_threshold(s, n, k, hist, thr, n_eq_keep);
    *hint = ((uint32_t)(uint16_t)*thr ^ 0x8000u) >> 8;
}

PRIOT_HOT uint32_t priot_apply_mask(const int16_t *s, const int8_t *w, uint32_t n, int16_t thr,
                                    uint32_t n_eq_keep, int8_t *w_eff)
{
    uint32_t i, kept = 0;
    const int32_t t = thr;
    for (i = n; i; i--) {
        int32_t v = *s++;
        int8_t wv = *w++;
        if (v < t || (v == t && n_eq_keep == 0u)) {
            *w_eff++ = 0;
            continue;
        }
        if (v == t)
            n_eq_keep--;
        *w_eff++ = wv;
        kept++;
    }
    return kept;
}

uint32_t priot_topk_mask_hint(const int16_t *s, const int8_t *w, uint32_t n,
                              uint32_t keep_permille, uint32_t *hist, int8_t *w_eff,
                              uint32_t *hint)
{
    int16_t thr;
    uint32_t eq;
    if (n == 0)
        return 0;
    priot_topk_threshold_hint(s, n, priot_n_keep(n, keep_permille), hist, &thr, &eq, hint);
    return priot_apply_mask(s, w, n, thr, eq, w_eff);
}

uint32_t priot_topk_mask(const int16_t *s, const int8_t *w, uint32_t n, uint32_t keep_permille,
                         uint32_t *hist, int8_t *w_eff)
{
    uint32_t hint = 256u;
    return priot_topk_mask_hint(s, w, n, keep_permille, hist, w_eff, &hint);
}

/* ------------------------------------------------------------------ PRIOT-S subsets */

uint32_t priot_subset_size(uint32_t n, uint32_t score_permille)
{
    uint32_t k = priot_n_keep(n, score_permille);      /* max(1, floor(n p / 1000)) */
    uint32_t k_min = (n >> 16) + ((n & 0xFFFFu) ? 1u : 0u); /* buckets of <= 65536 edges */
    if (k < k_min)
        k = k_min;
    return k > n ? n : k;
}

void priot_subset_begin(priot_subset_iter_t *it, uint32_t n, uint32_t k, uint32_t seed,
                        uint32_t layer)
{
    uint32_t s = seed ^ (0x9E3779B9u * (layer + 1u));
    it->n = n;
    it->k = k;
    it->j = 0;
    it->start = 0;
    it->q = n / k;
    it->r = n % k;
    it->frac = 0;
    it->rng = s ? s : 0x9E3779B9u;
}

uint32_t priot_subset_next(priot_subset_iter_t *it)
{
    uint32_t x = it->rng, size, idx;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    it->rng = x;
    /* bucket j = [start, start + size): size = q, plus 1 when (j n mod k) + r wraps */
    size = it->q;
    it->frac += it->r;
    if (it->frac >= it->k) {
        it->frac -= it->k;
        size++;
    }
    idx = it->start + (((x >> 16) * size) >> 16);
    it->start += size;
    it->j++;
    return idx;
}

uint32_t priot_subset_mask(const int16_t *s, uint32_t k, const int8_t *w, uint32_t n,
                           uint32_t keep_permille, uint32_t seed, uint32_t layer,
                           uint32_t *hist, int8_t *w_eff)
{
    uint32_t hint = 256u;
    return priot_subset_mask_hint(s, k, w, n, keep_permille, seed, layer, hist, w_eff, &hint);
}

PRIOT_HOT uint32_t priot_subset_apply(const int16_t *s, uint32_t k, const int8_t *w, uint32_t n,
                                      uint32_t seed, uint32_t layer, int16_t thr, uint32_t eq,
                                      int8_t *w_eff)
{
    priot_subset_iter_t it;
    uint32_t j, kept = 0;
    memcpy(w_eff, w, n);
    priot_subset_begin(&it, n, k, seed, layer);
    for (j = 0; j < k; j++) {
        const uint32_t idx = priot_subset_next(&it);
        const int32_t v = s[j];
        if (v < thr || (v == thr && eq == 0u)) {
            w_eff[idx] = 0;
            continue;
        }
        if (v == thr)
            eq--;
        kept++;
    }
    return kept;
}

uint32_t priot_subset_mask_hint(const int16_t *s, uint32_t k, const int8_t *w, uint32_t n,
                                uint32_t keep_permille, uint32_t seed, uint32_t layer,
                                uint32_t *hist, int8_t *w_eff, uint32_t *hint)
{
    int16_t thr;
    uint32_t eq;
    priot_topk_threshold_hint(s, k, priot_n_keep(k, keep_permille), hist, &thr, &eq, hint);
    return priot_subset_apply(s, k, w, n, seed, layer, thr, eq, w_eff);
}
