/* attn_bench.c - attention speed against an F16 KV cache: llama.cpp's exact order
 * (ks_attn_kernels: one query head at a time, as forward.c's attention() does) versus
 * ks_attn_flash (the query heads of one kv head together, optionally split over keys).
 * Generation (one token, n_q = group per kv head): GB/s of K+V bytes read, over enough
 * layers that the cache comes from DRAM. Prompt (512 tokens, causal, after n_kv - 512
 * cached rows): GFLOP/s counting 4 hd flops per visible (query, key) pair.
 * OpenMP over kv heads (x splits) as the forward does. usage: attn_bench [seconds per figure]
 * (see now() for KS_BENCH_CPU_TIME; KS_BENCH_SHAPE=hd128 and KS_BENCH_NKV=4096 pick one figure;
 * KS_BENCH_HOT=1 keeps one layer, cache-resident: compute alone). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kernels/kernels.h"
#include "tensor/dtype.h"

typedef struct shape {
    const char *name;
    int64_t hd, n_head, n_kvh;
} shape;

typedef struct bench {
    shape sh;
    int64_t n_kv, n_layer, kv_dim;
    uint16_t *k, *v;   /* n_layer x n_kv x kv_dim */
    float *q, *o;      /* n_tok x n_head x hd */
    float *scores;     /* per thread: n_kv */
    uint8_t *scratch;  /* per thread */
    size_t scratch_bytes;
    float *part, *pm, *pl; /* split partials */
} bench;

/* KS_BENCH_CPU_TIME=1: process CPU time / threads instead of wall time, for a machine shared
 * with other jobs (threads descheduled by them do not count; set OMP_WAIT_POLICY=passive) */
static double now(void) {
    static int cpu = -1;
    if (cpu < 0) cpu = getenv("KS_BENCH_CPU_TIME") && atoi(getenv("KS_BENCH_CPU_TIME"));
    struct timespec ts;
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9) / (cpu ? omp_get_max_threads() : 1);
}

/* one token, exact order: per query head, q.k, softmax, f16 probabilities, p.v (vec order) */
static void gen_exact(bench *b, int64_t il) {
    const shape *s = &b->sh;
    const ks_attn_kernels *ak = ks_attn_kernels_best();
    const uint16_t *kc = b->k + (size_t)il * b->n_kv * b->kv_dim, *vc = b->v + (size_t)il * b->n_kv * b->kv_dim;
    const float scale = 1.0f / sqrtf((float)s->hd);
#pragma omp parallel for schedule(static)
    for (int64_t h = 0; h < s->n_head; h++) {
        float *sc = b->scores + (size_t)omp_get_thread_num() * b->n_kv;
        float qh[256];
        const int64_t kvh = h / (s->n_head / s->n_kvh);
        ks_fp16_round_row(b->q + h * s->hd, qh, s->hd);
        ak->qk_rows(sc, qh, kc + kvh * s->hd, b->kv_dim, b->n_kv, s->hd, true, scale); /* as attention.c's attend_one */
        ks_softmax(sc, b->n_kv);
        ks_fp16_round_row(sc, sc, b->n_kv);
        ak->pv(b->o + h * s->hd, sc, vc + kvh * s->hd, b->kv_dim, b->n_kv, s->hd, true);
    }
}

/* one token, flash: tasks (kv head, split), then the splits merged per query head */
static void gen_flash(bench *b, int64_t il, int64_t n_split) {
    const shape *s = &b->sh;
    const int64_t group = s->n_head / s->n_kvh, hd = s->hd;
    const uint16_t *kc = b->k + (size_t)il * b->n_kv * b->kv_dim, *vc = b->v + (size_t)il * b->n_kv * b->kv_dim;
#pragma omp parallel for schedule(static)
    for (int64_t task = 0; task < s->n_kvh * n_split; task++) {
        const int64_t kvh = task / n_split, sp = task % n_split;
        const float *q[64];
        float *o[64];
        int64_t lo[64], hi[64];
        for (int64_t i = 0; i < group; i++) {
            const int64_t h = kvh * group + i;
            q[i] = b->q + h * hd;
            o[i] = n_split > 1 ? b->part + (sp * s->n_head + h) * hd : b->o + h * hd;
            lo[i] = b->n_kv * sp / n_split, hi[i] = b->n_kv * (sp + 1) / n_split;
        }
        ks_attn_args a = {.n_q = group, .hd = hd, .n_kv = b->n_kv, .q = q, .o = o, .k = kc + kvh * hd,
                          .v = vc + kvh * hd, .kv_row_bytes = (size_t)b->kv_dim * 2, .kv_type = KS_DTYPE_F16,
                          .lo = lo, .hi = hi, .scale = 1.0f / sqrtf((float)hd)};
        if (n_split > 1) a.m_out = b->pm + sp * s->n_head + kvh * group, a.l_out = b->pl + sp * s->n_head + kvh * group;
        ks_attn_flash(&a, b->scratch + (size_t)omp_get_thread_num() * b->scratch_bytes);
    }
    if (n_split == 1) return;
    for (int64_t h = 0; h < s->n_head; h++) {
        const float *parts[64];
        float m[64], l[64];
        for (int64_t sp = 0; sp < n_split; sp++)
            parts[sp] = b->part + (sp * s->n_head + h) * hd, m[sp] = b->pm[sp * s->n_head + h],
            l[sp] = b->pl[sp * s->n_head + h];
        ks_attn_merge(b->o + h * hd, parts, m, l, n_split, hd);
    }
}

