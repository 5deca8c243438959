/* kv_cache.c - cells owned by sequences (see kv_cache.h). */
#include "model/kv_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/dtype.h"

static size_t row_bytes(uint32_t type, int64_t kv_dim) {
    if (type != KS_DTYPE_F32 && type != KS_DTYPE_F16 && type != KS_DTYPE_Q8_0) return 0;
    const int64_t b = ks_dtype_row_bytes(type, kv_dim);
    return b > 0 ? (size_t)b : 0;
}

double kv_bytes(int64_t n_layer, int64_t kv_dim, int64_t n_cells, uint32_t type_k, uint32_t type_v) {
    const size_t rk = row_bytes(type_k, kv_dim), rv = row_bytes(type_v, kv_dim);
    if (!rk || !rv || n_layer <= 0 || n_cells <= 0) return 0;
    return (double)n_layer * (double)n_cells * (double)(rk + rv) + (double)n_cells * sizeof(ks_kv_cell);
}

ks_status kv_init(ks_kv_cache *c, int64_t n_layer, int64_t kv_dim, int64_t n_cells, uint32_t type_k,
                  uint32_t type_v, ks_err *err) {
    memset(c, 0, sizeof *c);
    const size_t rk = row_bytes(type_k, kv_dim), rv = row_bytes(type_v, kv_dim);
    if (!rk || !rv)
        return ks_err_set(err, KS_ERR_UNSUPPORTED,
                          "KV cache types must be F32, F16 or Q8_0 (Q8_0 needs a multiple of 32 values per row)");
    c->n_cells = n_cells, c->n_layer = n_layer, c->kv_dim = kv_dim;
    c->type_k = type_k, c->type_v = type_v, c->k_row_bytes = rk, c->v_row_bytes = rv;
    c->k = calloc((size_t)n_layer * (size_t)n_cells, rk);
    c->v = calloc((size_t)n_layer * (size_t)n_cells, rv);
    c->cells = malloc((size_t)n_cells * sizeof *c->cells);
    if (!c->k || !c->v || !c->cells) {
        kv_free(c);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory allocating the KV cache (%lld cells)", (long long)n_cells);
    }
    c->n_stream = 1;
    kv_clear(c);
    return KS_OK;
}

void kv_free(ks_kv_cache *c) {
    if (!c) return;
    free(c->k), free(c->v), free(c->cells);
    memset(c, 0, sizeof *c);
}

void kv_clear(ks_kv_cache *c) {
    for (int64_t i = 0; i < c->n_cells; i++) c->cells[i] = (ks_kv_cell){.pos = -1, .seq = 0};
    c->n_used = 0, c->head = 0;
}

static bool cell_free(const ks_kv_cache *c, int64_t i) { return c->cells[i].seq == 0; }

void kv_set_streams(ks_kv_cache *c, int64_t n_stream) {
    c->n_stream = n_stream < 1 ? 1 : n_stream > KS_MAX_SEQ ? KS_MAX_SEQ : n_stream;
    if (c->n_stream > c->n_cells) c->n_stream = c->n_cells > 0 ? c->n_cells : 1;
}

/* the stream of a sequence and its cells [*s0, *s1) */
static int64_t stream_of(const ks_kv_cache *c, int32_t seq, int64_t *s0, int64_t *s1) {
    const int64_t s = c->n_stream > 1 && seq >= 0 ? seq % c->n_stream : 0, per = c->n_cells / c->n_stream;
    *s0 = s * per, *s1 = s == c->n_stream - 1 ? c->n_cells : *s0 + per;
    return s;
}

