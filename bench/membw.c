/* membw.c - DRAM read bandwidth with several concurrent sequential streams per
 * thread: the ceiling for memory-bound generation (weights read once per token).
 * usage: membw [MiB (default 1024)] ; prints GB/s for 1..2 threads x 1..16 streams. */
#define _GNU_SOURCE
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
/* independent accumulators (no add chain limits the loads); 512-bit loads where the CPU has them */
__attribute__((target("avx2"))) static uint64_t read_streams_avx2(const uint8_t *base, size_t len, int n_streams) {
    const size_t per = len / (size_t)n_streams / 64 * 64;
    __m256i acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_si256();
    for (size_t off = 0; off < per; off += 64)
        for (int s = 0; s < n_streams; s++) {
            const uint8_t *p = base + (size_t)s * per + off;
            acc[s & 7] = _mm256_add_epi64(acc[s & 7], _mm256_load_si256((const __m256i *)p));
            acc[s & 7] = _mm256_add_epi64(acc[s & 7], _mm256_load_si256((const __m256i *)(p + 32)));
        }
    for (int i = 1; i < 8; i++) acc[0] = _mm256_add_epi64(acc[0], acc[i]);
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, acc[0]);
    return out[0] + out[1] + out[2] + out[3];
}
__attribute__((target("avx512f"))) static uint64_t read_streams_avx512(const uint8_t *base, size_t len, int n_streams) {
    const size_t per = len / (size_t)n_streams / 64 * 64;
    __m512i acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_si512();
    for (size_t off = 0; off < per; off += 64)
        for (int s = 0; s < n_streams; s++)
            acc[s & 7] = _mm512_add_epi64(acc[s & 7], _mm512_load_si512(base + (size_t)s * per + off));
    for (int i = 1; i < 8; i++) acc[0] = _mm512_add_epi64(acc[0], acc[i]);
    return (uint64_t)_mm512_reduce_add_epi64(acc[0]);
}
static uint64_t read_streams(const uint8_t *base, size_t len, int n_streams) {
    return __builtin_cpu_supports("avx512f") ? read_streams_avx512(base, len, n_streams)
                                             : read_streams_avx2(base, len, n_streams);
}
#else
static uint64_t read_streams(const uint8_t *base, size_t len, int n_streams) {
    const size_t per = len / (size_t)n_streams / 64 * 64;
    uint64_t acc = 0;
    for (size_t off = 0; off < per; off += 64)
        for (int s = 0; s < n_streams; s++) acc += *(const uint64_t *)(base + (size_t)s * per + off);
    return acc;
}
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const size_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 1024;
    const size_t len = mib << 20;
    /* 2 MiB aligned, transparent huge pages (as Kestrel places its repacked weights) */
    uint8_t *buf = aligned_alloc((size_t)2 << 20, (len + ((size_t)2 << 20) - 1) / ((size_t)2 << 20) * ((size_t)2 << 20));
    if (!buf) {
        fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
#ifdef MADV_HUGEPAGE
    madvise(buf, len, MADV_HUGEPAGE);
#endif
    memset(buf, 1, len);
    volatile uint64_t sink = 0;
    double best_all = 0;
    printf("| threads | streams per thread | GB/s (best of 5) |\n|---|---|---|\n");
    const int max_threads = omp_get_max_threads();
    for (int t = 1; t <= max_threads; t++)
        for (int s = 1; s <= 16; s *= 2) {
            double best = 0;
            for (int rep = 0; rep < 5; rep++) {
                double t0 = now();
#pragma omp parallel num_threads(t) reduction(+ : sink)
                {
                    const size_t part = len / (size_t)t / 64 * 64;
                    sink += read_streams(buf + (size_t)omp_get_thread_num() * part, part, s);
                }
                double gbs = (double)(len / (size_t)t / 64 * 64 * (size_t)t) / (now() - t0) / 1e9;
                if (gbs > best) best = gbs;
            }
            if (best > best_all) best_all = best;
            printf("| %d | %d | %.2f |\n", t, s, best);
        }
    printf("\nbest: %.2f GB/s\n", best_all);
    free(buf);
    return (int)(sink & 0);
}
