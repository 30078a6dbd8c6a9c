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
    it->n = n;
    it->thr = ss->thr;
    it->ties = ss->ties;
}

#if defined(PRIOT_REFERENCE_KERNELS) && PRIOT_REFERENCE_KERNELS
/* The plain scan: the specification of the one below. */
const int8_t *priot_subset_scan(const int8_t *p, const int8_t *end, uint32_t c)
{
    while (p < end && magnitude(*p) <= c)
        p++;
    return p;
}
#else
/* The first of q[0..e) with b - lo < span (unsigned; b the byte): with lo = c + 1 and
 * span = 255 - 2c that is |w| > c for the int8 w of byte b (b in c+1..127 or
 * 128..255-(c+1)). Byte loads with immediate offsets, four per pass: ~6 cycles per edge on
 * the M0+ instead of ~11 for LDRSB + abs + two compares. */
static inline __attribute__((always_inline)) const int8_t *
scan_bytes(const int8_t *p, const int8_t *end, uint32_t lo, uint32_t span)
{
    const uint8_t *q = (const uint8_t *)p, *const e = (const uint8_t *)end;
    while (e - q >= 4) {
        if ((uint32_t)q[0] - lo < span)
            return (const int8_t *)q;
        if ((uint32_t)q[1] - lo < span)
            return (const int8_t *)q + 1;
        if ((uint32_t)q[2] - lo < span)
            return (const int8_t *)q + 2;
        if ((uint32_t)q[3] - lo < span)
            return (const int8_t *)q + 3;
        q += 4;
    }
    while (q < e && (uint32_t)*q - lo >= span)
        q++;
    return (const int8_t *)q;
}

PRIOT_HOT const int8_t *priot_subset_scan(const int8_t *p, const int8_t *end, uint32_t c)
{
    return scan_bytes(p, end, c + 1u, 255u - 2u * c);
}
#endif


/* Advance the iterator to its first scored edge at or after edge `end` (or past the
 * last); returns that edge index (UINT32_MAX past the last). The magnitude rule without
 * ties left counts the |w| > thr of the skipped edges instead of stopping at each one. */
PRIOT_HOT uint32_t priot_subset_skip(priot_subset_iter_t *it, uint32_t idx, uint32_t end)
{
#if !(defined(PRIOT_REFERENCE_KERNELS) && PRIOT_REFERENCE_KERNELS)
    if (it->rule == PRIOT_SUBSET_MAGNITUDE && it->ties == 0u && idx < end && end <= it->n) {
        /* idx is scored (position it->j - 1); count the scored edges in (idx, end) */
        const uint8_t *q = (const uint8_t *)it->w + idx + 1u,
                      *const e = (const uint8_t *)it->w + end;
        const uint32_t lo = it->thr + 1u, span = 255u - 2u * it->thr;
        uint32_t cnt = 1u;   /* idx itself */
        while (e - q >= 4) {
            cnt += ((uint32_t)q[0] - lo < span) + ((uint32_t)q[1] - lo < span) +
                   ((uint32_t)q[2] - lo < span) + ((uint32_t)q[3] - lo < span);
            q += 4;
        }
        while (q < e)
            cnt += (uint32_t)*q++ - lo < span;
        it->j += cnt - 1u;   /* it->j: the position after the last skipped scored edge */
        it->start = end;
        if (it->j >= it->k)
            return 0xFFFFFFFFu;
        return priot_subset_next(it);
    }
#endif
    while (idx < end)
        idx = it->j < it->k ? priot_subset_next(it) : 0xFFFFFFFFu;
    return idx;
}

/* The scored edge at the end of a walk's step decides its w_eff: zeroed unless its score
 * is above thr, or at thr while eq of those remain (subset order). Returns 1 if kept. */
static inline uint32_t keep_scored(int32_t v, int16_t thr, uint32_t *eq)
{
    if (v > thr)
        return 1u;
    if (v == thr && *eq) {
        --*eq;
        return 1u;
    }
    return 0u;
}

#if !(defined(PRIOT_REFERENCE_KERNELS) && PRIOT_REFERENCE_KERNELS)
/* The magnitude rule's walk for priot_subset_apply with its state in registers: the ties
 * first (|w| >= t), then the scan for |w| > t inlined with its bounds hoisted. The same
 * edges as priot_subset_next. */
static uint32_t apply_magnitude(const int16_t *s, const priot_subset_t *ss, const int8_t *w,
                                uint32_t n, uint32_t k, int16_t thr, uint32_t eq,
                                int8_t *w_eff)
{
    const int8_t *p = w, *const end = w + n;
    const int32_t t = ss->thr;
    const uint32_t lo = (uint32_t)t + 1u, span = 255u - 2u * (uint32_t)t;
    uint32_t ties = ss->ties, j = 0, kept = 0;
    for (; j < k && ties; j++, p++) {
        if (t > 0) {
            p = priot_subset_scan(p, end, (uint32_t)t - 1u);
            if (*p == t || *p == -t)
                ties--;
        } else if (*p == 0) {
            ties--;
        }
        if (keep_scored(s[j], thr, &eq))
            kept++;
        else
            w_eff[p - w] = 0;
    }
    for (; j < k; j++, p++) {   /* t <= 127 here: a t of 128 has only ties */
        p = scan_bytes(p, end, lo, span);
        if (keep_scored(s[j], thr, &eq))
            kept++;
        else
            w_eff[p - w] = 0;
    }
    return kept;
}
#endif

PRIOT_HOT uint32_t priot_subset_apply(const int16_t *s, const priot_subset_t *ss,
                                      const int8_t *w, uint32_t n, uint32_t k, uint32_t seed,
                                      uint32_t layer, int16_t thr, uint32_t eq, int8_t *w_eff)
{
    priot_subset_iter_t it;
    uint32_t j, kept = 0;
    memcpy(w_eff, w, n);
#if !(defined(PRIOT_REFERENCE_KERNELS) && PRIOT_REFERENCE_KERNELS)
    if (ss->rule == PRIOT_SUBSET_MAGNITUDE)
        return apply_magnitude(s, ss, w, n, k, thr, eq, w_eff);
#endif
    priot_subset_begin(&it, ss, w, n, k, seed, layer);
    for (j = 0; j < k; j++) {
        const uint32_t idx = priot_subset_next(&it);
        if (keep_scored(s[j], thr, &eq))
            kept++;
        else
            w_eff[idx] = 0;
    }
    return kept;
}
