/* Top-k mask of one layer (docs/SEMANTICS.md, "PRIOT: Mask"): keep the n_keep largest
 * scores, lower edge index first among equal scores; w_eff = w where kept, else 0.
 * O(n): a two-level 256-bin histogram of u = s + 32768 (high byte, then the low byte
 * inside the selected high bin) finds the threshold T (the n_keep-th largest score), one
 * more pass keeps every s > T and the first n_keep - count(s > T) edges with s == T. */
#ifndef PRIOT_PRUNE_H
#define PRIOT_PRUNE_H
#include <stdint.h>

/* max(1, floor(n * keep_permille / 1000)) without 32-bit overflow. */
uint32_t priot_n_keep(uint32_t n, uint32_t keep_permille);

/* Threshold of the top-k (1 <= k <= n): *thr = T, *n_eq_keep = k - count(s > T).
 * hist: scratch of 256 words. */
void priot_topk_threshold(const int16_t *s, uint32_t n, uint32_t k, uint32_t *hist,
                          int16_t *thr, uint32_t *n_eq_keep);

/* The same result, trying first the level-1 bin *hint (< 256; e.g. the bin of the
 * previous threshold of this layer): one pass instead of two when the threshold is still
 * in that bin, else the two-level search. *hint becomes the threshold's bin (256: none). */
void priot_topk_threshold_hint(const int16_t *s, uint32_t n, uint32_t k, uint32_t *hist,
                               int16_t *thr, uint32_t *n_eq_keep, uint32_t *hint);

/* w_eff[i] = kept(i) ? w[i] : 0 for the threshold above. Returns the number kept. */
uint32_t priot_apply_mask(const int16_t *s, const int8_t *w, uint32_t n, int16_t thr,
                          uint32_t n_eq_keep, int8_t *w_eff);

/* Both steps with k = priot_n_keep(n, keep_permille). Returns the number kept. */
uint32_t priot_topk_mask(const int16_t *s, const int8_t *w, uint32_t n,
                         uint32_t keep_permille, uint32_t *hist, int8_t *w_eff);
/* ... with a threshold-bin hint (priot_topk_threshold_hint). */
uint32_t priot_topk_mask_hint(const int16_t *s, const int8_t *w, uint32_t n,
                              uint32_t keep_permille, uint32_t *hist, int8_t *w_eff,
                              uint32_t *hint);

#endif

/* ---- PRIOT-S scored subsets (docs/SEMANTICS.md, "PRIOT-S") ------------------------
 * Each layer scores k = priot_subset_size(n, score_permille) of its n edges: the edges
 * are cut into k consecutive buckets [floor(j n / k), floor((j+1) n / k)) and one edge per
 * bucket is drawn with a per-layer xorshift32, so the subset is regenerated from the seed
 * (no index array), has exactly k edges, and its indices increase with j. */
uint32_t priot_subset_size(uint32_t n, uint32_t score_permille);

typedef struct {
    uint32_t n, k, j;      /* edges, subset size, next subset position */
    uint32_t start, q, r, frac;   /* bucket start; n = q k + r; (j n) mod k */
    uint32_t rng;          /* per-layer xorshift32 state */
} priot_subset_iter_t;

void priot_subset_begin(priot_subset_iter_t *it, uint32_t n, uint32_t k, uint32_t seed,
                        uint32_t layer);
/* Edge index of subset position it->j (it->j < it->k), then advance. */
uint32_t priot_subset_next(priot_subset_iter_t *it);

/* w_eff = w, except scored edges outside the top-k of their scores (same tie rule as
 * priot_apply_mask, in subset order) which get 0. Returns the number of scored edges kept. */
uint32_t priot_subset_mask(const int16_t *s, uint32_t k, const int8_t *w, uint32_t n,
                           uint32_t keep_permille, uint32_t seed, uint32_t layer,
                           uint32_t *hist, int8_t *w_eff);
uint32_t priot_subset_mask_hint(const int16_t *s, uint32_t k, const int8_t *w, uint32_t n,
                                uint32_t keep_permille, uint32_t seed, uint32_t layer,
                                uint32_t *hist, int8_t *w_eff, uint32_t *hint);
/* The second half of the PRIOT-S mask: w_eff = w with the scored edges below the
 * threshold (thr, eq from priot_topk_threshold over the k scores) zeroed. */
uint32_t priot_subset_apply(const int16_t *s, uint32_t k, const int8_t *w, uint32_t n,
                            uint32_t seed, uint32_t layer, int16_t thr, uint32_t eq,
                            int8_t *w_eff);
