/* quantize.c - GGUF-to-GGUF type conversion (see quantize.h). Output buffers are
 * owned here until the writer has written them. A tensor's rule follows its
 * quantize category in its family's tensor table (model/arch.h); names the table
 * does not hold (unknown architectures, extra tensors) fall back to llama.cpp's
 * substring tests. */
#include "model/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/checked.h"
#include "base/mapfile.h"
#include "base/outfile.h"
#include "base/progress.h"
#include "formats/gguf.h"
#include "model/arch.h"
#include "tensor/dtype.h"

#ifdef _OPENMP
#include <omp.h>
static int ks_max_threads(void) { return omp_get_max_threads(); }
static int ks_thread_index(void) { return omp_get_thread_num(); }
#else
static int ks_max_threads(void) { return 1; }
static int ks_thread_index(void) { return 0; }
#endif

/* Targets are llama.cpp's file types (llama_ftype), by llama-quantize's names:
 * the default tensor type, refined per tensor as llama.cpp's llama_tensor_get_type
 * does it (without an importance matrix). */
static const struct {
    const char *name;
    uint32_t ftype, type;
} targets[] = {
    {"F32", 0, KS_DTYPE_F32},     {"F16", 1, KS_DTYPE_F16},     {"Q4_0", 2, KS_DTYPE_Q4_0},
    {"Q4_1", 3, KS_DTYPE_Q4_1},   {"Q8_0", 7, KS_DTYPE_Q8_0},   {"Q5_0", 8, KS_DTYPE_Q5_0},
    {"Q4_K_M", 15, KS_DTYPE_Q4_K}, {"Q4_K", 15, KS_DTYPE_Q4_K}, {"Q6_K", 18, KS_DTYPE_Q6_K},
    {"BF16", 32, KS_DTYPE_BF16},
};
#define FTYPE_Q4_K_M 15
#define N_TARGETS (sizeof targets / sizeof targets[0])

int ks_quantize_type_from_name(const char *name) {
    for (size_t i = 0; i < N_TARGETS; i++)
        if (!strcasecmp(name, targets[i].name)) return (int)targets[i].ftype;
    return -1;
}

const char *ks_quantize_type_names(void) { return "Q8_0, Q6_K, Q5_0, Q4_K_M (= Q4_K), Q4_1, Q4_0, F16, BF16, F32"; }

static int target_index(int ftype) {
    for (size_t i = 0; i < N_TARGETS; i++)
        if ((int)targets[i].ftype == ftype) return (int)i;
    return -1;
}

/* per-file state of the type choice (llama.cpp's quantize_state_impl) */
typedef struct choice {
    const gguf_ctx *g;
    const ks_arch *fam;   /* the file's family (model/arch.h), or NULL if Kestrel does not know it */
    uint32_t ftype, base; /* file type and its default tensor type */
    bool tied;            /* no output.weight: token_embd is the output too */
    int n_attn_v, n_layer;
} choice;

static bool str_has(gguf_str s, const char *sub) {
    const size_t n = strlen(sub);
    for (size_t i = 0; i + n <= s.len; i++)
        if (!memcmp(s.ptr + i, sub, n)) return true;
    return false;
}

static bool ends_with(gguf_str s, const char *suf) {
    const size_t n = strlen(suf);
    return s.len >= n && !memcmp(s.ptr + s.len - n, suf, n);
}

/* llama.cpp's name tests, for tensors the family's table does not name */
static ks_qcat qcat_by_substring(gguf_str n) {
    if (gguf_str_eq(n, "output.weight")) return KS_QCAT_OUTPUT;
    if (gguf_str_eq(n, "token_embd.weight")) return KS_QCAT_TOKEN_EMBD;
    if (str_has(n, "attn_v.weight") || str_has(n, "attn_kv_b.weight")) return KS_QCAT_ATTN_V;
    if (str_has(n, "attn_qkv.weight")) return KS_QCAT_ATTN_QKV;
    if (!str_has(n, "attn_k.weight") && !str_has(n, "attn_q.weight") && !str_has(n, "attn_output.weight") &&
        !str_has(n, "ffn_up") && !str_has(n, "ffn_gate") && str_has(n, "ffn_down"))
        return KS_QCAT_FFN_DOWN;
    return KS_QCAT_OTHER;
}

/* The quantize category of tensor name n: its row in the family's table, else by substring.
 * *keep (if not NULL): the tensor keeps the default type without a rule of its own (a table
 * row of category NONE; else llama.cpp's test: not a ".weight", or a "_norm.weight"). */
static ks_qcat qcat_of(const ks_arch *fam, gguf_str n, bool *keep) {
    int64_t il;
    const ks_tensor_desc *d = ks_arch_match(fam, n.ptr, n.len, false, &il);
    if (keep) *keep = d ? d->qcat == KS_QCAT_NONE : !ends_with(n, "weight") || str_has(n, "_norm.weight");
    return d ? d->qcat : qcat_by_substring(n);
}

