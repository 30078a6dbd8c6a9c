/* Private to src/: the building blocks of the optimised 3x3 kernels, shared by kernels.c
 * (PRIOT / static SGD) and niti.c (NITI baseline). docs/performance.md describes them. */
#ifndef PRIOT_SRC_KERNELS_OPT_H
#define PRIOT_SRC_KERNELS_OPT_H
#include <stdint.h>
#include <string.h>
#include "priot/arith.h"
#include "priot/types.h"

/* ------------------------------------------------------------------ 3x3 planes
 * plane9_add: acc[y][x] += sum_t src[y + dy_t][x + dx_t] * k[t] over one H x W plane
 * (zero padding), the core of the conv forward (k = w[o][i]) and of the transposed conv
 * of the error backward (k = w[o][i] reversed). One pass per kernel row (skipped when its
 * three weights are pruned): the three weights stay in registers, the inputs roll through
 * registers (one load per output), only the first and last columns need shorter sums. */

/* a[g x] += r[x - 1] k0 + r[x] k1 + r[x + 1] k2 for x in [0, W) (r[-1] = r[W] = 0): one
 * kernel row; g = 1, or 2 for one channel of an interleaved pair. The three inputs roll
 * through registers (one new load per output), the loop is unrolled by three so that the
 * roll needs no register moves. */
static inline __attribute__((always_inline)) void row3_add_gap(priot_acc_t *a, uint32_t g,
                                                               const int8_t *r, int32_t k0,
                                                               int32_t k1, int32_t k2,
                                                               uint32_t W)
{
    int32_t p, c, n;
    priot_acc_t *end;
    if (W == 1u) {
        a[0] += (uint32_t)(r[0] * k1);
        return;
    }
    c = r[0];
    n = r[1];
    a[0] += (uint32_t)(c * k1 + n * k2);
    a += g;
    r += 2;
    end = a + g * (W - 2u);
    while ((uint32_t)(end - a) >= 3u * g) {
        p = r[0];
        a[0] += (uint32_t)(c * k0 + n * k1 + p * k2);
        c = r[1];
        a[g] += (uint32_t)(n * k0 + p * k1 + c * k2);
        n = r[2];
        a[2u * g] += (uint32_t)(p * k0 + c * k1 + n * k2);
        a += 3u * g;
        r += 3;
    }
    while (a != end) {
        p = *r++;
        *a += (uint32_t)(c * k0 + n * k1 + p * k2);
        a += g;
        c = n;
        n = p;
    }
    a[0] += (uint32_t)(c * k0 + n * k1);
}

static inline __attribute__((always_inline)) void row3_add(priot_acc_t *a, const int8_t *r,
                                                           int32_t k0, int32_t k1, int32_t k2,
                                                           uint32_t W)
{
    row3_add_gap(a, 1u, r, k0, k1, k2, W);
}

#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
/* plane3_add_m0.S: row3_add over `rows` consecutive rows (a and r advance by W per row),
 * all state in registers, 15 cycles per interior output. rows >= 1, W >= 2. */
void priot_plane3_rows_m0(priot_acc_t *a, const int8_t *r, const int32_t *k, uint32_t rows,
                          uint32_t W);
/* the same for one channel of an interleaved pair: a[2 x], a advancing by 2 W per row */
void priot_plane3_rows_gap_m0(priot_acc_t *a, const int8_t *r, const int32_t *k,
                              uint32_t rows, uint32_t W);
#endif

/* a[r] += sum_j x[j] w[r N + j] for the four weight rows r = 0..3 (N >= 1): one input load
 * feeds four MACs, zero inputs are skipped (the sums are only reordered: exact). */
