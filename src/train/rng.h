/* rng.h - the trainer's random numbers: one 64-bit state (splitmix64), so a checkpoint saves and
 * restores it exactly. Normals by Box-Muller in double. */
#ifndef KS_TRAIN_RNG_H
#define KS_TRAIN_RNG_H
#include <math.h>
#include <stdint.h>

typedef struct ks_rng {
    uint64_t s;
} ks_rng;

static inline uint64_t ks_rng_u64(ks_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in (0, 1): 53 random bits, never 0 */
static inline double ks_rng_unif(ks_rng *r) { return ((double)(ks_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53; }
static inline double ks_rng_normal(ks_rng *r) {
    const double u = ks_rng_unif(r), v = ks_rng_unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
/* uniform integer in [0, n), n > 0 (the modulo bias is below 2^-32 for n < 2^32) */
static inline uint64_t ks_rng_below(ks_rng *r, uint64_t n) { return ks_rng_u64(r) % n; }
#endif