/* prompt of n_tok tokens at positions n_kv - n_tok .. n_kv - 1 (causal), layer 0 */
static void prompt_exact(bench *b, int64_t n_tok) {
    const shape *s = &b->sh;
    const ks_attn_kernels *ak = ks_attn_kernels_best();
    const float scale = 1.0f / sqrtf((float)s->hd);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t h = 0; h < s->n_head; h++) {
            float *sc = b->scores + (size_t)omp_get_thread_num() * b->n_kv;
            float qh[256];
            const int64_t kvh = h / (s->n_head / s->n_kvh), n_vis = b->n_kv - n_tok + t + 1;
            ks_fp16_round_row(b->q + (t * s->n_head + h) * s->hd, qh, s->hd);
            const uint16_t *kh = b->k + kvh * s->hd;
            ak->qk_rows(sc, qh, kh, b->kv_dim, n_vis, s->hd, false, scale);
            ks_softmax(sc, n_vis);
            ks_fp16_round_row(sc, sc, n_vis);
            ak->pv(b->o + (t * s->n_head + h) * s->hd, sc, b->v + kvh * s->hd, b->kv_dim, n_vis, s->hd, false);
        }
}

/* flash: tasks (query block of 16 tokens x group heads, kv head) */
static void prompt_flash(bench *b, int64_t n_tok) {
    const shape *s = &b->sh;
    const int64_t group = s->n_head / s->n_kvh, hd = s->hd, tb = 16, n_blk = (n_tok + tb - 1) / tb;
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int64_t blk = 0; blk < n_blk; blk++)
        for (int64_t kvh = 0; kvh < s->n_kvh; kvh++) {
            const int64_t t0 = (n_blk - 1 - blk) * tb, t1 = t0 + tb < n_tok ? t0 + tb : n_tok; /* longest first */
            const float *q[16 * 64];
            float *o[16 * 64];
            int64_t hi[16 * 64], n_q = 0;
            for (int64_t t = t0; t < t1; t++)
                for (int64_t i = 0; i < group; i++, n_q++) {
                    const int64_t h = kvh * group + i;
                    q[n_q] = b->q + (t * s->n_head + h) * hd, o[n_q] = b->o + (t * s->n_head + h) * hd;
                    hi[n_q] = b->n_kv - n_tok + t + 1;
                }
            ks_attn_args a = {.n_q = n_q, .hd = hd, .n_kv = b->n_kv, .q = q, .o = o, .k = b->k + kvh * hd,
                              .v = b->v + kvh * hd, .kv_row_bytes = (size_t)b->kv_dim * 2, .kv_type = KS_DTYPE_F16,
                              .hi = hi, .scale = 1.0f / sqrtf((float)hd)};
            ks_attn_flash(&a, b->scratch + (size_t)omp_get_thread_num() * b->scratch_bytes);
        }
}

/* seconds per call of fn over rotating layers, run for about `budget` seconds */
typedef void (*gen_fn)(bench *b, int64_t il, int64_t arg);
static void gen_exact_w(bench *b, int64_t il, int64_t arg) { gen_exact(b, il); }
static void gen_flash_w(bench *b, int64_t il, int64_t arg) { gen_flash(b, il, arg); }
static double time_gen(bench *b, gen_fn fn, int64_t arg, double budget) {
    fn(b, 0, arg); /* warm-up */
    int64_t n = 0;
    const double t0 = now();
    while (now() - t0 < budget || n < 3) fn(b, n % b->n_layer, arg), n++;
    return (now() - t0) / (double)n;
}

/* the cache on 2 MiB pages as membw reads (a head's rows are kv_dim apart: with 4 KiB pages
 * every few rows is a TLB miss); KS_BENCH_SMALL_PAGES=1 keeps 4 KiB pages */
