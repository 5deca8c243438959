/* context.c - the inference context: creation from the hyperparameters (everything
 * allocated here, nothing per token), the decode driver that splits a batch into
 * micro-batches and places its tokens in KV cells, logits, and sequence operations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/context_impl.h"
#include "tensor/dtype.h"

ks_context_params ks_context_default_params(void) {
    ks_context_params p = {.n_ctx = 0, .n_batch = 0, .n_threads = 0, .kv_type = -1, .kv_type_v = -1,
                           .logits_all = false, .n_seq_max = 1, .flash_attn = KS_FLASH_ATTN_OFF, .kv_unified = true};
    return p;
}

int64_t ks_context_n_ctx(const ks_context *c) { return c->n_ctx; }
int ks_context_n_threads(const ks_context *c) { return c->n_threads_gen; }
int64_t ks_context_n_batch(const ks_context *c) { return c->n_batch; }
const ks_model *ks_context_model(const ks_context *c) { return c->m; }

void ks_context_free(ks_context *c) {
    if (!c) return;
    kv_free(&c->kv);
    free(c->embd);
    ks_batch_free(&c->b0);
    free(c->ub_cell), free(c->ub_pos), free(c->ub_seq), free(c->ub_view_full), free(c->ub_view_swa), free(c->xa), free(c->rope_cos_swa), free(c->rope_sin_swa), free(c->cells_all), free(c->ub_blk), free(c->shift), free(c->cell_idx);
    free(c->x), free(c->xb), free(c->xb2), free(c->q), free(c->k), free(c->v), free(c->att), free(c->hb);
    free(c->hb2), free(c->scores), free(c->mask), free(c->qh), free(c->kvf), free(c->kvrow), free(c->rope_cos);
    for (int i = 0; c->flash && i < c->n_threads_max; i++)
        free(c->flash[i].q), free(c->flash[i].o), free(c->flash[i].lo), free(c->flash[i].hi), free(c->flash[i].scratch);
    free(c->flash), free(c->split_o), free(c->split_ml);
    free(c->rope_sin), free(c->inv_freq), free(c->logits), free(c->out_row), free(c->mm_scratch);
    free(c);
}

/* Largest activation-conversion scratch any matmul of the model needs for n_tok rows. */
static size_t max_scratch(const ks_model *m, int64_t n_tok) {
    size_t s = ks_matmul_scratch_bytes(m->output.type, m->output.ne[0], n_tok);
    for (int64_t il = 0; il < m->hp.n_layer; il++) {
        const ks_layer *l = &m->layers[il];
        const ks_tensor *lt[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        for (size_t i = 0; i < sizeof lt / sizeof lt[0]; i++) {
            if (!lt[i]->data) continue;
            size_t b = ks_matmul_scratch_bytes(lt[i]->type, lt[i]->ne[0], n_tok);
            if (b > s) s = b;
        }
    }
    return s;
}

/* checks the sizes a context needs against the machine before allocating */
static ks_status check_fit(const ks_model *m, int64_t n_ctx, int64_t n_batch, int64_t n_logits, uint32_t tk,
                           uint32_t tv, ks_err *err) {
    const ks_hparams *hp = &m->hp;
    const int64_t E = hp->n_embd, kv_dim = hp->n_head_kv * hp->head_dim, q_dim = hp->n_head * hp->head_dim;
    const double kvb = kv_bytes(hp->n_layer, kv_dim, n_ctx, tk, tv);
    if (kvb <= 0)
        return ks_err_set(err, KS_ERR_UNSUPPORTED,
                          "KV cache types must be F32, F16 or Q8_0 (Q8_0 needs rows of a multiple of 32 values)");
    double scratch = (double)n_batch * (double)(4 * E + 2 * q_dim + 2 * kv_dim + 2 * hp->n_ff) * 4.0 +
                     (double)n_logits * (double)hp->n_vocab * 4.0 + 2.0 * (double)(n_ctx + 32) * (double)kv_dim * 4.0;
    const double avail = (double)ks_mem_available();
    if (kvb + scratch > 64.0 * (1ull << 30) || (avail > 0 && kvb + scratch > avail))
        return ks_err_set(err, KS_ERR_LIMIT,
                          "context %lld needs %.2f GiB for the KV cache and buffers, more than the %.2f GiB of memory "
                          "available; use a smaller -c",
                          (long long)n_ctx, (kvb + scratch) / (1ull << 30), avail / (1ull << 30));
    return KS_OK;
}

static bool alloc_scratch(ks_context *c) {
    const ks_hparams *hp = &c->m->hp;
    const size_t B = (size_t)c->n_batch, E = (size_t)hp->n_embd, hd = (size_t)hp->head_dim;
    const size_t kv_dim = (size_t)(hp->n_head_kv * hp->head_dim), q_dim = (size_t)(hp->n_head * hp->head_dim);
    const size_t T = (size_t)c->n_threads_max, N = (size_t)c->n_ctx, half = (size_t)hp->n_rot / 2 + 1;
    c->ub_cell = malloc(B * sizeof *c->ub_cell), c->ub_pos = malloc(B * sizeof *c->ub_pos);
    c->ub_seq = malloc(B * sizeof *c->ub_seq), c->ub_view_full = malloc(B * sizeof *c->ub_view_full);
    c->cells_all = malloc(B * sizeof *c->cells_all), c->shift = calloc(N, sizeof *c->shift);
    c->ub_blk = malloc((B + 1) * sizeof *c->ub_blk);
    c->cell_idx = malloc(N * sizeof *c->cell_idx);
    c->x = malloc(B * E * 4), c->xb = malloc(B * E * 4), c->xb2 = malloc(B * E * 4);
    c->q = malloc(B * q_dim * 4), c->k = malloc(B * kv_dim * 4), c->v = malloc(B * kv_dim * 4);
    c->att = malloc(B * q_dim * 4);
    c->hb = malloc(B * (size_t)hp->n_ff * 4), c->hb2 = malloc(B * (size_t)hp->n_ff * 4);
    c->scores = malloc(T * 3 * N * 4); /* 3: heads that share a batched q.k pass */
    c->mask = malloc(T * N * 4);
    c->qh = malloc(T * 3 * hd * 4);
    c->kvrow = malloc(T * (2 * kv_dim + 2 * half) * 4);
    c->rope_cos = malloc(B * half * 4), c->rope_sin = malloc(B * half * 4);
    const ks_block_traits *tr = &c->m->arch->traits;
    bool ok = true; /* the parts only some families use */
    if (hp->n_swa > 0) ok = ok && (c->ub_view_swa = malloc(B * sizeof *c->ub_view_swa));
    if (tr->parallel_block) ok = ok && (c->xa = malloc(B * E * 4));
    if (tr->rope_base_per_layer && hp->n_swa > 0)
        ok = ok && (c->rope_cos_swa = malloc(B * half * 4)) && (c->rope_sin_swa = malloc(B * half * 4));
    if (!ok) return false;
    c->inv_freq = malloc(half * 4);
    c->logits = malloc((size_t)c->n_logits_cap * (size_t)hp->n_vocab * 4);
    c->out_row_cap = c->n_batch, c->out_row = malloc(B * sizeof *c->out_row);
    c->mm_scratch = malloc(max_scratch(c->m, c->n_batch) + 64);
    if (c->kv.type_k == KS_DTYPE_F16 && c->kv.type_v == KS_DTYPE_F16 && c->attn->qk_cols3 && c->n_batch > 1)
        c->kvf = malloc(2 * (N + 32) * kv_dim * 4); /* optional: without it attention takes the per-query path */
    if (ks_batch_init(&c->b0, c->n_batch, NULL)) return false;
    if (!(c->flash = calloc(T, sizeof *c->flash))) return false;
    c->split_o = malloc((size_t)KS_FLASH_SPLIT_MAX * 16 * q_dim * 4);
    c->split_ml = malloc((size_t)KS_FLASH_SPLIT_MAX * 2 * 16 * (size_t)hp->n_head * 4);
    if (!c->split_o || !c->split_ml) return false;
    const size_t nq = 16 * (size_t)(hp->n_head / hp->n_head_kv);
    const size_t fsb = (ks_attn_flash_scratch_bytes((int64_t)nq, hp->head_dim) + 63) & ~(size_t)63;
    for (size_t i = 0; i < T; i++) {
        ks_flash_scratch *f = &c->flash[i];
        f->q = malloc(nq * sizeof *f->q), f->o = malloc(nq * sizeof *f->o);
        f->lo = malloc(nq * sizeof *f->lo), f->hi = malloc(nq * sizeof *f->hi), f->scratch = aligned_alloc(64, fsb);
        if (!f->q || !f->o || !f->lo || !f->hi || !f->scratch) return false;
    }
    return c->ub_cell && c->ub_pos && c->ub_seq && c->ub_view_full && c->cells_all && c->ub_blk && c->shift && c->cell_idx && c->x && c->xb &&
           c->xb2 && c->q && c->k && c->v && c->att && c->hb && c->hb2 && c->scores && c->mask && c->qh && c->kvrow &&
           c->rope_cos && c->rope_sin && c->inv_freq && c->logits && c->out_row && c->mm_scratch;
}

ks_status ks_context_new(const ks_model *m, const ks_context_params *p, ks_context **out, ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "context: out is NULL");
    *out = NULL;
    const ks_context_params defaults = ks_context_default_params();
    if (!p) p = &defaults;
    if (!ks_model_has_weights(m)) return ks_err_set(err, KS_ERR_INVALID_ARG, "model has no weights (vocabulary-only file)");
    const ks_hparams *hp = &m->hp;
    int64_t n_ctx = p->n_ctx > 0 ? p->n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (n_ctx > hp->n_ctx_train)
        return ks_err_set(err, KS_ERR_LIMIT, "context %lld exceeds the model's trained context %lld", (long long)n_ctx,
                          (long long)hp->n_ctx_train);
    /* OpenMP cannot start (and the stack cannot hold) thousands of threads: a clear error, as ggml's cap */
    if (p->n_threads > KS_MAX_THREADS || p->n_threads_batch > KS_MAX_THREADS)
        return ks_err_set(err, KS_ERR_LIMIT, "%d threads exceed the limit of %d",
                          p->n_threads > p->n_threads_batch ? p->n_threads : p->n_threads_batch, KS_MAX_THREADS);
    if (p->n_seq_max > KS_MAX_SEQ)
        return ks_err_set(err, KS_ERR_LIMIT, "%d sequences exceed the limit of %d", p->n_seq_max, KS_MAX_SEQ);
    int64_t n_batch = p->n_batch > 0 ? p->n_batch : 512;
    if (n_batch > n_ctx) n_batch = n_ctx;
    const uint32_t tk = p->kv_type >= 0 ? (uint32_t)p->kv_type : m->kv_type;
    const uint32_t tv = p->kv_type_v >= 0 ? (uint32_t)p->kv_type_v : tk;
    const int64_t n_logits = p->logits_all ? n_batch : (p->n_seq_max > 1 ? p->n_seq_max : 1);
    ks_status st = check_fit(m, n_ctx, n_batch, n_logits, tk, tv, err);
    if (st) return st;
    ks_context *c = calloc(1, sizeof *c);
    if (!c) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    c->m = m, c->n_ctx = n_ctx, c->n_batch = n_batch, c->n_logits_cap = n_logits;
    c->attn = ks_attn_kernels_best();
    /* the flash kernel takes one cache type and head sizes that are multiples of 16 (Q8_0: 32) up to 256;
     * other shapes keep the per-query path */
    const int64_t hd = hp->head_dim;
    const bool flash_ok = tk == tv && hd % (tk == KS_DTYPE_Q8_0 ? 32 : 16) == 0 && hd <= KS_ATTN_MAX_HD;
    c->flash_attn = flash_ok && (p->flash_attn || tk != KS_DTYPE_F16);
    c->last_output = -1;
#ifdef _OPENMP
    if (p->n_threads > 0) omp_set_num_threads(p->n_threads);
    c->n_threads_gen = omp_get_max_threads();
#else
    c->n_threads_gen = 1;
#endif
    c->n_threads_batch = p->n_threads_batch > 0 && p->n_threads_batch <= KS_MAX_THREADS ? p->n_threads_batch
                                                                                        : c->n_threads_gen;
    c->n_threads_max = c->n_threads_gen > c->n_threads_batch ? c->n_threads_gen : c->n_threads_batch;
    c->n_threads = c->n_threads_gen;
    c->abort_cb = p->abort_callback, c->abort_data = p->abort_data;
    if (p->embeddings && !(c->embd = malloc((size_t)n_logits * (size_t)hp->n_embd * sizeof *c->embd))) {
        ks_context_free(c);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory for the embeddings");
    }
    if ((st = kv_init(&c->kv, hp->n_layer, hp->n_head_kv * hp->head_dim, n_ctx, tk, tv, err))) {
        ks_context_free(c);
        return st;
    }
    if (!p->kv_unified) kv_set_streams(&c->kv, p->n_seq_max);
    if (!alloc_scratch(c)) {
        ks_context_free(c);
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory allocating the context (n_ctx=%lld)", (long long)n_ctx);
    }
    for (int64_t i = 0; i < hp->n_rot / 2; i++)
        c->inv_freq[i] = 1.0f / powf(hp->rope_theta, (float)(2 * i) / (float)hp->n_rot);
    *out = c;
    return KS_OK;
}