#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
void priot_fc_dot4_m0(const int8_t *x, const int8_t *w, uint32_t N, priot_acc_t *a);
#define fc_dot4 priot_fc_dot4_m0   /* fc_dot4_m0.S: 23 cycles per non-zero input, 8 per zero */
#else
static PRIOT_HOT void fc_dot4(const int8_t *x, const int8_t *w, uint32_t N, priot_acc_t *a)
{
    const int8_t *w1 = w + N, *w2 = w1 + N, *w3 = w2 + N;
    priot_acc_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    uint32_t j;
    for (j = 0; j < N; j++) {
        const int32_t xv = x[j];
        if (!xv)
            continue;
        a0 += (uint32_t)(xv * w[j]);
        a1 += (uint32_t)(xv * w1[j]);
        a2 += (uint32_t)(xv * w2[j]);
        a3 += (uint32_t)(xv * w3[j]);
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}
#endif

/* One kernel row (ky) over the whole plane: acc row y += source row y + ky - 1; g as in
 * row3_add_gap (a constant in each of the two functions below). */
static inline __attribute__((always_inline)) void plane3_add_gap(priot_acc_t *acc, uint32_t g,
                                                                 const int8_t *src,
                                                                 const int32_t *k, int32_t dy,
                                                                 uint32_t H, uint32_t W)
{
    const int32_t k0 = k[0], k1 = k[1], k2 = k[2];
    uint32_t y = dy < 0 ? 1u : 0u;
    const uint32_t y1 = dy > 0 ? H - 1u : H;
#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
    if (W >= 2u) {
        if (y < y1)
            (g == 1u ? priot_plane3_rows_m0 : priot_plane3_rows_gap_m0)(
                acc + g * y * W, src + (int32_t)(y * W) + dy * (int32_t)W, k, y1 - y, W);
        return;
    }
#endif
    for (; y < y1; y++)
        row3_add_gap(acc + g * y * W, g, src + (int32_t)(y * W) + dy * (int32_t)W, k0, k1, k2,
                     W);
}

static PRIOT_HOT void plane3_add(priot_acc_t *acc, const int8_t *src, const int32_t *k,
                                 int32_t dy, uint32_t H, uint32_t W)
{
    plane3_add_gap(acc, 1u, src, k, dy, H, W);
}

/* plane3_add for one channel of an interleaved pair (acc2 or acc2 + 1). */
static PRIOT_HOT void plane3_add_pair_channel(priot_acc_t *acc, const int8_t *src,
                                              const int32_t *k, int32_t dy, uint32_t H,
                                              uint32_t W)
{
    plane3_add_gap(acc, 2u, src, k, dy, H, W);
}

static void plane9_add(priot_acc_t *acc, const int8_t *src, const int32_t *k, uint32_t H,
                       uint32_t W)
{
    int32_t dy;
    for (dy = -1; dy <= 1; dy++, k += 3)
        if (k[0] | k[1] | k[2])
            plane3_add(acc, src, k, dy, H, W);
}

/* ------------------------------------------------------------------ output-channel pairs
 * The conv forward runs two output channels per pass over a kernel row: the row's weights
 * of both channels are packed into one word per tap, K = w0 + 65536 w1, so one MULS gives
 * both products and the row's sum P = sum K x = S0 + 65536 S1 carries both channels' sums.
 * S0 = sxth(P) and S1 = (P - S0) >> 16 are exact while -32768 <= S0, S1 <= 32767, which
 * holds when each channel's three |w| sum to at most 255 (|x| <= 128: |S| <= 32640);
 * pair_row_fits checks it; other kernel rows take one pass per channel
 * (plane3_add_pair_channel). On planes of PAIR_GROUP_MIN_HW outputs or more, the rows
 * are grouped instead ("deferred split" below).
 * acc2 interleaves the two channels: acc2[2p] channel o, acc2[2p + 1] channel o + 1.
 * The sums are the same as one channel at a time, only regrouped: exact. */
static inline int32_t pair_pack(int32_t w0, int32_t w1)
{
    return (int32_t)((uint32_t)w1 << 16) + w0;
}

static inline uint32_t abs3(const int32_t *k)
{
    const int32_t a = k[0] < 0 ? -k[0] : k[0], b = k[1] < 0 ? -k[1] : k[1],
                  c = k[2] < 0 ? -k[2] : k[2];
    return (uint32_t)(a + b + c);
}

static inline uint32_t pair_row_fits(const int32_t *ka, const int32_t *kb)
{
    return abs3(ka) <= 255u && abs3(kb) <= 255u;
}

/* a[0] += S0, a[1] += S1 of a packed row sum P. */
static inline __attribute__((always_inline)) void pair_add(priot_acc_t *a, int32_t P)
{
    const int32_t s0 = (int16_t)P;
    a[0] += (uint32_t)s0;
    a[1] += (uint32_t)((P - s0) >> 16);
}

/* row3_add for a channel pair: a (interleaved, 2 W words) += the packed row sums. */
static inline __attribute__((always_inline)) void row3_pair_add(priot_acc_t *a, const int8_t *r,
                                                                int32_t k0, int32_t k1,
                                                                int32_t k2, uint32_t W)
{
    int32_t c, n, p;
    uint32_t x;
    if (W == 1u) {
        pair_add(a, r[0] * k1);
        return;
    }
    c = r[0];
    n = r[1];
    pair_add(a, c * k1 + n * k2);
    for (x = 1; x + 1u < W; x++) {
        p = r[x + 1u];
        pair_add(a + 2u * x, c * k0 + n * k1 + p * k2);
        c = n;
        n = p;
    }
    pair_add(a + 2u * (W - 1u), c * k0 + n * k1);
}

#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
/* plane3_pair_m0.S: row3_pair_add over `rows` consecutive rows (a advances by 2 W words,
 * r by W per row), 23 cycles per interior output pair. rows >= 1, W >= 2. */
void priot_plane3_pair_rows_m0(priot_acc_t *a, const int8_t *r, const int32_t *k,
                               uint32_t rows, uint32_t W);
#endif

/* plane3_add for a channel pair: kernel row dy + 1 with packed weights K[0..2]. */
static PRIOT_HOT void plane3_pair_add(priot_acc_t *acc2, const int8_t *src, const int32_t *K,
                                      int32_t dy, uint32_t H, uint32_t W)
{
    uint32_t y = dy < 0 ? 1u : 0u;
    const uint32_t y1 = dy > 0 ? H - 1u : H;
    if (y >= y1)
        return;
#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
    if (W >= 2u) {
        priot_plane3_pair_rows_m0(acc2 + 2u * y * W, src + (int32_t)(y * W) + dy * (int32_t)W,
                                  K, y1 - y, W);
        return;
    }
#endif
    for (; y < y1; y++)
        row3_pair_add(acc2 + 2u * y * W, src + (int32_t)(y * W) + dy * (int32_t)W, K[0], K[1],
                      K[2], W);
}

/* acc2 += the 3x3 correlation of src with the taps ka (channel o) and kb (channel o + 1):
 * per kernel row one packed pass when it fits, else one pass per channel. */
static inline void plane9_pair_add(priot_acc_t *acc2, const int8_t *src, const int32_t *ka,
                                   const int32_t *kb, uint32_t H, uint32_t W)
{
    int32_t dy, K[3];
    uint32_t t;
    for (dy = -1; dy <= 1; dy++, ka += 3, kb += 3) {
        if (!(ka[0] | ka[1] | ka[2] | kb[0] | kb[1] | kb[2]))
            continue;
        if (pair_row_fits(ka, kb)) {
            for (t = 0; t < 3u; t++)
                K[t] = pair_pack(ka[t], kb[t]);
            plane3_pair_add(acc2, src, K, dy, H, W);
            continue;
        }
        if (ka[0] | ka[1] | ka[2])
            plane3_add_pair_channel(acc2, src, ka, dy, H, W);
        if (kb[0] | kb[1] | kb[2])
            plane3_add_pair_channel(acc2 + 1, src, kb, dy, H, W);
    }
}

/* One requantised element: round_shift without the s == 0 branch (s1, bit), saturation by
 * one unsigned compare, then the ReLU floor lo. */
static inline __attribute__((always_inline)) int8_t requant_one(int32_t v, uint32_t shift,
                                                                uint32_t s1, int32_t bit,
                                                                int32_t lo)
{
    int32_t r = (v >> shift) + ((v >> s1) & bit);
    if ((uint32_t)(r + 128) > 255u)
        r = r < 0 ? -128 : 127;
    if (r < lo)
        r = lo;
    return (int8_t)r;
}

#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
/* requant_m0.S: requant_plane and requant_pair below for n >= 1, shift >= 1, ~10 cycles
 * per element with the ReLU (GCC's code for the C: 15-22, depending on the caller). */
void priot_requant_plane_m0(const priot_acc_t *acc, int8_t *y, uint32_t n, uint32_t shift,
                            uint32_t relu);
void priot_requant_pair_m0(const priot_acc_t *acc2, int8_t *y, uint32_t n, uint32_t shift,
                           uint32_t relu);
#endif

/* y[p] = requant(acc[p]) for n accumulators: round_shift without the s == 0 branch per
 * element, saturation by one unsigned compare (docs/SEMANTICS.md "Layers", "Backward"). */
static PRIOT_HOT void requant_plane(const priot_acc_t *acc, int8_t *y, uint32_t n,
                                    uint32_t shift, int relu)
{
    const int32_t lo = relu ? 0 : -128;
    const uint32_t s1 = shift ? shift - 1u : 0u;
    const int32_t bit = shift ? 1 : 0; /* shift 0: r = (v >> 0) + 0 */
#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
    if (n && shift) {
        priot_requant_plane_m0(acc, y, n, shift, relu != 0);
        return;
    }
#endif
    while (n--) {   /* requant_one's body, kept spelled out: GCC's code for it is faster */
        const int32_t v = (int32_t)*acc++;
        int32_t r = (v >> shift) + ((v >> s1) & bit);
        if ((uint32_t)(r + 128) > 255u)
            r = r < 0 ? -128 : 127;
        if (r < lo)
            r = lo;
        *y++ = (int8_t)r;
    }
}

/* requant_plane of a channel pair's interleaved accumulators into y and y + n. */
static inline PRIOT_HOT void requant_pair(const priot_acc_t *acc2, int8_t *y, uint32_t n,
                                          uint32_t shift, int relu)
{
    const int32_t lo = relu ? 0 : -128;
    const uint32_t s1 = shift ? shift - 1u : 0u;
    const int32_t bit = shift ? 1 : 0;
    int8_t *y0 = y, *y1 = y + n;
#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
    if (n && shift) {
        priot_requant_pair_m0(acc2, y, n, shift, relu != 0);
        return;
    }
#endif
    while (n--) {
        *y0++ = requant_one((int32_t)acc2[0], shift, s1, bit, lo);
        *y1++ = requant_one((int32_t)acc2[1], shift, s1, bit, lo);
        acc2 += 2;
    }
}

/* k[t] = w[t] (forward) or w[8 - t] (transposed); returns 0 if all nine are zero. */
static inline uint32_t load_taps(int32_t *k, const int8_t *w, int reversed)
{
    uint32_t t, any = 0;
    for (t = 0; t < 9u; t++) {
        k[t] = reversed ? w[8u - t] : w[t];
        any |= (uint32_t)k[t];
    }
    return any;
}

/* ------------------------------------------------------------------ sparse errors
 * After the 2x2 max-pool routing at most one error in four is non-zero (the ReLU mask
 * removes more), so the error backward and the weight gradient walk lists of the
 * non-zero errors instead of whole planes. off[t]: offset of tap t ((ky - 1) W + kx - 1).
 * A position (yy, xx) misses the taps that leave the plane: rows 0 / H - 1 miss taps
 * 0-2 / 6-8, columns 0 / W - 1 miss taps 0,3,6 / 2,5,8. */
static inline void tap_offsets(int32_t *off, uint32_t W)
{
    uint32_t t;
    for (t = 0; t < 9u; t++)
        off[t] = ((int32_t)(t / 3u) - 1) * (int32_t)W + (int32_t)(t % 3u) - 1;
}

static inline uint32_t missed_rows(uint32_t yy, uint32_t H)
{
    return (yy == 0 ? 0x007u : 0u) | (yy + 1u == H ? 0x1C0u : 0u);
}

static inline uint32_t missed_cols(uint32_t xx, uint32_t W)
{
    return (xx == 0 ? 0x049u : 0u) | (xx + 1u == W ? 0x124u : 0u);
}

/* Error backward: the non-zero errors of all output channels, packed one word each
 * (value << 24 | in-range tap mask << 12 | offset; planes up to 4096 pixels), with the
 * first entry of every channel in start[]. 3200 bytes of stack; the tiny CNN's conv
 * 8->16 has at most 16 x 49 = 784 entries after pooling. */
#define EB_LIST_MAX 800u
#define EB_OC_MAX 64u
typedef struct {
    int32_t ent[EB_LIST_MAX];
    uint16_t start[EB_OC_MAX + 1u];
    int32_t off[9];
    int sparse;   /* 0: denser than a quarter, or too many entries or channels */
} eb_list_t;

static PRIOT_HOT void eb_list_build(eb_list_t *l, const priot_layer_t *L, const int8_t *e_out)
{
    const uint32_t OC = L->out.c, H = L->in.h, W = L->in.w, HW = H * W;
    uint32_t o, n = 0;
    tap_offsets(l->off, W);
    l->sparse = OC <= EB_OC_MAX && HW <= 4096u;
    for (o = 0; l->sparse && o < OC; o++) {
        const int8_t *eo = e_out + o * HW;
        uint32_t p = 0, yy, xx;
        l->start[o] = (uint16_t)n;
        for (yy = 0; yy < H && l->sparse; yy++) {
            const uint32_t rows = missed_rows(yy, H);
            for (xx = 0; xx < W; xx++, p++) {
                if (!eo[p])
                    continue;
                if (n == EB_LIST_MAX) {
                    l->sparse = 0;
                    break;
                }
                /* entry at (yy, xx) reaches e_in at (yy + ky - 1, xx + kx - 1) */
                l->ent[n++] = (int32_t)(((uint32_t)(uint8_t)eo[p] << 24) |
                                        ((~(rows | missed_cols(xx, W)) & 0x1FFu) << 12) | p);
            }
        }
    }
    if (l->sparse) {
        l->start[OC] = (uint16_t)n;
        l->sparse = 4u * n <= OC * HW;
    }
}

/* acc (input channel i's plane, zeroed by the caller) += the transposed conv of e_out
 * with w[.][i]: scattered from the list (acc[p + off_t] += e w_t), or, for dense errors,
 * gathered as the forward correlation of e_out with the reversed kernels. */
static PRIOT_HOT void eb_plane_add(const eb_list_t *l, const priot_layer_t *L,
                                   const int8_t *e_out, const int8_t *w, uint32_t i,
                                   priot_acc_t *acc)
{
    const uint32_t C = L->in.c, OC = L->out.c, H = L->in.h, W = L->in.w, HW = H * W;
    uint32_t o, j;
    int32_t k[9];
    if (!l->sparse) {
        for (o = 0; o < OC; o++)
            if (load_taps(k, w + (o * C + i) * 9u, 1))
                plane9_add(acc, e_out + o * HW, k, H, W);
        return;
    }
    for (o = 0; o < OC; o++) {
        const uint32_t j1 = l->start[o + 1u];
        if (l->start[o] == j1 || !load_taps(k, w + (o * C + i) * 9u, 0))
            continue;
        for (j = l->start[o]; j < j1; j++) {
            const int32_t v = l->ent[j];
            const uint32_t taps = ((uint32_t)v >> 12) & 0x1FFu;
            priot_acc_t *a = acc + (v & 0xFFF);
            const int32_t e = v >> 24;
            if (taps == 0x1FFu) {
                priot_acc_t *r = a - W;
                r[-1] += (uint32_t)(e * k[0]);
                r[0] += (uint32_t)(e * k[1]);
                r[1] += (uint32_t)(e * k[2]);
                a[-1] += (uint32_t)(e * k[3]);
                a[0] += (uint32_t)(e * k[4]);
                a[1] += (uint32_t)(e * k[5]);
                r = a + W;
                r[-1] += (uint32_t)(e * k[6]);
                r[0] += (uint32_t)(e * k[7]);
                r[1] += (uint32_t)(e * k[8]);
            } else {
                uint32_t t;
                for (t = 0; t < 9u; t++)
                    if (taps & (1u << t))
                        a[l->off[t]] += (uint32_t)(e * k[t]);
            }
        }
    }
}

/* Weight gradient: the non-zero errors of one output channel, interior positions from
 * the front of the list, border positions (offset | tap mask << 16) from the back. */
#define SG_LIST_MAX 256u
typedef struct {
    int32_t pos[SG_LIST_MAX];
    int32_t ev[SG_LIST_MAX];
    int32_t off[9];          /* tap_offsets(off, W), set by the caller once */
    uint32_t n_in, n_bd;     /* entries [0, n_in) interior, [n_bd, SG_LIST_MAX) border */
} sg_list_t;

/* List channel eo (H x W); 0 if the errors do not fit the list or are dense enough (more
 * than half non-zero) that the plain sweep is cheaper. */
static PRIOT_HOT int sg_list_build(sg_list_t *l, const int8_t *eo, uint32_t H, uint32_t W)
{
    uint32_t n_in = 0, n_bd = SG_LIST_MAX, p = 0, yy, xx;
    for (yy = 0; yy < H; yy++) {
        const uint32_t rows = missed_rows(yy, H);
        for (xx = 0; xx < W; xx++, p++) {
            uint32_t miss;
            if (!eo[p])
                continue;
            if (n_in == n_bd)
                return 0;   /* one error more than the list holds */
            miss = rows | missed_cols(xx, W);
            if (miss) {
                n_bd--;
                l->pos[n_bd] = (int32_t)(p | ((~miss & 0x1FFu) << 16));
                l->ev[n_bd] = eo[p];
            } else {
                l->pos[n_in] = (int32_t)p;
                l->ev[n_in] = eo[p];
                n_in++;
            }
        }
    }
    l->n_in = n_in;
    l->n_bd = n_bd;
    return 2u * (n_in + SG_LIST_MAX - n_bd) <= H * W;
}

/* g[t] = sum over the listed errors e at p of e * xi[p + off_t] (the nine tap sums of one
 * input channel plane xi). */
static inline __attribute__((always_inline)) void sg_tap_sums(const sg_list_t *l, const int8_t *xi, priot_acc_t *g)
{
    uint32_t k, t;
    for (t = 0; t < 9u; t += 3) {
        const int8_t *xr = xi + l->off[t + 1u];
        priot_acc_t g0 = 0, g1 = 0, g2 = 0;
        const int32_t *pp = l->pos, *pe = l->ev, *pend = l->pos + l->n_in;
        while (pp != pend) {
            const int8_t *q = xr + *pp++;
            const int32_t e = *pe++;
            g0 += (uint32_t)(e * q[-1]);
            g1 += (uint32_t)(e * q[0]);
            g2 += (uint32_t)(e * q[1]);
        }
        g[t] = g0;
        g[t + 1u] = g1;
        g[t + 2u] = g2;
    }
    for (k = l->n_bd; k < SG_LIST_MAX; k++) {
        const int8_t *q = xi + (l->pos[k] & 0xFFFF);
        const uint32_t taps = (uint32_t)l->pos[k] >> 16;
        const int32_t e = l->ev[k];
        for (t = 0; t < 9u; t++)
            if (taps & (1u << t))
                g[t] += (uint32_t)(e * q[l->off[t]]);
    }
}

/* ------------------------------------------------------------------ fc */

/* acc[j] = sum_o e[o] * w[o][j] over the non-zero e[o]; two rows per pass share each
 * acc[j] load and store. */
static PRIOT_HOT void fc_error_accumulate(const priot_layer_t *L, const int8_t *e_out,
                                         const int8_t *w, priot_acc_t *acc)
{
    const uint32_t N = L->in.c, OC = L->out.c;
    uint32_t o, j;
    int32_t pend = 0;
    const int8_t *wp = 0;
    memset(acc, 0, N * sizeof(priot_acc_t));
    for (o = 0; o < OC; o++) {
        const int32_t ev = e_out[o];
        if (!ev)
            continue;
        if (!pend) {
            pend = ev;
            wp = w + o * N;
            continue;
        }
        {
            const int8_t *w1 = w + o * N;
            for (j = 0; j < N; j++)
                acc[j] += (uint32_t)(pend * wp[j] + ev * w1[j]);
        }
        pend = 0;
    }
    if (pend)
        for (j = 0; j < N; j++)
            acc[j] += (uint32_t)(pend * wp[j]);
}

/* ------------------------------------------------------------------ deferred split
 * The packed row sums of a channel pair need not be split after every kernel row: their
 * sum Q = sum P over a *group* of rows keeps both halves exact while the group's weights
 * stay within the bound of one row, applied to the whole group. So the rows of a group add
 * into one packed plane q with the single-channel pass (plane3_add with the packed K as
 * its weights: 15 cycles per output pair on the firmware instead of 23), and q's halves
 * reach the pair's accumulators once per group (pair_flush, which leaves q zero, 17.5
 * cycles per output pair). A group of one or two rows takes the split pass
 * (plane3_pair_add) for each row instead, as the flush would cost as much as it saves.
 * The groups are formed in pass order (input channel, kernel row), greedily.
 * The bound, per channel of the pair and over the group's weights:
 *  - any int8 input (|x| <= 128): sum |w| <= 255, so |S| <= 32640;
 *  - inputs known non-negative (0 <= x <= 127: the image and every post-ReLU activation,
 *    checked once per call by planes_nonneg): S lies in [-127 N, 127 P] with P the sum of
 *    the positive weights and N of the magnitudes of the negative ones, so P <= 258 and
 *    N <= 258 suffice (127 * 258 = 32766); for trained weights of mixed signs that about
 *    doubles the rows per group. */
#define PAIR_BOUND_SIGNED 255u
#ifndef PAIR_GROUP_MIN_HW
#define PAIR_GROUP_MIN_HW 100u
#endif
#define PAIR_BOUND_NONNEG 258u

/* 1 if all n bytes of x are >= 0. */
static inline uint32_t planes_nonneg(const int8_t *x, uint32_t n)
{
    uint32_t any = 0;
    if (!((uintptr_t)x & 3u)) {   /* four at a time */
        const uint32_t *p = (const uint32_t *)(const void *)x;
        for (; n >= 4u; n -= 4u)
            any |= *p++;
        x = (const int8_t *)(const void *)p;
    }
    while (n--)
        any |= (uint8_t)*x++;
    return !(any & 0x80808080u);
}

#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
/* pair_flush_m0.S: the C pair_flush below, 17.5 cycles per element. n >= 1. */
void priot_pair_flush_m0(priot_acc_t *acc2, priot_acc_t *q, uint32_t n);
#endif

/* acc2[2p] += sxth(q[p]), acc2[2p + 1] += the high half; q[p] = 0; p < n. */
static inline void pair_flush(priot_acc_t *acc2, priot_acc_t *q, uint32_t n)
{
#if defined(PRIOT_ASM_M0) && PRIOT_ASM_M0
    if (n)
        priot_pair_flush_m0(acc2, q, n);
#else
    while (n--) {
        pair_add(acc2, (int32_t)*q);
        *q++ = 0;
        acc2 += 2;
    }
#endif
}

/* The open group of a channel pair: its weights so far (u[0..3], see pair_row_load) and
 * its first two rows, held back until a third row joins them (then all go to q) or the
 * group closes without one (then each takes the split pass). */
#define PAIR_GROUP_HELD 2u
typedef struct {
    uint32_t u[4];
    uint32_t rows;   /* rows in the group: up to PAIR_GROUP_HELD held, then in q */
    const int8_t *src[PAIR_GROUP_HELD];
    int32_t dy[PAIR_GROUP_HELD];
    int32_t K[PAIR_GROUP_HELD][3];
} pair_group_t;

/* The bound's measures of kernel row ka / kb: non-negative inputs: the positive and
 * negative weight sums of each channel; otherwise each channel's |w| sum (and 0). Returns
 * 0 if both rows are all zero. */
static inline uint32_t pair_row_load(uint32_t *u, const int32_t *ka, const int32_t *kb,
                                     uint32_t nonneg)
{
    uint32_t t, pa = 0, na = 0, pb = 0, nb = 0;
    for (t = 0; t < 3u; t++) {
        if (ka[t] > 0)
            pa += (uint32_t)ka[t];
        else
            na -= (uint32_t)ka[t];
        if (kb[t] > 0)
            pb += (uint32_t)kb[t];
        else
            nb -= (uint32_t)kb[t];
    }
    if (nonneg) {
        u[0] = pa;
        u[1] = na;
        u[2] = pb;
        u[3] = nb;
    } else {
        u[0] = pa + na;
        u[1] = 0;
        u[2] = pb + nb;
        u[3] = 0;
    }
    return pa | na | pb | nb;
}

static inline uint32_t max4(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    a = a > b ? a : b;
    c = c > d ? c : d;
    return a > c ? a : c;
}

static inline void pair_group_close(pair_group_t *g, priot_acc_t *acc2, priot_acc_t *q,
                                    uint32_t H, uint32_t W)
{
    uint32_t r;
    if (g->rows > PAIR_GROUP_HELD)
        pair_flush(acc2, q, H * W);
    else
        for (r = 0; r < g->rows; r++)
            plane3_pair_add(acc2, g->src[r], g->K[r], g->dy[r], H, W);
    g->rows = 0;
    g->u[0] = g->u[1] = g->u[2] = g->u[3] = 0;
}

/* acc2 (channels o and o + 1 interleaved, holding their biases) += the 3x3 correlations
 * of the C planes of x with the taps wa (channel o) and wb (channel o + 1), both C x 9;
 * nonneg: every input is >= 0 (planes_nonneg). q: one plane of scratch, zero on entry and
 * on return. */
static PRIOT_HOT void conv_pair_add(priot_acc_t *acc2, priot_acc_t *q, const int8_t *x,
                                    const int8_t *wa, const int8_t *wb, uint32_t C,
                                    uint32_t H, uint32_t W, uint32_t nonneg)
{
    const uint32_t HW = H * W, bound = nonneg ? PAIR_BOUND_NONNEG : PAIR_BOUND_SIGNED;
    uint32_t i, t;
    int32_t ka[9], kb[9], dy;
    pair_group_t g;
    if (HW < PAIR_GROUP_MIN_HW) {   /* small planes: the bookkeeping would cost more */
        for (i = 0; i < C; i++, x += HW)
            if (load_taps(ka, wa + 9u * i, 0) | load_taps(kb, wb + 9u * i, 0))
                plane9_pair_add(acc2, x, ka, kb, H, W);
        return;
    }
    memset(&g, 0, sizeof g);
    for (i = 0; i < C; i++, x += HW) {
        const int32_t *pa = ka, *pb = kb;
        if (!(load_taps(ka, wa + 9u * i, 0) | load_taps(kb, wb + 9u * i, 0)))
            continue;
        for (dy = -1; dy <= 1; dy++, pa += 3, pb += 3) {
            uint32_t u[4];
            int32_t K[3];
            if (!pair_row_load(u, pa, pb, nonneg))
                continue;
            if (max4(u[0], u[1], u[2], u[3]) > bound) {   /* beyond it: a pass per channel */
                if (pa[0] | pa[1] | pa[2])
                    plane3_add_pair_channel(acc2, x, pa, dy, H, W);
                if (pb[0] | pb[1] | pb[2])
                    plane3_add_pair_channel(acc2 + 1, x, pb, dy, H, W);
                continue;
            }
            if (max4(g.u[0] + u[0], g.u[1] + u[1], g.u[2] + u[2], g.u[3] + u[3]) > bound)
                pair_group_close(&g, acc2, q, H, W);
            for (t = 0; t < 4u; t++)
                g.u[t] += u[t];
            for (t = 0; t < 3u; t++)
                K[t] = pair_pack(pa[t], pb[t]);
            if (g.rows < PAIR_GROUP_HELD) {   /* held back */
                g.src[g.rows] = x;
                g.dy[g.rows] = dy;
                for (t = 0; t < 3u; t++)
                    g.K[g.rows][t] = K[t];
            } else {
                if (g.rows == PAIR_GROUP_HELD)
                    for (t = 0; t < PAIR_GROUP_HELD; t++)
                        plane3_add(q, g.src[t], g.K[t], g.dy[t], H, W);
                plane3_add(q, x, K, dy, H, W);
            }
            g.rows++;
        }
    }
    pair_group_close(&g, acc2, q, H, W);
}

#endif
