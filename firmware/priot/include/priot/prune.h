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

/* w_eff[i] = kept(i) ? w[i] : 0 for the threshold above. Returns the number kept. */
uint32_t priot_apply_mask(const int16_t *s, const int8_t *w, uint32_t n, int16_t thr,
                          uint32_t n_eq_keep, int8_t *w_eff);

/* Both steps with k = priot_n_keep(n, keep_permille). Returns the number kept. */
uint32_t priot_topk_mask(const int16_t *s, const int8_t *w, uint32_t n,
                         uint32_t keep_permille, uint32_t *hist, int8_t *w_eff);

#endif