/* llama.cpp's attn_v rule also covers the fused and MLA value projections */
static bool is_attn_v(ks_qcat c) { return c == KS_QCAT_ATTN_V || c == KS_QCAT_ATTN_QKV; }
static bool is_ffn_down(ks_qcat c) { return c == KS_QCAT_FFN_DOWN; }

/* llama.cpp visits tensors ordered by layer ("blk.N."), then by name: its per-category
 * counters are ranks in that order, whatever the file's order */
static int layer_of(gguf_str n) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.*s", (int)(n.len < 31 ? n.len : 31), n.ptr);
    int l = -1;
    return sscanf(buf, "blk.%d.", &l) == 1 ? l : -1;
}
static bool visits_before(gguf_str a, gguf_str b) {
    const int la = layer_of(a), lb = layer_of(b);
    if (la != lb) return la < lb;
    const int c = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
    return c < 0 || (c == 0 && a.len < b.len);
}
static int rank_of(const choice *c, gguf_str n, bool (*same_kind)(ks_qcat)) {
    int r = 0;
    for (uint64_t i = 0; i < c->g->n_tensors; i++) {
        const gguf_tensor_info *t = &c->g->tensors[i];
        if (t->n_dims >= 2 && same_kind(qcat_of(c->fam, t->name, NULL)) && visits_before(t->name, n)) r++;
    }
    return r;
}

static void choice_init(choice *c, const gguf_ctx *g, int ftype) {
    memset(c, 0, sizeof *c);
    c->g = g;
    c->ftype = (uint32_t)ftype;
    c->base = targets[target_index(ftype)].type;
    c->tied = true;
    gguf_str arch;
    char key[160];
    uint64_t n_layer;
    const bool has_arch = gguf_get_str(g, "general.architecture", &arch, NULL) == KS_OK && arch.len < 100;
    if (has_arch) {
        snprintf(key, sizeof key, "%.*s", (int)arch.len, arch.ptr);
        c->fam = ks_arch_find(key);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_str n = g->tensors[i].name;
        if (gguf_str_eq(n, "output.weight")) c->tied = false;
        if (is_attn_v(qcat_of(c->fam, n, NULL))) c->n_attn_v++;
        if (str_has(n, "ffn_down")) c->n_layer++; /* fallback if the block count is missing */
    }
    if (has_arch) {
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.ptr);
        if (gguf_get_u64(g, key, &n_layer, NULL) == KS_OK && n_layer < 100000) c->n_layer = (int)n_layer;
    }
}

static bool is_quantized(uint32_t type) {
    return type != KS_DTYPE_F32 && type != KS_DTYPE_F16 && type != KS_DTYPE_BF16;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* the type tensor t gets in the output */
static uint32_t out_type(const choice *c, const gguf_tensor_info *t) {
    if (t->n_dims < 2) return KS_DTYPE_F32;
    const gguf_str n = t->name;
    bool keep;
    const ks_qcat cat = qcat_of(c->fam, n, &keep);
    if (keep || !is_quantized(c->base)) return c->base;
    const int64_t nx = t->ne[0];
    uint32_t type = c->base;
    if (cat == KS_QCAT_OUTPUT || (c->tied && cat == KS_QCAT_TOKEN_EMBD)) {
        if (nx % ks_dtype_get(type)->block_size) type = KS_DTYPE_Q8_0;
        else if (type != KS_DTYPE_Q8_0) type = KS_DTYPE_Q6_K;
    } else if (cat == KS_QCAT_TOKEN_EMBD) {
        /* the default type */
    } else if (is_attn_v(cat)) {
        if (c->ftype == FTYPE_Q4_K_M && more_bits(rank_of(c, n, is_attn_v), c->n_attn_v)) type = KS_DTYPE_Q6_K;
    } else if (is_ffn_down(cat)) {
        if (c->ftype == FTYPE_Q4_K_M && more_bits(rank_of(c, n, is_ffn_down), c->n_layer)) type = KS_DTYPE_Q6_K;
    }
    /* rows that do not fill this type's blocks: llama.cpp's fallbacks */
    if (nx % ks_dtype_get(type)->block_size) {
        if (type == KS_DTYPE_Q4_K) type = KS_DTYPE_Q5_0;
        else if (type == KS_DTYPE_Q6_K) type = KS_DTYPE_Q8_0;
        if (nx % ks_dtype_get(type)->block_size) type = KS_DTYPE_F16;
    }
    return type;
}

/* bytes of all output tensors: the writer holds every converted tensor until it writes the file */
static double out_bytes_total(const gguf_ctx *g, int ftype) {
    choice c;
    choice_init(&c, g, ftype);
    double total = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor_info *t = &g->tensors[i];
        total += (double)ks_dtype_row_bytes(out_type(&c, t), t->ne[0]) * (double)(t->ne[1] * t->ne[2] * t->ne[3]);
    }
    return total;
}

