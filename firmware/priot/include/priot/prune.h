/* Top-k mask of one layer (docs/SEMANTICS.md, "PRIOT: Mask"): keep the n_keep largest
 * scores, lower edge index first among equal scores; w_eff = w where kept, else 0.
 * O(n): a two-level 256-bin histogram of u = s + 32768 (high byte, then the low byte
 * inside the selected high bin) finds the threshold T (the n_keep-th largest score), one
 * more pass keeps every s > T and the first n_keep - count(s > T) edges with s == T. */
#ifndef PRIOT_PRUNE_H
#define PRIOT_PRUNE_H
#include <stdint.h>
#include "priot/subset.h"
#include "priot/types.h"

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


/* ---- Incremental top-k mask (the same result as priot_topk_mask, kept up to date) ----
 * Keys u = s + 32768 (unsigned, ordered like s). Per layer:
 *   bin        u >> 8 of the current threshold T; above / in_bin the number of scores
 *              whose u >> 8 is above / equal to it, lo[256] the count of u & 255 among
 *              the scores in the bin (all exact at all times),
 *   a window   [win_lo, win_lo + win_span] of keys inside `bin` that holds T, and a bitmap
 *              (one bit per edge) of the edges whose key is in the window.
 * Invariant after priot_mask_init / priot_mask_refresh: w_eff follows the top-k rule for
 * (thr, eq); every edge outside the window has u < win_lo (dropped) or u > window (kept).
 * priot_score_update_mask updates the scores (bit-identical to priot_score_update) and moves
 * each changed score's counts; an edge that leaves the window or crosses it gets its w_eff
 * at once, an edge inside it is left to the refresh. priot_mask_refresh finds the new
 * threshold in O(bins) from the counts (it is still in `bin` iff above < k <= above +
 * in_bin) and re-applies the rule only to the window's edges (in index order, so ties are
 * kept lowest index first). Only when the threshold leaves its bin (level-1 histogram and
 * lo rebuilt: two passes) or its window (window rebuilt, every edge re-applied: one pass)
 * does it touch all n edges. 1068 bytes per layer, plus n / 8 with the bitmap.
 * Without a bitmap (w_eff NULL, PRIOT-S) only the threshold (thr, eq) is kept. */
typedef struct {
    uint32_t n, k;           /* scores, n_keep (1 <= k <= n) */
    uint32_t bin;            /* u >> 8 of thr (256 before the first threshold) */
    uint32_t win_lo, win_span, budget;   /* the window of keys; its target population */
    int16_t thr;             /* T, the k-th largest score */
    uint16_t dirty;          /* a window member changed, entered or left since the refresh */
    uint32_t eq;             /* k - count(s > T): how many s == T are kept */
    uint32_t has_win;        /* w_eff kept: the bitmap in_win follows */
    uint32_t above, in_bin;  /* scores with u >> 8 above / in `bin` */
    uint32_t lo[256];
    uint32_t in_win[];       /* (n + 31) / 32 words when has_win */
} priot_mask_t;

/* Bytes of a priot_mask_t for n edges, with or without the bitmap (a multiple of 4; the
 * struct needs 4-byte alignment only). */
uint32_t priot_mask_bytes(uint32_t n, int with_bitmap);

/* Full build from the scores (n >= 1, 1 <= k <= n): histograms, threshold and, with w_eff
 * given (m then has the bitmap: priot_mask_bytes(n, 1)), the window and w_eff over all n
 * edges (= priot_topk_mask's w_eff). */
void priot_mask_init(priot_mask_t *m, const int16_t *s, uint32_t n, uint32_t k,
                     const int8_t *w, int8_t *w_eff);

/* After score updates through priot_score_update_mask: the new threshold, and w_eff
 * (when the mask has a bitmap) re-applied where it can have changed. */
void priot_mask_refresh(priot_mask_t *m, const int16_t *s, const int8_t *w, int8_t *w_eff);

/* priot_score_update (s = sat16(s - round_shift(gq * w, lr_shift))) on s[0..n) which are
 * the layer's scores first..first + n, keeping m current; w_eff (NULL without a bitmap)
 * points at the w_eff of s[0]. */
void priot_score_update_mask(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                             uint32_t lr_shift, priot_mask_t *m, uint32_t first,
                             int8_t *w_eff);

/* ---- fc layers: the score gradient fused into the update ----
 * For an fc layer the gradient of edge (o, i) is gq = sat16(round_shift(e[o] * x[i],
 * grad_shift)) (priot_fc_score_grad), which is 0 where x[i] == 0, and a zero gradient
 * leaves the score, the counts, the bitmap and w_eff as they are. So the update of row o
 * needs only the inputs i with x[i] != 0: listed once per layer and step
 * (priot_fc_inputs), then walked for every row whose error is non-zero
 * (priot_fc_score_update_mask), with no gradient row written. The REF=1 build keeps the
 * two plain steps (priot_fc_score_grad into the scratch, priot_score_update_mask). */
typedef struct {
    uint32_t *list;          /* (uint32_t)x[i] << 16 | i for every x[i] != 0, i increasing
                                (REF=1 build: the scratch of the gradient row) */
    uint32_t count;          /* entries in list */
    uint32_t grad_shift, lr_shift;
    const priot_layer_t *L;  /* the fc layer (in.c <= 65535 inputs) */
    const int8_t *x;         /* its input */
} priot_fc_inputs_t;

/* Fill *in for fc layer L, its input x and the step's lr_shift; scratch: L->in.c words,
 * which hold the list until the layer's last priot_fc_score_update_mask. */
void priot_fc_inputs(priot_fc_inputs_t *in, const priot_layer_t *L, const int8_t *x,
                     uint32_t lr_shift, uint32_t *scratch);

/* Row o of the layer (e_out[o] != 0): the same scores s, counts, bitmap, dirty flag and
 * w_eff as priot_fc_score_grad(L, e_out, x, o, o + 1, gq) followed by
 * priot_score_update_mask(s + o n, L->w + o n, gq, n, lr_shift, m, o n, w_eff + o n)
 * (n = L->in.c). s and w_eff (NULL without a bitmap) are the layer's. */
void priot_fc_score_update_mask(const priot_fc_inputs_t *in, const int8_t *e_out, uint32_t o,
                                int16_t *s, priot_mask_t *m, int8_t *w_eff);

/* PRIOT-S: priot_score_update_mask (threshold-only state) for the scored edges of one
 * output row [row_begin, row_end) of the layer. *idx is the edge index of subset position
 * *j (it positioned after it; 0xFFFFFFFF past the last): score s[*j], weight w[*idx],
 * gradient gq[*idx - row_begin]. Leaves *j, *idx at the first scored edge >= row_end. */
void priot_subset_score_update(priot_subset_iter_t *it, uint32_t *j, uint32_t *idx,
                               uint32_t row_begin, uint32_t row_end, int16_t *s,
                               const int8_t *w, const int16_t *gq, uint32_t lr_shift,
                               priot_mask_t *m);

#endif