ks_status kv_check_room(const ks_kv_cache *c, int64_t n, const int32_t *seq, ks_err *err) {
    if (n > c->n_cells - c->n_used)
        return ks_err_set(err, KS_ERR_NO_KV_SLOT, "context full: %lld tokens need KV cells but %lld of %lld are free",
                          (long long)n, (long long)(c->n_cells - c->n_used), (long long)c->n_cells);
    if (c->n_stream <= 1 || !seq) return KS_OK;
    int64_t need[KS_MAX_SEQ] = {0}, s0, s1;
    for (int64_t k = 0; k < n; k++) need[stream_of(c, seq[k], &s0, &s1)]++;
    for (int64_t s = 0; s < c->n_stream; s++) {
        if (!need[s]) continue;
        stream_of(c, (int32_t)s, &s0, &s1);
        int64_t n_free = 0;
        for (int64_t i = s0; i < s1; i++) n_free += cell_free(c, i);
        if (need[s] > n_free)
            return ks_err_set(err, KS_ERR_NO_KV_SLOT, "context full: sequence %lld's share of the KV cache (%lld cells, "
                              "n_ctx / %lld sequences) has %lld free for %lld tokens", (long long)s, (long long)(s1 - s0),
                              (long long)c->n_stream, (long long)n_free, (long long)need[s]);
    }
    return KS_OK;
}

ks_status kv_find_slots(const ks_kv_cache *c, int64_t n, const int32_t *seq, int64_t *cells_out, ks_err *err) {
    ks_status st = kv_check_room(c, n, seq, err);
    if (st) return st;
    if (c->n_stream > 1 && seq) { /* each stream's tokens take its first free cells, in batch order */
        int64_t cursor[KS_MAX_SEQ];
        for (int64_t s = 0; s < c->n_stream; s++) cursor[s] = -1;
        for (int64_t k = 0; k < n; k++) {
            int64_t s0, s1;
            const int64_t s = stream_of(c, seq[k], &s0, &s1);
            int64_t i = cursor[s] < 0 ? s0 : cursor[s] + 1;
            while (!cell_free(c, i)) i++; /* room checked: a free cell lies ahead within [s0, s1) */
            cells_out[k] = cursor[s] = i;
        }
        return KS_OK;
    }
    /* a contiguous run from head keeps one sequence's cells in order (the common case) */
    int64_t start = -1;
    for (int pass = 0; pass < 2 && start < 0; pass++) {
        for (int64_t s = pass ? 0 : c->head; s + n <= c->n_cells && start < 0; s++) {
            int64_t k = 0;
            while (k < n && cell_free(c, s + k)) k++;
            if (k == n) start = s;
            else s += k;
        }
    }
    if (start >= 0) {
        for (int64_t k = 0; k < n; k++) cells_out[k] = start + k;
        return KS_OK;
    }
    int64_t got = 0;
    for (int64_t i = 0; i < c->n_cells && got < n; i++)
        if (cell_free(c, i)) cells_out[got++] = i;
    return KS_OK;
}

void kv_claim(ks_kv_cache *c, int64_t i, int32_t pos, uint64_t seq) {
    if (cell_free(c, i)) c->n_used++;
    c->cells[i].pos = pos, c->cells[i].seq = seq;
    if (i >= c->head) c->head = i + 1;
    if (c->head >= c->n_cells) c->head = 0;
}

static void release(ks_kv_cache *c, int64_t i) {
    c->cells[i] = (ks_kv_cell){.pos = -1, .seq = 0};
    c->n_used--;
    if (i < c->head) c->head = i;
}

static bool in_range(int32_t pos, int32_t p0, int32_t p1) { return pos >= (p0 < 0 ? 0 : p0) && (p1 < 0 || pos < p1); }

static uint64_t seq_bits(int32_t seq) { return seq < 0 ? ~(uint64_t)0 : (uint64_t)1 << (seq & 63); }

void kv_seq_rm(ks_kv_cache *c, int32_t seq, int32_t p0, int32_t p1) {
    const uint64_t bits = seq_bits(seq);
    for (int64_t i = 0; i < c->n_cells; i++) {
        ks_kv_cell *cl = &c->cells[i];
        if (!(cl->seq & bits) || !in_range(cl->pos, p0, p1)) continue;
        cl->seq &= ~bits;
        if (!cl->seq) release(c, i);
    }
}