ks_status ks_quantize_file(const char *in_path, const char *out_path, int target, ks_quantize_stats *stats,
                           ks_err *err) {
    if (stats) *stats = (ks_quantize_stats){0};
    if (target_index(target) < 0)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "quantize: unsupported target file type %d", target);
    ks_outfile out;
    ks_status st = ks_outfile_open(&out, out_path, (const char *const[]){in_path}, 1, err);
    if (!st) st = ks_quantize_to(in_path, &out, target, stats, err);
    if (!st) return ks_outfile_commit(&out, err);
    ks_outfile_discard(&out);
    return st;
}

ks_status ks_quantize_to(const char *in_path, ks_outfile *out, int target, ks_quantize_stats *stats, ks_err *err) {
    ks_quantize_stats st0 = {0};
    if (target_index(target) < 0)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "quantize: unsupported target file type %d", target);
    gguf_ctx *g = NULL;
    ks_status st = gguf_open_file(in_path, &g, err);
    if (st) return st;
    const double need = out_bytes_total(g, target), avail = (double)ks_mem_available();
    if (avail > 0 && need > avail) {
        st = ks_err_set(err, KS_ERR_LIMIT, "quantize: the output tensors need %.2f GiB but only %.2f GiB of memory is available",
                        need / 1073741824.0, avail / 1073741824.0);
        gguf_close(g);
        return st;
    }
    if ((st = ks_outfile_check_space(out, (uint64_t)need, err))) { /* before the work, not after it */
        gguf_close(g);
        return st;
    }
    gguf_writer *w = gguf_writer_new();
    void **bufs = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *bufs);
    float *row = NULL;
    const int n_threads = ks_max_threads();
    if (!w || !bufs) {
        st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint64_t i = 0; i < g->n_kv && !st; i++)
        if (!gguf_str_eq(g->kv[i].key, "general.file_type")) st = gguf_writer_copy_kv(w, &g->kv[i]);
    if (!st) st = gguf_writer_set_u32(w, "general.file_type", (uint32_t)target);
    if (st) {
        st = ks_err_set(err, st, "quantize: out of memory copying metadata");
        goto done;
    }
    choice ch;
    choice_init(&ch, g, target);
    const ks_progress_window pw = ks_progress_sub(0.0f, 0.9f); /* converting is the work; writing the last tenth */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor_info *t = &g->tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 255 ? t->name.len : 255), t->name.ptr);
        const ks_dtype_traits *src = ks_dtype_get(t->type);
        if (!src->to_float) {
            st = ks_err_set(err, KS_ERR_UNSUPPORTED, "quantize: tensor '%s' has type %s, which Kestrel cannot read", name,
                            src->name);
            goto done;
        }
        const uint32_t ot = out_type(&ch, t);
        const ks_dtype_traits *dst = ks_dtype_get(ot);
        const int64_t ne0 = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
        const int64_t in_rb = ks_dtype_row_bytes(t->type, ne0), out_rb = ks_dtype_row_bytes(ot, ne0);
        const uint64_t nbytes = (uint64_t)out_rb * (uint64_t)rows;
        bufs[i] = malloc(nbytes ? nbytes : 1);
        size_t row_bytes = 0;
        float *r = ks_mul_size((size_t)ne0, (size_t)n_threads * sizeof *row, &row_bytes) && row_bytes < SIZE_MAX
                       ? realloc(row, row_bytes + 1) : NULL;
        if (!bufs[i] || !r) {
            st = ks_err_set(err, KS_ERR_NOMEM, "quantize: out of memory for tensor '%s' (%llu bytes)", name,
                            (unsigned long long)nbytes);
            goto done;
        }
        row = r;
        if (ot == t->type) {
            memcpy(bufs[i], t->data, nbytes);
        } else {
            /* rows are independent: threads take contiguous ranges, each with its own float row */
            const uint8_t *in = t->data;
            uint8_t *out = bufs[i];
#pragma omp parallel for schedule(static) num_threads(n_threads) if (rows > 1 && n_threads > 1)
            for (int64_t k = 0; k < rows; k++) {
                float *mine = row + (size_t)ne0 * (size_t)ks_thread_index();
                src->to_float(in + k * in_rb, mine, ne0);
                dst->from_float(mine, out + k * out_rb, ne0);
            }
            st0.n_quantized++;
        }
        st0.n_tensors++;
        st0.bytes_in += t->nbytes, st0.bytes_out += nbytes;
        if ((st = gguf_writer_add_tensor(w, name, ot, t->n_dims, t->ne, bufs[i], nbytes, err))) goto done;
        if (!ks_progress_report((double)(i + 1) / (double)g->n_tensors)) { /* base/progress.h */
            st = ks_err_set(err, KS_ERR_ABORTED, "quantize: cancelled by the progress callback");
            goto done;
        }
    }
    ks_progress_restore(pw);
    ks_progress_sub(0.9f, 1.0f);
    st = gguf_writer_write(w, out, err);
    ks_progress_restore(pw);
done:
    if (bufs)
        for (uint64_t i = 0; i < g->n_tensors; i++) free(bufs[i]);
    free(bufs);
    free(row);
    gguf_writer_free(w);
    gguf_close(g);
    if (stats) *stats = st0;
    return st;
}
