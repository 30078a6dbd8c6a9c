/* PRIOT-S scored subsets (subset.h, docs/SEMANTICS.md "PRIOT-S"). */
#include <string.h>
#include "priot/arith.h"
#include "priot/prune.h"
#include "priot/subset.h"

uint32_t priot_subset_size(uint32_t n, uint32_t permille)
{
    uint32_t k = priot_n_keep(n, permille);      /* max(1, floor(n p / 1000)) */
    uint32_t k_min = (n >> 16) + ((n & 0xFFFFu) ? 1u : 0u); /* buckets of <= 65536 edges */
    if (k < k_min)
        k = k_min;
    return k > n ? n : k;
}

static uint32_t magnitude(int8_t v) { return (uint32_t)(v < 0 ? -(int32_t)v : (int32_t)v); }

void priot_subset_plan(priot_subset_t *ss, uint32_t rule, const int8_t *w, uint32_t n,
                       uint32_t k, uint32_t *hist)
{
    uint32_t i, t = 129u, above = 0;
    ss->rule = (uint8_t)rule;
    ss->thr = 0;
    ss->ties = 0;
    ss->reserved = 0;
    if (rule != PRIOT_SUBSET_MAGNITUDE)
        return;
    memset(hist, 0, 129u * sizeof(uint32_t));
    for (i = 0; i < n; i++)
        hist[magnitude(w[i])]++;
    /* t: the bin where the count from the top reaches k (k <= n, so t >= 0) */
    while (t-- > 0u && above + hist[t] < k)
        above += hist[t];
    ss->thr = (uint8_t)t;
    ss->ties = k - above;
}

void priot_subset_begin(priot_subset_iter_t *it, const priot_subset_t *ss, const int8_t *w,
                        uint32_t n, uint32_t k, uint32_t seed, uint32_t layer)
{
    uint32_t s = seed ^ (0x9E3779B9u * (layer + 1u));
    it->rule = ss->rule;
    it->k = k;
    it->j = 0;
    it->start = 0;
    it->q = n / k;
    it->r = n % k;
    it->frac = 0;
    it->rng = s ? s : 0x9E3779B9u;
    it->w = w;
    it->thr = ss->thr;
    it->ties = ss->ties;
}

/* The next edge with |w| > thr, or with |w| == thr while ties remain (one exists as long
 * as it->j < it->k). */
static uint32_t magnitude_next(priot_subset_iter_t *it)
{
    const int8_t *w = it->w;
    uint32_t i = it->start;
    for (;; i++) {
        const uint32_t a = magnitude(w[i]);
        if (a > it->thr)
            break;
        if (a == it->thr && it->ties) {
            it->ties--;
            break;
        }
    }
    it->start = i + 1u;
    it->j++;
    return i;
}

uint32_t priot_subset_next(priot_subset_iter_t *it)
{
    uint32_t x = it->rng, size, idx;
    if (it->rule == PRIOT_SUBSET_MAGNITUDE)
        return magnitude_next(it);
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

PRIOT_HOT uint32_t priot_subset_apply(const int16_t *s, const priot_subset_t *ss,
                                      const int8_t *w, uint32_t n, uint32_t k, uint32_t seed,
                                      uint32_t layer, int16_t thr, uint32_t eq, int8_t *w_eff)
{
    priot_subset_iter_t it;
    uint32_t j, kept = 0;
    memcpy(w_eff, w, n);
    priot_subset_begin(&it, ss, w, n, k, seed, layer);
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
