/* state.c - saving and loading the KV cache of one sequence or of the whole context.
 *
 * Layout (little-endian, as the host; a state is loaded on the machine and model that
 * wrote it):
 *   "KSST"  u32 version (1)
 *   u32 n_layer  u32 kv_dim  u32 type_k  u32 type_v  u32 n_vocab
 *   u32 n_cells                      cells saved
 *   n_cells x { i32 pos, u64 seq }   (seq: owners; rewritten to the target sequence on a
 *                                     sequence's load)
 *   for each layer: n_cells K rows, then n_cells V rows (k_row_bytes / v_row_bytes each)
 *   u32 n_logits (0 or 1), then n_vocab floats: the last logits (whole state only)
 * Loading checks every field against the context before it changes anything.
 */
#include <string.h>

#include "model/context_impl.h"

#define STATE_MAGIC "KSST"
#define STATE_VERSION 1u

static uint64_t seq_bits(int32_t seq) { return seq < 0 ? ~(uint64_t)0 : (uint64_t)1 << (seq & 63); }

static int64_t count_cells(const ks_context *c, int32_t seq) {
    int64_t n = 0;
    for (int64_t i = 0; i < c->kv.n_cells; i++) n += (c->kv.cells[i].seq & seq_bits(seq)) != 0;
    return n;
}

static bool has_logits(const ks_context *c, int32_t seq) { return seq < 0 && ks_context_logits(c, -1) != NULL; }

size_t ks_state_size(const ks_context *c, int32_t seq) {
    const size_t n = (size_t)count_cells(c, seq);
    size_t s = 4 + 4 * 7 + n * 12 + (size_t)c->kv.n_layer * n * (c->kv.k_row_bytes + c->kv.v_row_bytes) + 4;
    if (has_logits(c, seq)) s += (size_t)c->m->hp.n_vocab * 4;
    return s;
}

typedef struct wbuf {
    uint8_t *p;
    size_t off;
} wbuf;

static void put(wbuf *w, const void *src, size_t n) {
    memcpy(w->p + w->off, src, n);
    w->off += n;
}
static void put_u32(wbuf *w, uint32_t v) { put(w, &v, 4); }

ks_status ks_state_save(const ks_context *c, int32_t seq, uint8_t *buf, size_t cap, size_t *len, ks_err *err) {
    const size_t need = ks_state_size(c, seq);
    if (len) *len = 0;
    if (cap < need)
        return ks_err_set(err, KS_ERR_LIMIT, "state: %zu bytes needed, buffer holds %zu", need, cap);
    const ks_kv_cache *kv = &c->kv;
    const uint64_t bits = seq_bits(seq);
    wbuf w = {buf, 0};
    put(&w, STATE_MAGIC, 4);
    put_u32(&w, STATE_VERSION);
    const uint32_t hdr[6] = {(uint32_t)kv->n_layer, (uint32_t)kv->kv_dim, kv->type_k, kv->type_v,
                             (uint32_t)c->m->hp.n_vocab, (uint32_t)count_cells(c, seq)};
    put(&w, hdr, sizeof hdr);
    for (int64_t i = 0; i < kv->n_cells; i++) {
        if (!(kv->cells[i].seq & bits)) continue;
        const uint64_t owners = seq < 0 ? kv->cells[i].seq : bits;
        put(&w, &kv->cells[i].pos, 4), put(&w, &owners, 8);
    }
    for (int64_t il = 0; il < kv->n_layer; il++) {
        for (int64_t i = 0; i < kv->n_cells; i++)
            if (kv->cells[i].seq & bits) put(&w, kv_k_row(kv, il, i), kv->k_row_bytes);
        for (int64_t i = 0; i < kv->n_cells; i++)
            if (kv->cells[i].seq & bits) put(&w, kv_v_row(kv, il, i), kv->v_row_bytes);
    }
    const bool lg = has_logits(c, seq);
    put_u32(&w, lg ? 1u : 0u);
    if (lg) put(&w, ks_context_logits(c, -1), (size_t)c->m->hp.n_vocab * 4);
    if (len) *len = w.off;
    return KS_OK;
}

