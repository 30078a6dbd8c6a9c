/* Top-k mask by a two-level histogram threshold (prune.h, docs/SEMANTICS.md "Mask"). */
#include <stddef.h>
#include <string.h>
#include "priot/arith.h"
#include "priot/kernels.h"
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

/* ------------------------------------------------------------------ incremental mask */

static uint32_t bitmap_words(uint32_t n) { return (n >> 5) + ((n & 31u) ? 1u : 0u); }

uint32_t priot_mask_bytes(uint32_t n, int with_bitmap)
{
    return (uint32_t)sizeof(priot_mask_t) + (with_bitmap ? 4u * bitmap_words(n) : 0u);
}

/* The fields of a layer's input list, shared by both forms of priot_fc_inputs. */
static void fc_inputs_set(priot_fc_inputs_t *in, const priot_layer_t *L, const int8_t *x,
                          uint32_t lr_shift, uint32_t *list, uint32_t count)
{
    in->list = list;
    in->count = count;
    in->grad_shift = L->grad_shift;
    in->lr_shift = lr_shift;
    in->L = L;
    in->x = x;
}

#if defined(PRIOT_REFERENCE_KERNELS) && PRIOT_REFERENCE_KERNELS
/* make REF=1: the plain form, a full recompute after every step (two histogram passes and
 * the apply over all edges) and the plain score update: the "before" of invoke bench. */
void priot_mask_init(priot_mask_t *m, const int16_t *s, uint32_t n, uint32_t k,
                     const int8_t *w, int8_t *w_eff)
{
    m->n = n;
    m->k = k > n ? n : k;
    m->has_win = w_eff != (int8_t *)0;
    priot_mask_refresh(m, s, w, w_eff);
}

void priot_mask_refresh(priot_mask_t *m, const int16_t *s, const int8_t *w, int8_t *w_eff)
{
    priot_topk_threshold(s, m->n, m->k, m->lo, &m->thr, &m->eq);
    if (w_eff)
        priot_apply_mask(s, w, m->n, m->thr, m->eq, w_eff);
}

void priot_score_update_mask(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                             uint32_t lr_shift, priot_mask_t *m, uint32_t first, int8_t *w_eff)
{
    (void)m;
    (void)first;
    (void)w_eff;
    priot_score_update(s, w, gq, n, lr_shift);
}

void priot_subset_score_update(priot_subset_iter_t *it, uint32_t *j, uint32_t *idx,
                               uint32_t row_begin, uint32_t row_end, int16_t *s,
                               const int8_t *w, const int16_t *gq, uint32_t lr_shift,
                               priot_mask_t *m)
{
    (void)m;
    while (*idx < row_end) {
        priot_score_update(s + *j, w + *idx, gq + (*idx - row_begin), 1u, lr_shift);
        *idx = ++*j < it->k ? priot_subset_next(it) : 0xFFFFFFFFu;
    }
}

/* The plain form: no list; the scratch holds the row's gradient. */
void priot_fc_inputs(priot_fc_inputs_t *in, const priot_layer_t *L, const int8_t *x,
                     uint32_t lr_shift, uint32_t *scratch)
{
    fc_inputs_set(in, L, x, lr_shift, scratch, 0u);
}

void priot_fc_score_update_mask(const priot_fc_inputs_t *in, const int8_t *e_out, uint32_t o,
                                int16_t *s, priot_mask_t *m, int8_t *w_eff)
{
    const uint32_t n = in->L->in.c, first = o * n;
    int16_t *gq = (int16_t *)in->list;
    priot_fc_score_grad(in->L, e_out, in->x, o, o + 1u, gq);
    priot_score_update_mask(s + first, in->L->w + first, gq, n, in->lr_shift, m, first,
                            w_eff ? w_eff + first : (int8_t *)0);
}
#else
/* lo = the low-byte histogram of the scores in bin m->bin (one pass). */
static void mask_build_lo(priot_mask_t *m, const int16_t *s)
{
    const uint16_t *p = (const uint16_t *)s;
    const uint32_t base = m->bin << 8;
    uint32_t i;
    memset(m->lo, 0, sizeof(m->lo));
    for (i = m->n; i; i--) {
        const uint32_t d = ((uint32_t)*p++ ^ 0x8000u) - base;
        if (d < 256u)
            m->lo[d]++;
    }
}

/* thr / eq from the counts. The threshold is in m->bin iff above < k <= above + in_bin;
 * otherwise (or before the first call, bin 256) the bin is found again from a level-1
 * histogram of all scores (built in lo), and lo rebuilt for it: two passes. Returns 1
 * when that happened (the window is then stale). */
