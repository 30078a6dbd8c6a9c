/* PRIOT-S scored subsets (docs/SEMANTICS.md, "PRIOT-S"). Each layer scores
 * k = priot_subset_size(n, permille) of its n edges, chosen by one of two rules; neither
 * keeps an index array, and both give the subset in increasing edge index:
 *   random (PRIOT_SUBSET_RANDOM): the edges are cut into k consecutive buckets
 *     [floor(j n / k), floor((j+1) n / k)) and one edge per bucket is drawn with a
 *     per-layer xorshift32, so the subset is regenerated from the seed;
 *   magnitude (PRIOT_SUBSET_MAGNITUDE): the k edges of largest |w|, lower edge index
 *     first among equal |w|: with t the k-th largest |w| (a 129-bin histogram of |w|) and
 *     m = k - count(|w| > t), the subset is every |w| > t plus the first m with |w| == t,
 *     recomputed from the flash weights. */
#ifndef PRIOT_SUBSET_H
#define PRIOT_SUBSET_H
#include <stdint.h>

enum { PRIOT_SUBSET_RANDOM = 0, PRIOT_SUBSET_MAGNITUDE = 1 };

/* max(1, floor(n p / 1000), ceil(n / 65536)), at most n (the random rule's buckets hold
 * at most 65536 edges). */
uint32_t priot_subset_size(uint32_t n, uint32_t permille);

/* What a layer's subset is besides n, k, the seed and the layer index: 8 bytes, the
 * same on every target (it lives in the session arena). */
typedef struct {
    uint32_t ties;      /* magnitude: scored edges with |w| == thr (the first ones) */
    uint8_t rule;       /* PRIOT_SUBSET_* */
    uint8_t thr;        /* magnitude: the |w| threshold t, 0..128 */
    uint16_t reserved;
} priot_subset_t;

/* The subset of a layer of n weights w with k (1..n) scored edges under `rule`;
 * hist: scratch of at least 129 words (the magnitude rule's histogram). */
void priot_subset_plan(priot_subset_t *ss, uint32_t rule, const int8_t *w, uint32_t n,
                       uint32_t k, uint32_t *hist);

typedef struct {
    uint32_t rule, k, j;        /* rule, subset size, next subset position */
    uint32_t start, q, r, frac; /* random: bucket start; n = q k + r; (j n) mod k */
    uint32_t rng;               /* random: per-layer xorshift32 state */
    const int8_t *w;            /* magnitude: the weights, scanned from edge `start` */
    uint32_t n;                 /* magnitude: the layer's edges (the scan's end) */
    uint32_t thr, ties;         /* magnitude: |w| threshold, ties still to take */
} priot_subset_iter_t;

void priot_subset_begin(priot_subset_iter_t *it, const priot_subset_t *ss, const int8_t *w,
                        uint32_t n, uint32_t k, uint32_t seed, uint32_t layer);
/* The first of p[0..end) with |w| > c (c <= 127); end if there is none. */
const int8_t *priot_subset_scan(const int8_t *p, const int8_t *end, uint32_t c);

/* Edge index of subset position it->j (it->j < it->k), then advance. Inline: the walks
 * call it once per scored edge. */
static inline uint32_t priot_subset_next(priot_subset_iter_t *it)
{
    uint32_t x, size, idx;
    if (it->rule == PRIOT_SUBSET_MAGNITUDE) {
        /* the next |w| > thr, or |w| == thr while ties remain (the first ones) */
        const int8_t *p = it->w + it->start;
        const uint32_t t = it->thr;
        if (it->ties == 0u) {
            p = priot_subset_scan(p, it->w + it->n, t);
        } else if (t > 0u) {                        /* |w| >= t: a tie when |w| == t */
            p = priot_subset_scan(p, it->w + it->n, t - 1u);
            if ((int32_t)*p == (int32_t)t || (int32_t)*p == -(int32_t)t)
                it->ties--;
        } else if (*p == 0) {                       /* t == 0: every edge qualifies */
            it->ties--;
        }
        idx = (uint32_t)(p - it->w);
        it->start = idx + 1u;
        it->j++;
        return idx;
    }
    x = it->rng;
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

/* Advance an iterator that has just returned edge idx (it->j - 1 its position) to its
 * first scored edge at or after edge `end`; returns that edge (it->j - 1 its position
 * again), or UINT32_MAX past the last. */
uint32_t priot_subset_skip(priot_subset_iter_t *it, uint32_t idx, uint32_t end);

/* w_eff = w with the scored edges outside the top of their scores zeroed: (thr, eq)
 * from priot_topk_threshold over the k scores, ties by subset position. Returns the
 * number of scored edges kept. */
uint32_t priot_subset_apply(const int16_t *s, const priot_subset_t *ss, const int8_t *w,
                            uint32_t n, uint32_t k, uint32_t seed, uint32_t layer,
                            int16_t thr, uint32_t eq, int8_t *w_eff);

#endif
