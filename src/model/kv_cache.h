/* kv_cache.h - the KV cache: cells owned by sequences, as llama.cpp's unified cache.
 *
 * A cell holds one position's keys and values for every layer. It records the position
 * and the set of sequences that own it (a bitset: a forked prompt is shared, not copied).
 * Storage per layer: K [n_cells][k_row_bytes], V [n_cells][v_row_bytes], each row one
 * cell's kv_dim values of type_k / type_v (F32, F16 or Q8_0).
 *
 * What a token sees: the cells of its (first) sequence whose position is <= its own
 * (and within the sliding window, if any). kv_view() describes that as a range of cells
 * [lo, hi) plus whether every cell in it is visible; a caller that gets contiguous=false
 * builds a mask with kv_mask_row().
 *
 * Invariants: cells[i].seq == 0 <=> cells[i].pos < 0 <=> the cell is free; n_used counts
 * the others. Nothing here allocates after kv_init.
 */
#ifndef KS_KV_CACHE_H
#define KS_KV_CACHE_H
#include <stdint.h>

#include "kestrel.h"

/* KS_MAX_SEQ (kestrel.h): sequence ids 0..63, one bit each in a cell */

typedef struct ks_kv_cell {
    int32_t pos;  /* -1: free */
    uint64_t seq; /* owners, bit s = sequence s */
} ks_kv_cell;

typedef struct ks_kv_cache {
    int64_t n_cells, n_layer, kv_dim;
    uint32_t type_k, type_v;
    size_t k_row_bytes, v_row_bytes; /* one cell's row */
    uint8_t *k, *v;                  /* owned [n_layer][n_cells][row_bytes] */
    ks_kv_cell *cells;               /* owned [n_cells] */
    int64_t n_used;
    int64_t head;     /* where the next slot search starts */
    int64_t n_stream; /* 1: one pool for all sequences (unified); n > 1: cells split into n equal ranges,
                         sequence s placing its new cells in range s % n, as llama.cpp's per-sequence
                         streams (kv_unified = false): each sequence's cells stay contiguous, so a batch
                         of many sequences attends without masks */
} ks_kv_cache;

/* What token t of a batch attends to (see the header comment). */
typedef struct ks_kv_view {
    int64_t lo, hi;  /* cells [lo, hi); lo == hi: nothing visible */
    bool contiguous; /* every cell in [lo, hi) is visible */
} ks_kv_view;

/* Bytes kv_init would allocate, or 0 if a size overflows or a type is not F32/F16/Q8_0
 * (Q8_0 needs kv_dim a multiple of 32). */
double kv_bytes(int64_t n_layer, int64_t kv_dim, int64_t n_cells, uint32_t type_k, uint32_t type_v);
/* Allocates the cache, all cells free. KS_ERR_UNSUPPORTED for a bad type, KS_ERR_NOMEM. */
ks_status kv_init(ks_kv_cache *c, int64_t n_layer, int64_t kv_dim, int64_t n_cells, uint32_t type_k,
                  uint32_t type_v, ks_err *err);
void kv_free(ks_kv_cache *c);
void kv_clear(ks_kv_cache *c);

/* Splits an empty cache into n_stream ranges (1: unified; at most KS_MAX_SEQ). */
void kv_set_streams(ks_kv_cache *c, int64_t n_stream);
/* KS_OK when n new tokens of sequences seq[0..n) fit (seq NULL: any cells), else
 * KS_ERR_NO_KV_SLOT naming what is full. Changes nothing. */
ks_status kv_check_room(const ks_kv_cache *c, int64_t n, const int32_t *seq, ks_err *err);
/* Finds n free cells for a batch, writing their indices to cells_out: token k in the range
 * of sequence seq[k] (streams), else contiguous from head when possible. Changes nothing.
 * KS_ERR_NO_KV_SLOT as kv_check_room. */
ks_status kv_find_slots(const ks_kv_cache *c, int64_t n, const int32_t *seq, int64_t *cells_out, ks_err *err);
/* Claims cell i for position pos owned by the sequences in seq (nonzero). */
void kv_claim(ks_kv_cache *c, int64_t i, int32_t pos, uint64_t seq);

/* Sequence operations (seq < 0: every sequence; p0 < 0: from 0; p1 < 0: to the end).
 * rm: sequence seq gives up its cells with positions in [p0, p1) (freed when no owner
 * is left); cp: dst shares src's cells in [p0, p1) (no data is copied); keep: every cell
 * not owned by seq is freed and the rest belong to seq only; add: positions in [p0, p1)
 * of seq's cells move by delta (cells that end below 0 are freed) and *shift_out[i]
 * (n_cells entries, may be NULL) accumulates the delta applied to cell i (the caller
 * re-rotates keys); div: positions in [p0, p1) become pos / d. */
void kv_seq_rm(ks_kv_cache *c, int32_t seq, int32_t p0, int32_t p1);
void kv_seq_cp(ks_kv_cache *c, int32_t src, int32_t dst, int32_t p0, int32_t p1);
void kv_seq_keep(ks_kv_cache *c, int32_t seq);
void kv_seq_add(ks_kv_cache *c, int32_t seq, int32_t p0, int32_t p1, int32_t delta, int32_t *shift_out);
void kv_seq_div(ks_kv_cache *c, int32_t seq, int32_t p0, int32_t p1, int32_t d, int32_t *shift_out);
/* Largest / smallest position of seq, -1 if it has no cells. */
int32_t kv_seq_pos_max(const ks_kv_cache *c, int32_t seq);
int32_t kv_seq_pos_min(const ks_kv_cache *c, int32_t seq);
/* One past the last used cell (the span attention must look at). */
int64_t kv_n_span(const ks_kv_cache *c);

/* The view of a token of sequence seq at position pos over cells [0, n_span);
 * window > 0 limits it to positions > pos - window. */
ks_kv_view kv_view(const ks_kv_cache *c, int64_t n_span, int32_t seq, int32_t pos, int32_t window);
/* mask[j - v->lo] = 0 for visible cells of [lo, hi), -INFINITY for the others */
void kv_mask_row(const ks_kv_cache *c, const ks_kv_view *v, int32_t seq, int32_t pos, int32_t window, float *mask);

/* Row pointers: cell i of layer il. */
static inline uint8_t *kv_k_row(const ks_kv_cache *c, int64_t il, int64_t i) {
    return c->k + ((size_t)il * (size_t)c->n_cells + (size_t)i) * c->k_row_bytes;
}
static inline uint8_t *kv_v_row(const ks_kv_cache *c, int64_t il, int64_t i) {
    return c->v + ((size_t)il * (size_t)c->n_cells + (size_t)i) * c->v_row_bytes;
}
#endif