static uint32_t mask_threshold(priot_mask_t *m, const int16_t *s)
{
    uint32_t above_lo, lb, moved = 0;
    if (m->bin > 255u || m->above >= m->k || m->k > m->above + m->in_bin) {
        const uint16_t *p = (const uint16_t *)s;
        uint32_t i;
        memset(m->lo, 0, sizeof(m->lo));
        for (i = m->n; i; i--)
            m->lo[((uint32_t)*p++ >> 8) ^ 0x80u]++;
        m->bin = select_bin(m->lo, m->k, &m->above);
        m->in_bin = m->lo[m->bin];
        mask_build_lo(m, s);
        moved = 1;
    }
    lb = select_bin(m->lo, m->k - m->above, &above_lo);
    m->thr = (int16_t)((int32_t)((m->bin << 8) | lb) - 32768);
    m->eq = m->k - m->above - above_lo;
    return moved;
}

/* A window of keys around thr inside its bin, grown one key at a time on either side
 * while its population (from lo) stays within the budget. */
static void mask_choose_window(priot_mask_t *m)
{
    const uint32_t t = ((uint32_t)(uint16_t)m->thr ^ 0x8000u) & 255u;
    uint32_t a = t, b = t, cnt = m->lo[t], grew = 1;
    while (grew) {
        grew = 0;
        if (a > 0u && cnt + m->lo[a - 1u] <= m->budget) {
            cnt += m->lo[--a];
            grew = 1;
        }
        if (b < 255u && cnt + m->lo[b + 1u] <= m->budget) {
            cnt += m->lo[++b];
            grew = 1;
        }
    }
    m->win_lo = (m->bin << 8) | a;
    m->win_span = b - a;
}

/* New window, its bitmap, and w_eff over every edge (the full apply, in index order). */
static void mask_rebuild_window(priot_mask_t *m, const int16_t *s, const int8_t *w,
                                int8_t *w_eff)
{
    const uint32_t n = m->n;
    uint32_t i, lo, span, word = 0;
    uint32_t *bits = m->in_win;
    mask_choose_window(m);
    lo = m->win_lo;
    span = m->win_span;
    for (i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)(uint16_t)s[i] ^ 0x8000u;
        if (u - lo <= span)
            word |= 1u << (i & 31u);
        if ((i & 31u) == 31u) {
            *bits++ = word;
            word = 0;
        }
    }
    if (n & 31u)
        *bits = word;
    priot_apply_mask(s, w, n, m->thr, m->eq, w_eff);
}

/* The top-k rule over the window's edges only, in index order. Lowest set bit:
 * b & -b, its index from a de Bruijn multiply (the M0+ has no CLZ / CTZ). */
static const uint8_t DEBRUIJN32[32] = {0,  1,  28, 2,  29, 14, 24, 3,  30, 22, 20,
                                       15, 25, 17, 4,  8,  31, 27, 13, 23, 21, 19,
                                       16, 7,  26, 12, 18, 6,  11, 5,  10, 9};

static PRIOT_HOT void mask_apply_window(const priot_mask_t *m, const int16_t *s,
                                        const int8_t *w, int8_t *w_eff)
{
    const uint32_t *bits = m->in_win;
    const uint32_t words = bitmap_words(m->n);
    const int32_t t = m->thr;
    uint32_t wi, eq = m->eq;
    for (wi = 0; wi < words; wi++) {
        uint32_t b = bits[wi];
        while (b) {
            const uint32_t low = b & (0u - b);
            const uint32_t i = (wi << 5) | DEBRUIJN32[(low * 0x077CB531u) >> 27];
            const int32_t v = s[i];
            b ^= low;
            if (v < t || (v == t && eq == 0u)) {
                w_eff[i] = 0;
                continue;
            }
            if (v == t)
                eq--;
            w_eff[i] = w[i];
        }
    }
}

void priot_mask_init(priot_mask_t *m, const int16_t *s, uint32_t n, uint32_t k,
                     const int8_t *w, int8_t *w_eff)
{
    m->n = n;
    m->k = k > n ? n : k;
    m->has_win = w_eff != (int8_t *)0;
    /* window target: 1/32 of the edges (the per-step cost) but at least 64 */
    m->budget = n >> 5 > 64u ? n >> 5 : 64u;
    m->dirty = 0;
    m->bin = 256u;   /* forces the two passes */
    mask_threshold(m, s);
    if (m->has_win)
        mask_rebuild_window(m, s, w, w_eff);
}

