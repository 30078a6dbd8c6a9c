/* Integer helpers of docs/SEMANTICS.md ("Number formats"). Header-only, static inline.
 *
 * Accumulators: sums of products are formed in uint32_t (priot_acc_t) so that, should a
 * model ever overflow 32 bits, the result is the defined two's-complement wrap-around
 * that SEMANTICS.md prescribes (no C undefined behaviour); priot_acc_value() turns the
 * sum back into int32 (GCC/Clang define this conversion as modulo 2^32).
 * Right shifts of negative int32 are arithmetic on every supported compiler (GCC, Clang). */
#ifndef PRIOT_ARITH_H
#define PRIOT_ARITH_H
#include <stdint.h>

/* Functions marked PRIOT_HOT are the inner kernels; a firmware build may define it as a
 * section attribute to place them in RAM. */
#ifndef PRIOT_HOT
#define PRIOT_HOT
#endif

typedef uint32_t priot_acc_t;

/* acc += a * b with a, b int8 (or int16 x int8): the product fits in int32. */
#define PRIOT_MAC(acc, a, b) ((acc) += (uint32_t)((int32_t)(a) * (int32_t)(b)))

static inline int32_t priot_acc_value(priot_acc_t acc) { return (int32_t)acc; }

/* sat8(v) = min(127, max(-128, v)) */
static inline int32_t priot_sat8(int32_t v)
{
    return v > 127 ? 127 : (v < -128 ? -128 : v);
}

/* sat16(v) = min(32767, max(-32768, v)) */
static inline int32_t priot_sat16(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
}

/* round_shift(v, s) = floor((v + 2^(s-1)) / 2^s) for s in 1..31, v for s == 0.
 * Computed as (v >> s) + bit (s-1) of v, which cannot overflow (SEMANTICS.md). */
static inline int32_t priot_round_shift(int32_t v, uint32_t s)
{
    if (s == 0)
        return v;
    return (v >> s) + ((v >> (s - 1)) & 1);
}

/* NITI's pseudo-stochastic rounding of v / 2^s, s in 0..31 (SEMANTICS.md "Gradient
 * rounding"), in sign-magnitude: of the s bits the shift discards from |v|, the upper
 * s - s/2 bits are the probability p, the lower s/2 bits (doubled when s is odd, so both
 * have s - s/2 bits) the pseudo-random number r; |v| >> s rounds up by one when p > r.
 * No random generator: deterministic. |INT32_MIN| is 2^31 (uint32). */
static inline int32_t priot_psto_shift(int32_t v, uint32_t s)
{
    const uint32_t mag = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    const uint32_t k = s >> 1;
    const uint32_t rem = mag & ((1u << s) - 1u);
    const uint32_t q = (mag >> s) + ((rem >> k) > ((rem & ((1u << k) - 1u)) << (s & 1u)));
    return v < 0 ? (int32_t)(0u - q) : (int32_t)q;
}

/* Layer output: sat8(round_shift(acc, shift)), then max(y, 0) if relu. */
static inline int8_t priot_requant(int32_t acc, uint32_t shift, int relu)
{
    int32_t y = priot_sat8(priot_round_shift(acc, shift));
    if (relu && y < 0)
        y = 0;
    return (int8_t)y;
}

#endif