/* grows the logits buffer and the batch-index map (only when a batch asks for more than ever before) */
static ks_status reserve_outputs(ks_context *c, int64_t n_tokens, int64_t n_out, ks_err *err) {
    if (n_out > c->n_logits_cap) {
        float *l = realloc(c->logits, (size_t)n_out * (size_t)c->m->hp.n_vocab * 4);
        if (!l) return ks_err_set(err, KS_ERR_NOMEM, "out of memory for %lld rows of logits", (long long)n_out);
        c->logits = l;
        if (c->embd) {
            float *e = realloc(c->embd, (size_t)n_out * (size_t)c->m->hp.n_embd * sizeof *e);
            if (!e) return ks_err_set(err, KS_ERR_NOMEM, "out of memory for %lld embeddings", (long long)n_out);
            c->embd = e;
        }
        c->n_logits_cap = n_out;
    }
    if (n_tokens > c->out_row_cap) {
        int64_t *r = realloc(c->out_row, (size_t)n_tokens * sizeof *r);
        if (!r) return ks_err_set(err, KS_ERR_NOMEM, "out of memory for a batch of %lld tokens", (long long)n_tokens);
        c->out_row = r, c->out_row_cap = n_tokens;
    }
    return KS_OK;
}

static ks_status check_batch(const ks_context *c, const ks_batch *b, int64_t *n_out, ks_err *err) {
    if (b->n_tokens <= 0) return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: no tokens");
    int64_t k = 0;
    for (int64_t i = 0; i < b->n_tokens; i++) {
        if (b->token[i] < 0 || b->token[i] >= c->m->hp.n_vocab)
            return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: token id %d out of range [0, %lld)", b->token[i],
                              (long long)c->m->hp.n_vocab);
        if (b->pos[i] < 0 || !b->seq[i] || b->seq_first[i] < 0 || b->seq_first[i] >= KS_MAX_SEQ ||
            !(b->seq[i] >> b->seq_first[i] & 1))
            return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: token %lld has a bad position or sequence", (long long)i);
        if (c->m->pos_embd.data && b->pos[i] >= c->m->hp.n_ctx_train)
            return ks_err_set(err, KS_ERR_LIMIT, "decode: position %d is past the model's %lld learned positions",
                              b->pos[i], (long long)c->m->hp.n_ctx_train);
        k += b->logits[i] != 0;
    }
    *n_out = k;
    return KS_OK;
}