PRIOT_HOT void priot_mask_refresh(priot_mask_t *m, const int16_t *s, const int8_t *w,
                                  int8_t *w_eff)
{
    const int16_t thr0 = m->thr;
    const uint32_t eq0 = m->eq;
    const uint32_t moved = mask_threshold(m, s);
    if (m->has_win) {
        const uint32_t t = (uint32_t)(uint16_t)m->thr ^ 0x8000u;
        if (moved || t - m->win_lo > m->win_span)
            mask_rebuild_window(m, s, w, w_eff);
        else if (m->dirty || m->thr != thr0 || m->eq != eq0)
            mask_apply_window(m, s, w, w_eff);
    }
    m->dirty = 0;
}

/* One score's update (priot_score_update's arithmetic: |gq * w| <= 2^22, so the rounding
 * add cannot overflow); 1 if it changed, with its old and new keys (s + 32768). */
static inline uint32_t score_step(int16_t *s, int32_t g, int32_t w, int32_t half,
                                  uint32_t lr_shift, uint32_t *ko, uint32_t *kn)
{
    const int32_t old = *s;
    int32_t r;
    if (g == 0)
        return 0;
    r = old - ((g * w + half) >> lr_shift);
    if ((uint32_t)(r + 32768) > 65535u)
        r = r < 0 ? -32768 : 32767;
    if (r == old)
        return 0;
    *s = (int16_t)r;
    *ko = (uint32_t)(old + 32768);
    *kn = (uint32_t)(r + 32768);
    return 1;
}

/* A score moved from key ko to kn: its counts (lo inside the threshold bin, in_bin,
 * above). */
static inline void move_counts(priot_mask_t *m, uint32_t ko, uint32_t kn)
{
    const uint32_t bo = ko >> 8, bn = kn >> 8, bin = m->bin;
    if (bo == bin)
        m->lo[ko & 255u]--;
    if (bn == bin)
        m->lo[kn & 255u]++;
    if (bo != bn) {
        m->in_bin += (uint32_t)(bn == bin) - (uint32_t)(bo == bin);
        m->above += (uint32_t)(bn > bin) - (uint32_t)(bo > bin);
    }
}

PRIOT_HOT void priot_subset_score_update(priot_subset_iter_t *it, uint32_t *j, uint32_t *idx,
                                         uint32_t row_begin, uint32_t row_end, int16_t *s,
                                         const int8_t *w, const int16_t *gq, uint32_t lr_shift,
                                         priot_mask_t *m)
{
    const int32_t half = lr_shift ? (int32_t)1 << (lr_shift - 1u) : 0;
    uint32_t i = *idx, jj = *j, ko, kn;
    while (i < row_end) {
        if (score_step(s + jj, gq[i - row_begin], w[i], half, lr_shift, &ko, &kn))
            move_counts(m, ko, kn);
        i = ++jj < it->k ? priot_subset_next(it) : 0xFFFFFFFFu;
    }
    *idx = i;
    *j = jj;
}

#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
/* score_update_mask_m0.S: this function in Thumb-1 assembly (the C below is its spec and
 * the host build's code). It reads the struct at fixed offsets: */
typedef char priot_mask_layout_check[(offsetof(priot_mask_t, bin) == 8 &&
                                      offsetof(priot_mask_t, win_lo) == 12 &&
                                      offsetof(priot_mask_t, win_span) == 16 &&
                                      offsetof(priot_mask_t, dirty) == 26 &&
                                      offsetof(priot_mask_t, has_win) == 32 &&
                                      offsetof(priot_mask_t, above) == 36 &&
                                      offsetof(priot_mask_t, in_bin) == 40 &&
                                      offsetof(priot_mask_t, lo) == 44 &&
                                      offsetof(priot_mask_t, in_win) == 1068)
                                         ? 1
                                         : -1];
void priot_score_update_mask_m0(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                                uint32_t lr_shift, priot_mask_t *m, uint32_t first,
                                int8_t *w_eff);

void priot_score_update_mask(int16_t *s, const int8_t *w, const int16_t *gq, uint32_t n,
                             uint32_t lr_shift, priot_mask_t *m, uint32_t first, int8_t *w_eff)
{
    priot_score_update_mask_m0(s, w, gq, n, lr_shift, m, first, w_eff);
}

/* fc_score_update_mask_m0.S: fc_score_update_mask_row below in Thumb-1 (the C is its
 * spec). It reads *in at fixed offsets too: */
typedef char priot_fc_inputs_layout_check[(offsetof(priot_fc_inputs_t, list) == 0 &&
                                           offsetof(priot_fc_inputs_t, count) == 4 &&
                                           offsetof(priot_fc_inputs_t, grad_shift) == 8 &&
                                           offsetof(priot_fc_inputs_t, lr_shift) == 12)
                                              ? 1
                                              : -1];
