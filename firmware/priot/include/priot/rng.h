/* xorshift32 PRNG of docs/SEMANTICS.md ("PRNG"). */
#ifndef PRIOT_RNG_H
#define PRIOT_RNG_H
#include <stdint.h>

#define PRIOT_RNG_ZERO_SEED 0x9E3779B9u

typedef struct { uint32_t x; } priot_rng_t;

static inline void priot_rng_seed(priot_rng_t *r, uint32_t seed)
{
    r->x = seed ? seed : PRIOT_RNG_ZERO_SEED;
}

/* x ^= x << 13; x ^= x >> 17; x ^= x << 5; return x. */
static inline uint32_t priot_rng_next(priot_rng_t *r)
{
    uint32_t x = r->x;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    r->x = x;
    return x;
}

#endif