ks_status ks_decode_batch(ks_context *c, const ks_batch *b, ks_err *err) {
    int64_t n_out = 0;
    ks_status st = check_batch(c, b, &n_out, err);
    if (st || (st = reserve_outputs(c, b->n_tokens, n_out, err))) return st;
    if ((st = kv_check_room(&c->kv, b->n_tokens, b->seq_first, err))) return st; /* before anything is claimed */
    c->n_outputs = 0, c->last_output = -1, c->n_out_batch = b->n_tokens;
    for (int64_t i = 0; i < b->n_tokens; i++) c->out_row[i] = -1;
    c->n_threads = b->n_tokens > 1 ? c->n_threads_batch : c->n_threads_gen; /* this decode's team */
#ifdef _OPENMP
    omp_set_num_threads(c->n_threads);
#endif
    const double t0 = ks_time_s();
    int64_t row = 0;
    for (int64_t done = 0; done < b->n_tokens;) {
        if (c->abort_cb && c->abort_cb(c->abort_data))
            return ks_err_set(err, KS_ERR_ABORTED, "decode aborted after %lld of %lld tokens", (long long)done,
                              (long long)b->n_tokens);
        const int64_t n = b->n_tokens - done < c->n_batch ? b->n_tokens - done : c->n_batch;
        if ((st = kv_find_slots(&c->kv, n, b->seq_first + done, c->cells_all, err))) return st; /* checked above */
        for (int64_t t = 0; t < n; t++) {
            const int64_t i = done + t;
            kv_claim(&c->kv, c->cells_all[t], b->pos[i], b->seq[i]);
            c->ub_cell[t] = c->cells_all[t], c->ub_pos[t] = b->pos[i], c->ub_seq[t] = b->seq_first[i];
            if (b->logits[i]) c->out_row[i] = row++, c->last_output = i;
        }
        c->ub_n = n;
        c->ub_n_span = kv_n_span(&c->kv);
        for (int64_t t = 0; t < n; t++) {
            c->ub_view_full[t] = kv_view(&c->kv, c->ub_n_span, c->ub_seq[t], c->ub_pos[t], 0);
            if (c->ub_view_swa) /* sliding-window layers */
                c->ub_view_swa[t] = kv_view(&c->kv, c->ub_n_span, c->ub_seq[t], c->ub_pos[t], (int32_t)c->m->hp.n_swa);
        }
        c->ub_view = c->ub_view_full, c->ub_window = 0;
        ks_forward_ubatch(c, b->token + done, b->logits + done, &c->n_outputs);
        done += n;
    }
    const double dt = ks_time_s() - t0;
    if (b->n_tokens > 1) c->perf.t_prompt_s += dt, c->perf.n_prompt += b->n_tokens;
    else c->perf.t_gen_s += dt, c->perf.n_gen++;
    c->perf.n_decode++;
    return KS_OK;
}