void priot_fc_score_update_mask_m0(int16_t *s, const int8_t *w, const priot_fc_inputs_t *in,
                                   int32_t ev, priot_mask_t *m, uint32_t first,
                                   int8_t *w_eff);
#define fc_score_update_mask_row priot_fc_score_update_mask_m0
#else
/* A changed score of edge i (bitmap index) moved from key ko to kn: with a bitmap, the
 * window's bit and dirty flag, or *w_eff at once (wv: its weight) for an edge that leaves
 * the window or crosses it. */
static inline void window_step(priot_mask_t *m, uint32_t *bits, uint32_t wlo, uint32_t span,
                               uint32_t i, uint32_t ko, uint32_t kn, int8_t *w_eff, int8_t wv)
{
    const uint32_t in_o = ko - wlo <= span, in_n = kn - wlo <= span;
    if (in_n) {   /* w_eff at the refresh */
        bits[i >> 5] |= 1u << (i & 31u);
        m->dirty = 1;
    } else if (in_o || (ko > wlo) != (kn > wlo)) {
        if (in_o) {
            bits[i >> 5] &= ~(1u << (i & 31u));
            m->dirty = 1;
        }
        *w_eff = kn > wlo ? wv : 0;
    }
}

PRIOT_HOT void priot_score_update_mask(int16_t *s, const int8_t *w, const int16_t *gq,
                                       uint32_t n, uint32_t lr_shift, priot_mask_t *m,
                                       uint32_t first, int8_t *w_eff)
{
    const int32_t half = lr_shift ? (int32_t)1 << (lr_shift - 1u) : 0;
    uint32_t *const bits = m->has_win ? m->in_win : (uint32_t *)0;
    const uint32_t wlo = m->win_lo, span = m->win_span;
    uint32_t j, ko, kn;
    for (j = 0; j < n; j++) {
        if (!score_step(s + j, gq[j], w[j], half, lr_shift, &ko, &kn))
            continue;
        move_counts(m, ko, kn);
        if (bits)
            window_step(m, bits, wlo, span, first + j, ko, kn, w_eff + j, w[j]);
    }
}

/* The row's update over the listed inputs only: gq = (ev x + 2^(gs-1)) >> gs is
 * priot_fc_score_grad's value (|ev x| <= 2^14: no overflow, no saturation), and the
 * edges with x == 0 (gq == 0) are exactly the ones priot_score_update_mask leaves alone. */
static PRIOT_HOT void fc_score_update_mask_row(int16_t *s, const int8_t *w,
                                               const priot_fc_inputs_t *in, int32_t ev,
                                               priot_mask_t *m, uint32_t first, int8_t *w_eff)
{
    const uint32_t lr_shift = in->lr_shift, gs = in->grad_shift;
    const int32_t half = lr_shift ? (int32_t)1 << (lr_shift - 1u) : 0;
    const int32_t ghalf = gs ? (int32_t)1 << (gs - 1u) : 0;
    uint32_t *const bits = m->has_win ? m->in_win : (uint32_t *)0;
    const uint32_t wlo = m->win_lo, span = m->win_span;
    const uint32_t *p = in->list, *const end = p + in->count;
    uint32_t ko, kn;
    for (; p < end; p++) {
        const uint32_t i = *p & 0xFFFFu;
        const int32_t g = (ev * ((int32_t)*p >> 16) + ghalf) >> gs;
        if (!score_step(s + i, g, w[i], half, lr_shift, &ko, &kn))
            continue;
        move_counts(m, ko, kn);
        if (bits)
            window_step(m, bits, wlo, span, first + i, ko, kn, w_eff + i, w[i]);
    }
}
#endif /* PRIOT_ASM_M0 */

PRIOT_HOT void priot_fc_inputs(priot_fc_inputs_t *in, const priot_layer_t *L, const int8_t *x,
                               uint32_t lr_shift, uint32_t *scratch)
{
    const uint32_t n = L->in.c;
    uint32_t i, *p = scratch;
    for (i = 0; i < n; i++) {
        const int32_t v = x[i];
        if (v)
            *p++ = (uint32_t)v << 16 | i;
    }
    fc_inputs_set(in, L, x, lr_shift, scratch, (uint32_t)(p - scratch));
}

void priot_fc_score_update_mask(const priot_fc_inputs_t *in, const int8_t *e_out, uint32_t o,
                                int16_t *s, priot_mask_t *m, int8_t *w_eff)
{
    const uint32_t first = o * in->L->in.c;
    fc_score_update_mask_row(s + first, in->L->w + first, in, e_out[o], m, first,
                             w_eff ? w_eff + first : (int8_t *)0);
}
#endif