/* validates a state's header and cell table; *n_cells, *cells_at, *rows_at, *tail_at on success */
static ks_status check_state(const ks_context *c, int32_t seq, const uint8_t *buf, size_t len, uint32_t *n_cells,
                             size_t *rows_at, ks_err *err) {
    const ks_kv_cache *kv = &c->kv;
    if (len < 32 || memcmp(buf, STATE_MAGIC, 4))
        return ks_err_set(err, KS_ERR_FORMAT, "state: not a Kestrel state (bad magic or %zu bytes)", len);
    uint32_t h[7];
    memcpy(h, buf + 4, sizeof h);
    if (h[0] != STATE_VERSION) return ks_err_set(err, KS_ERR_UNSUPPORTED, "state: version %u (1 is supported)", h[0]);
    if (h[1] != (uint32_t)kv->n_layer || h[2] != (uint32_t)kv->kv_dim || h[3] != kv->type_k || h[4] != kv->type_v ||
        h[5] != (uint32_t)c->m->hp.n_vocab)
        return ks_err_set(err, KS_ERR_FORMAT,
                          "state: written for another model or cache (layers %u, kv_dim %u, types %u/%u, vocab %u)",
                          h[1], h[2], h[3], h[4], h[5]);
    const uint64_t n = h[6];
    const uint64_t room = seq < 0 ? (uint64_t)kv->n_cells : (uint64_t)(kv->n_cells - kv->n_used);
    if (n > room)
        return ks_err_set(err, KS_ERR_NO_KV_SLOT, "state: %llu cells do not fit in the %llu free", (unsigned long long)n,
                          (unsigned long long)room);
    const uint64_t rows = (uint64_t)kv->n_layer * n * (kv->k_row_bytes + kv->v_row_bytes);
    const uint64_t need = 32 + n * 12 + rows + 4;
    if (len < need) return ks_err_set(err, KS_ERR_TRUNCATED, "state: %zu bytes, the header implies %llu", len,
                                      (unsigned long long)need);
    uint32_t n_logits;
    memcpy(&n_logits, buf + need - 4, 4);
    const uint64_t total = need + (n_logits ? (uint64_t)c->m->hp.n_vocab * 4 : 0);
    if (n_logits > 1 || (n_logits && seq >= 0) || len != total)
        return ks_err_set(err, KS_ERR_FORMAT, "state: %zu bytes, expected %llu (logits %u)", len,
                          (unsigned long long)total, n_logits);
    for (uint64_t i = 0; i < n; i++) {
        int32_t pos;
        uint64_t owners;
        memcpy(&pos, buf + 32 + i * 12, 4), memcpy(&owners, buf + 36 + i * 12, 8);
        if (pos < 0 || !owners) return ks_err_set(err, KS_ERR_FORMAT, "state: cell %llu has position %d, owners %llx",
                                                  (unsigned long long)i, pos, (unsigned long long)owners);
    }
    *n_cells = (uint32_t)n, *rows_at = 32 + (size_t)n * 12;
    return KS_OK;
}

ks_status ks_state_load(ks_context *c, int32_t seq, const uint8_t *buf, size_t len, ks_err *err) {
    uint32_t n = 0;
    size_t at = 0;
    ks_status st = check_state(c, seq, buf, len, &n, &at, err);
    if (st) return st;
    ks_kv_cache *kv = &c->kv;
    if (seq < 0) kv_clear(kv);
    else kv_seq_rm(kv, seq, -1, -1);
    if ((st = kv_find_slots(kv, n, NULL, c->cell_idx, err))) return st; /* cannot fail: room checked */
    const int64_t *cell = c->cell_idx;
    for (uint32_t i = 0; i < n; i++) {
        int32_t pos;
        uint64_t owners;
        memcpy(&pos, buf + 32 + (size_t)i * 12, 4), memcpy(&owners, buf + 36 + (size_t)i * 12, 8);
        kv_claim(kv, cell[i], pos, seq < 0 ? owners : seq_bits(seq));
    }
    for (int64_t il = 0; il < kv->n_layer; il++) {
        for (uint32_t i = 0; i < n; i++, at += kv->k_row_bytes) memcpy(kv_k_row(kv, il, cell[i]), buf + at, kv->k_row_bytes);
        for (uint32_t i = 0; i < n; i++, at += kv->v_row_bytes) memcpy(kv_v_row(kv, il, cell[i]), buf + at, kv->v_row_bytes);
    }
    uint32_t n_logits;
    memcpy(&n_logits, buf + at, 4);
    at += 4;
    c->n_outputs = 0, c->last_output = -1, c->n_out_batch = 0;
    if (n_logits) {
        memcpy(c->logits, buf + at, (size_t)c->m->hp.n_vocab * 4);
        c->out_row[0] = 0, c->last_output = 0, c->n_out_batch = 1, c->n_outputs = 1;
    }
    return KS_OK;
}