ks_status ks_decode_range(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, int64_t logits_from,
                          ks_err *err) {
    if (n <= 0) return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: no tokens");
    if (pos0 < 0 || pos0 > c->n_ctx || n > c->n_ctx - pos0)
        return ks_err_set(err, KS_ERR_LIMIT, "context full: %lld tokens at position %lld exceed the context of %lld",
                          (long long)n, (long long)pos0, (long long)c->n_ctx);
    if (logits_from < 0 || logits_from >= n) logits_from = n - 1;
    if (logits_from < n - 1 && n > c->n_batch)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: logits for %lld tokens exceed a batch of %lld",
                          (long long)(n - logits_from), (long long)c->n_batch);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->m->hp.n_vocab)
            return ks_err_set(err, KS_ERR_INVALID_ARG, "decode: token id %d out of range [0, %lld)", tokens[i],
                              (long long)c->m->hp.n_vocab);
    kv_seq_rm(&c->kv, 0, (int32_t)pos0, -1);
    ks_status st = KS_OK;
    for (int64_t done = 0; done < n && !st;) { /* batches of n_batch: only the last has logits */
        const int64_t nb = n - done < c->n_batch ? n - done : c->n_batch;
        ks_batch_clear(&c->b0);
        for (int64_t i = done; i < done + nb; i++)
            ks_batch_add1(&c->b0, tokens[i], (int32_t)(pos0 + i), 0, i >= logits_from, NULL);
        st = ks_decode_batch(c, &c->b0, err);
        done += nb;
    }
    return st;
}