void kv_seq_cp(ks_kv_cache *c, int32_t src, int32_t dst, int32_t p0, int32_t p1) {
    if (src == dst || src < 0 || dst < 0) return;
    for (int64_t i = 0; i < c->n_cells; i++)
        if ((c->cells[i].seq & seq_bits(src)) && in_range(c->cells[i].pos, p0, p1)) c->cells[i].seq |= seq_bits(dst);
}

void kv_seq_keep(ks_kv_cache *c, int32_t seq) {
    for (int64_t i = 0; i < c->n_cells; i++) {
        if (cell_free(c, i)) continue;
        if (c->cells[i].seq & seq_bits(seq)) c->cells[i].seq = seq_bits(seq);
        else release(c, i);
    }
}

/* moves the positions of seq's cells in [p0, p1) to f(pos) */
static void seq_move(ks_kv_cache *c, int32_t seq, int32_t p0, int32_t p1, int32_t delta, int32_t d,
                     int32_t *shift_out) {
    const uint64_t bits = seq_bits(seq);
    for (int64_t i = 0; i < c->n_cells; i++) {
        ks_kv_cell *cl = &c->cells[i];
        if (!(cl->seq & bits) || !in_range(cl->pos, p0, p1)) continue;
        const int64_t np = d > 1 ? cl->pos / d : (int64_t)cl->pos + delta;
        if (shift_out) shift_out[i] += (int32_t)(np - cl->pos);
        if (np < 0 || np > INT32_MAX) release(c, i);
        else cl->pos = (int32_t)np;
    }
}

void kv_seq_add(ks_kv_cache *c, int32_t seq, int32_t p0, int32_t p1, int32_t delta, int32_t *shift_out) {
    if (delta) seq_move(c, seq, p0, p1, delta, 1, shift_out);
}

void kv_seq_div(ks_kv_cache *c, int32_t seq, int32_t p0, int32_t p1, int32_t d, int32_t *shift_out) {
    if (d > 1) seq_move(c, seq, p0, p1, 0, d, shift_out);
}

int32_t kv_seq_pos_max(const ks_kv_cache *c, int32_t seq) {
    int32_t m = -1;
    for (int64_t i = 0; i < c->n_cells; i++)
        if ((c->cells[i].seq & seq_bits(seq)) && c->cells[i].pos > m) m = c->cells[i].pos;
    return m;
}

int32_t kv_seq_pos_min(const ks_kv_cache *c, int32_t seq) {
    int32_t m = -1;
    for (int64_t i = 0; i < c->n_cells; i++)
        if ((c->cells[i].seq & seq_bits(seq)) && (m < 0 || c->cells[i].pos < m)) m = c->cells[i].pos;
    return m;
}

int64_t kv_n_span(const ks_kv_cache *c) {
    for (int64_t i = c->n_cells; i > 0; i--)
        if (!cell_free(c, i - 1)) return i;
    return 0;
}

static bool visible(const ks_kv_cell *cl, uint64_t bits, int32_t pos, int32_t window) {
    return (cl->seq & bits) && cl->pos <= pos && (window <= 0 || pos - cl->pos < window);
}

ks_kv_view kv_view(const ks_kv_cache *c, int64_t n_span, int32_t seq, int32_t pos, int32_t window) {
    const uint64_t bits = seq_bits(seq);
    ks_kv_view v = {.lo = 0, .hi = 0, .contiguous = true};
    int64_t n_vis = 0;
    for (int64_t i = 0; i < n_span; i++) {
        if (!visible(&c->cells[i], bits, pos, window)) continue;
        if (!n_vis) v.lo = i;
        v.hi = i + 1, n_vis++;
    }
    v.contiguous = n_vis == v.hi - v.lo;
    return v;
}

void kv_mask_row(const ks_kv_cache *c, const ks_kv_view *v, int32_t seq, int32_t pos, int32_t window, float *mask) {
    const uint64_t bits = seq_bits(seq);
    for (int64_t i = v->lo; i < v->hi; i++) mask[i - v->lo] = visible(&c->cells[i], bits, pos, window) ? 0.0f : -INFINITY;
}