static uint16_t *alloc_cache(size_t bytes) {
    const size_t len = (bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);
    uint16_t *p = aligned_alloc(2u << 20, len);
#ifdef MADV_HUGEPAGE
    if (p && !(getenv("KS_BENCH_SMALL_PAGES") && atoi(getenv("KS_BENCH_SMALL_PAGES")))) madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

static void run_shape(shape sh, int64_t n_kv, double budget, int n_thr) {
    /* kv_dim is the row stride: KS_BENCH_PAD=N pads each cache row by N halves */
    const int64_t pad = getenv("KS_BENCH_PAD") ? atoll(getenv("KS_BENCH_PAD")) : 0;
    bench b = {.sh = sh, .n_kv = n_kv, .kv_dim = sh.n_kvh * sh.hd + pad};
    const size_t layer = (size_t)n_kv * b.kv_dim * 2 * 2; /* K + V bytes */
    b.n_layer = getenv("KS_BENCH_HOT") && atoi(getenv("KS_BENCH_HOT")) ? 1 : (int64_t)((512u << 20) / layer) + 1;
    const int64_t n_tok = 512 < n_kv ? 512 : n_kv;
    b.k = alloc_cache(layer / 2 * b.n_layer), b.v = alloc_cache(layer / 2 * b.n_layer);
    b.q = malloc((size_t)(n_tok * sh.n_head * sh.hd) * 4), b.o = malloc((size_t)(n_tok * sh.n_head * sh.hd) * 4);
    b.scores = malloc((size_t)n_thr * n_kv * 4);
    b.scratch_bytes = (ks_attn_flash_scratch_bytes(16 * sh.n_head / sh.n_kvh, sh.hd) + 63) / 64 * 64;
    b.scratch = aligned_alloc(64, b.scratch_bytes * n_thr);
    b.part = malloc((size_t)(64 * sh.n_head * sh.hd) * 4), b.pm = malloc(64 * sh.n_head * 4);
    b.pl = malloc(64 * sh.n_head * 4);
    for (size_t i = 0; i < layer / 4 * b.n_layer; i++)
        b.k[i] = ks_fp32_to_fp16((float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f);
    memcpy(b.v, b.k, layer / 2 * b.n_layer);
    for (int64_t i = 0; i < n_tok * sh.n_head * sh.hd; i++) b.q[i] = (float)((i * 40503u) % 2001) / 1000.0f - 1.0f;
    const double gb = (double)n_kv * (double)(sh.n_kvh * sh.hd) * 4.0 / 1e9; /* K + V bytes read */
    const double te = time_gen(&b, gen_exact_w, 0, budget), tf = time_gen(&b, gen_flash_w, 1, budget);
    int64_t n_split = (2 * n_thr + sh.n_kvh - 1) / sh.n_kvh * 2; /* >= 4 tasks per thread */
    n_split = n_split > 64 ? 64 : n_split;
    const double ts = time_gen(&b, gen_flash_w, n_split, budget);
    double flops = 0;
    for (int64_t t = 0; t < n_tok; t++) flops += 4.0 * (double)(sh.hd * sh.n_head) * (double)(n_kv - n_tok + t + 1);
    prompt_exact(&b, n_tok);
    double t0 = now();
    int np = 0;
    do prompt_exact(&b, n_tok), np++; while (now() - t0 < budget);
    const double pe = (now() - t0) / np;
    prompt_flash(&b, n_tok);
    t0 = now(), np = 0;
    do prompt_flash(&b, n_tok), np++; while (now() - t0 < budget);
    const double pf = (now() - t0) / np;
    printf("%-14s n_kv %5lld | gen K+V GB/s: exact %6.2f  flash %6.2f  flash+split%-2lld %6.2f "
           "| prompt %lld tok GFLOP/s: exact %6.2f  flash %6.2f\n",
           sh.name, (long long)n_kv, gb / te, gb / tf, (long long)n_split, gb / ts, (long long)n_tok, flops / pe / 1e9,
           flops / pf / 1e9);
    fflush(stdout);
    free(b.k), free(b.v), free(b.q), free(b.o), free(b.scores), free(b.scratch), free(b.part), free(b.pm), free(b.pl);
}

int main(int argc, char **argv) {
    const double budget = argc > 1 ? atof(argv[1]) : 1.0;
    const int n_thr = omp_get_max_threads();
    const ks_attn_kernels *ak = ks_attn_kernels_best();
    printf("attn_bench: %d threads, exact kernels %s, F16 cache\n", n_thr, ak->name);
    const shape shapes[] = {{"hd128 32/8", 128, 32, 8}, {"hd64 9/3", 64, 9, 3}, {"hd256 8/4", 256, 8, 4}};
    const int64_t n_kvs[] = {512, 2048, 4096};
    const char *only = getenv("KS_BENCH_SHAPE"); /* e.g. "hd128": the shapes whose name starts so */
    const int64_t only_kv = getenv("KS_BENCH_NKV") ? atoll(getenv("KS_BENCH_NKV")) : 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (size_t n = 0; n < sizeof n_kvs / sizeof *n_kvs; n++)
            if ((!only || !strncmp(shapes[s].name, only, strlen(only))) && (!only_kv || only_kv == n_kvs[n]))
                run_shape(shapes[s], n_kvs[n], budget, n_thr);
    return 0;
}