ks_status ks_decode(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, bool all_logits, ks_err *err) {
    return ks_decode_range(c, tokens, n, pos0, all_logits ? 0 : n - 1, err);
}

void ks_perf_get(const ks_context *c, ks_perf_data *out) { *out = c->perf; }
void ks_perf_reset(ks_context *c) { memset(&c->perf, 0, sizeof c->perf); }

const float *ks_context_embeddings(const ks_context *c, int64_t i) {
    if (!c->embd) return NULL;
    if (i < 0) i = c->last_output;
    if (i < 0 || i >= c->n_out_batch || c->out_row[i] < 0) return NULL;
    return c->embd + (size_t)c->out_row[i] * (size_t)c->m->hp.n_embd;
}

const float *ks_context_logits(const ks_context *c, int64_t i) {
    if (i < 0) i = c->last_output;
    if (i < 0 || i >= c->n_out_batch || c->out_row[i] < 0) return NULL;
    return c->logits + (size_t)c->out_row[i] * (size_t)c->m->hp.n_vocab;
}

/* ---- sequences ---- */
void ks_seq_rm(ks_context *c, int32_t seq, int32_t p0, int32_t p1) { kv_seq_rm(&c->kv, seq, p0, p1); }
void ks_seq_cp(ks_context *c, int32_t src, int32_t dst, int32_t p0, int32_t p1) { kv_seq_cp(&c->kv, src, dst, p0, p1); }
void ks_seq_keep(ks_context *c, int32_t seq) { kv_seq_keep(&c->kv, seq); }
int32_t ks_seq_pos_max(const ks_context *c, int32_t seq) { return kv_seq_pos_max(&c->kv, seq); }
int32_t ks_seq_pos_min(const ks_context *c, int32_t seq) { return kv_seq_pos_min(&c->kv, seq); }
int64_t ks_kv_used(const ks_context *c) { return c->kv.n_used; }
void ks_kv_clear(ks_context *c) { kv_clear(&c->kv); }

/* Re-rotates the keys of cells whose position moved (c->shift), as llama.cpp's K-shift:
 * rotating by delta composes with the rotation by the old position. */
static void apply_shift(ks_context *c) {
    const ks_model *m = c->m;
    const ks_hparams *hp = &m->hp;
    if (m->arch->traits.pos != KS_POS_ROPE_NORM && m->arch->traits.pos != KS_POS_ROPE_NEOX) { /* nothing to rotate */
        memset(c->shift, 0, (size_t)c->n_ctx * sizeof *c->shift);
        return;
    }
    const int64_t kv_dim = hp->n_head_kv * hp->head_dim, half = hp->n_rot / 2;
    const ks_dtype_traits *tk = ks_dtype_get(c->kv.type_k);
    const bool neox = m->arch->traits.pos == KS_POS_ROPE_NEOX;
#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t i = 0; i < c->n_ctx; i++) {
        if (!c->shift[i]) continue;
#ifdef _OPENMP
        const int tid = omp_get_thread_num();
#else
        const int tid = 0;
#endif
        float *row = c->kvrow + (size_t)tid * (size_t)(2 * kv_dim + 2 * (half + 1));
        float *cs = row + kv_dim, *sn = cs + half, *cs2 = sn + half, *sn2 = cs2 + half; /* 4 half <= kv_dim + 2 half */
        ks_rope_tables(c, &c->shift[i], 1, hp->rope_theta, cs, sn);
        ks_rope_tables(c, &c->shift[i], 1, hp->rope_theta_swa, cs2, sn2); /* windowed layers' base (Gemma 3) */
        for (int64_t il = 0; il < hp->n_layer; il++) {
            uint8_t *k = kv_k_row(&c->kv, il, i);
            const bool base2 = c->rope_cos_swa && ks_layer_swa(hp, il);
            tk->to_float(k, row, kv_dim);
            for (int64_t h = 0; h < hp->n_head_kv; h++)
                ks_rope(row + h * hp->head_dim, hp->n_rot, base2 ? cs2 : cs, base2 ? sn2 : sn, neox);
            tk->from_float(row, k, kv_dim);
        }
        c->shift[i] = 0;
    }
}

void ks_seq_add(ks_context *c, int32_t seq, int32_t p0, int32_t p1, int32_t delta) {
    kv_seq_add(&c->kv, seq, p0, p1, delta, c->shift);
    apply_shift(c);
}

void ks_seq_div(ks_context *c, int32_t seq, int32_t p0, int32_t p1, int32_t d) {
    kv_seq_div(&c->kv, seq, p0, p1, d, c->shift);
    apply_shift(c);
}
