/* model.c - model loading: picks the format by magic, builds the one model
 * description (tensor views into the mapping), owns the source, frees it all.
 * A GGUF loads by walking its family's tables (model/arch.h): hyperparameter
 * keys, then every tensor row (global rows, then each layer's), then a check
 * that the file holds no tensor the table does not name. */
#include "model/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "model/hparams_check.h"
#include "tensor/dtype.h"
#include "tokenizer/tokenizer.h"

#define MAX_DIM (1 << 20)

/* ---- GGUF: hyperparameters and tensors from the family's tables (model/arch.h) ---- */

static ks_status read_hparam(const gguf_ctx *g, const ks_arch *a, const ks_hp_desc *d, ks_hparams *hp, ks_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", a->name, d->key);
    void *dst = (char *)hp + d->off;
    if (d->type == KS_HP_FLOAT) {
        double v;
        ks_status st = gguf_get_f64(g, key, &v, err);
        if (st == KS_ERR_NOT_FOUND) v = d->dflt;
        else if (st) return st;
        *(float *)dst = (float)v;
        return KS_OK;
    }
    int64_t v;
    ks_status st = gguf_get_i64(g, key, &v, err);
    if (st == KS_ERR_NOT_FOUND && !d->required) {
        switch (d->dflt_kind) {
        case KS_HP_DEFAULT_CONST: v = (int64_t)d->dflt; break;
        case KS_HP_DEFAULT_N_HEAD: v = hp->n_head; break;
        case KS_HP_DEFAULT_E_PER_HEAD: v = hp->n_head > 0 ? hp->n_embd / hp->n_head : 0; break;
        case KS_HP_DEFAULT_HEAD_DIM: v = hp->head_dim; break;
        case KS_HP_DEFAULT_SWA_EVERY: v = a->traits.swa_every; break;
        }
    } else if (st == KS_ERR_NOT_FOUND) {
        return ks_err_set(err, st, "model: missing hyperparameter '%s'", key);
    } else if (st) {
        return st;
    } else if (v < 0 || v > (int64_t)MAX_DIM * 64) {
        return ks_err_set(err, KS_ERR_FORMAT, "model: hyperparameter '%s' = %lld out of range", key, (long long)v);
    }
    *(int64_t *)dst = v;
    return KS_OK;
}

/* RoPE scaling by GGUF key: only "none" (or linear by 1) runs as the family's RoPE; frequency
 * factors come as the rope_freqs tensor instead */
static ks_status check_rope_scaling(const gguf_ctx *g, const char *arch, ks_err *err) {
    char key[128];
    gguf_str type;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    ks_status st = gguf_get_str(g, key, &type, err);
    if (st == KS_ERR_NOT_FOUND) return KS_OK;
    if (st) return st;
    double factor = 1.0;
    snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
    if ((st = gguf_get_f64(g, key, &factor, err)) && st != KS_ERR_NOT_FOUND) return st;
    if (gguf_str_eq(type, "none") || (gguf_str_eq(type, "linear") && (factor == 1.0 || factor == 0.0))) return KS_OK;
    return ks_err_set(err, KS_ERR_UNSUPPORTED, "model: %s.rope.scaling.type = '%.32s' (factor %g) is not supported "
                      "(Kestrel scales RoPE only by frequency factors, rope_freqs.weight)", arch, type.ptr, factor);
}

static ks_status read_hparams(ks_model *m, ks_err *err) {
    const ks_arch *a = m->arch;
    ks_hparams *hp = &m->hp;
    ks_status st;
    hp->swa_every = a->traits.swa_every;
    for (size_t i = 0; i < a->n_hparams; i++)
        if ((st = read_hparam(m->gguf, a, &a->hparams[i], hp, err))) return st;
    if (!a->traits.rope_base_per_layer) hp->rope_theta_swa = hp->rope_theta;
    if (!a->traits.logit_softcap || !(hp->logit_softcap > 0.0f && hp->logit_softcap < 1e30f)) hp->logit_softcap = 0.0f;
    if ((st = ks_hparams_check_base(hp, a->name, err))) return st; /* by key, before tensors are sized from them */
    if (hp->head_dim <= 0 || hp->n_rot % 2 || hp->n_rot > hp->head_dim)
        return ks_err_set(err, KS_ERR_FORMAT, "model: %s.attention.key_length = %lld / %s.rope.dimension_count = %lld: "
                          "the head size must be positive, the RoPE dims even and at most the head size", a->name,
                          (long long)hp->head_dim, a->name, (long long)hp->n_rot);
    return check_rope_scaling(m->gguf, a->name, err);
}

/* Points t at row d's tensor for layer il after checking its shape is [ne0, ne1] (ne1 = 1
 * for vectors) and its type is computable; vectors must be F32. An absent optional
 * tensor leaves t zeroed. */
static ks_status load_tensor(const ks_model *m, const ks_tensor_desc *d, int64_t il, ks_tensor *t, ks_err *err) {
    const gguf_ctx *g = m->gguf;
    char name[GGUF_MAX_NAME + 16];
    memset(t, 0, sizeof *t);
    if (!ks_arch_name(d, false, il, name, sizeof name))
        return ks_err_set(err, KS_ERR_LIMIT, "model: tensor name too long");
    const int64_t ne0 = ks_arch_dim(&m->hp, d->ne[0]), ne1 = ks_arch_dim(&m->hp, d->ne[1]);
    int64_t i = gguf_find_tensor(g, name);
    if (i < 0) return d->required ? ks_err_set(err, KS_ERR_NOT_FOUND, "model: missing tensor '%s'", name) : KS_OK;
    const gguf_tensor_info *ti = &g->tensors[i];
    if (ti->ne[0] != ne0 || ti->ne[1] != ne1 || ti->ne[2] != 1 || ti->ne[3] != 1)
        return ks_err_set(err, KS_ERR_FORMAT, "model: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, "
                          "%lld]", name, (long long)ti->ne[0], (long long)ti->ne[1], (long long)ti->ne[2],
                          (long long)ti->ne[3], (long long)ne0, (long long)ne1);
    const ks_dtype_traits *dt = ks_dtype_get(ti->type);
    bool ok = ne1 == 1 ? ti->type == KS_DTYPE_F32 : (ks_matmul_get_ref(ti->type) != NULL && dt->to_float != NULL);
    if (!ok)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "model: tensor '%s' has unsupported type %s", name,
                          dt ? dt->name : "?");
    t->type = ti->type;
    t->ne[0] = ti->ne[0], t->ne[1] = ti->ne[1], t->ne[2] = 1, t->ne[3] = 1;
    t->row_bytes = (size_t)ks_dtype_row_bytes(ti->type, ti->ne[0]);
    t->data = ti->data;
    return KS_OK;
}

/* the first row of a in quantize category c, or NULL */
static const ks_tensor_desc *row_of(const ks_arch *a, ks_qcat c) {
    for (size_t i = 0; i < a->n_tensors; i++)
        if (a->tensors[i].qcat == c) return &a->tensors[i];
    return NULL;
}

/* every tensor of the file must be a row of the table: one the forward would not read is an error
 * (as llama.cpp's "wrong number of tensors") */
static ks_status check_unknown_tensors(const ks_model *m, ks_err *err) {
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
        const gguf_str n = m->gguf->tensors[i].name;
        int64_t il;
        const ks_tensor_desc *d = ks_arch_match(m->arch, n.ptr, n.len, false, &il);
        if (!d || (d->per_layer && il >= m->hp.n_layer))
            return ks_err_set(err, KS_ERR_FORMAT, "model: tensor '%.*s' is not part of a %s model with %lld layers",
                              (int)n.len, n.ptr, m->arch->name, (long long)m->hp.n_layer);
    }
    return KS_OK;
}

/* Fused QKV (model/arch.h): wq, wk, wv and their biases become views of the fused tensor's rows (q heads,
 * then k, then v: llama.cpp's layout for GPT-2 and Falcon), so the forward pass never meets a fused tensor. */
static void split_qkv(ks_model *m) {
    const ks_hparams *hp = &m->hp;
    const int64_t rows[3] = {hp->n_head * hp->head_dim, hp->n_head_kv * hp->head_dim, hp->n_head_kv * hp->head_dim};
    for (int64_t il = 0; il < hp->n_layer; il++) {
        ks_layer *l = &m->layers[il];
        if (!l->wqkv.data) continue;
        ks_tensor *w[3] = {&l->wq, &l->wk, &l->wv}, *b[3] = {&l->bq, &l->bk, &l->bv};
        int64_t r0 = 0;
        for (int i = 0; i < 3; r0 += rows[i], i++) {
            *w[i] = l->wqkv;
            w[i]->ne[1] = rows[i];
            w[i]->data = (const uint8_t *)l->wqkv.data + (size_t)r0 * l->wqkv.row_bytes;
            if (!l->bqkv.data) continue;
            *b[i] = l->bqkv;
            b[i]->ne[0] = rows[i], b[i]->row_bytes = (size_t)rows[i] * sizeof(float);
            b[i]->data = (const float *)l->bqkv.data + r0;
        }
    }
}

static ks_status load_tensors(ks_model *m, ks_err *err) {
    const ks_arch *a = m->arch;
    ks_hparams *hp = &m->hp;
    const ks_tensor_desc *embd = row_of(a, KS_QCAT_TOKEN_EMBD), *out = row_of(a, KS_QCAT_OUTPUT);
    if (!embd || embd->per_layer)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "model: %s has no token embedding", a->name);
    int64_t ti = gguf_find_tensor(m->gguf, embd->gguf);
    if (ti < 0) return ks_err_set(err, KS_ERR_NOT_FOUND, "model: missing tensor '%s'", embd->gguf);
    hp->n_vocab = m->gguf->tensors[ti].ne[1];
    if (m->tok && ks_tokenizer_n_vocab(m->tok) > hp->n_vocab)
        return ks_err_set(err, KS_ERR_FORMAT, "model: tokenizer has %d tokens but %s has %lld rows",
                          ks_tokenizer_n_vocab(m->tok), embd->gguf, (long long)hp->n_vocab);
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    ks_status st;
    for (size_t r = 0; r < a->n_tensors; r++) { /* global rows first: their errors come before any layer's */
        const ks_tensor_desc *d = &a->tensors[r];
        if (!d->per_layer && (st = load_tensor(m, d, -1, ks_arch_slot(m, d), err))) return st;
    }
    for (int64_t il = 0; il < hp->n_layer; il++)
        for (size_t r = 0; r < a->n_tensors; r++) {
            const ks_tensor_desc *d = &a->tensors[r];
            if (d->per_layer && (st = load_tensor(m, d, il, ks_arch_slot(&m->layers[il], d), err))) return st;
        }
    if (out && !ks_arch_slot(m, out)->data) {
        if (!a->traits.tied_embd) return ks_err_set(err, KS_ERR_NOT_FOUND, "model: missing tensor '%s'", out->gguf);
        *ks_arch_slot(m, out) = *ks_arch_slot(m, embd); /* tied embeddings */
    }
    for (int64_t i = 0; m->rope_freqs.data && i < hp->n_rot / 2; i++) { /* divisors of the rotation angles */
        const float f = ((const float *)m->rope_freqs.data)[i];
        if (!(f > 0.0f && f < 1e30f))
            return ks_err_set(err, KS_ERR_FORMAT, "model: rope_freqs.weight[%lld] = %g is not a positive finite factor",
                              (long long)i, (double)f);
    }
    split_qkv(m);
    return check_unknown_tensors(m, err);
}

/* the family's traits must all be ones the forward pass implements */
static ks_status check_family(const ks_arch *a, ks_err *err) {
    if (a->convert_only)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "architecture '%s' can be converted from Hugging Face but not yet "
                          "run by Kestrel", a->name);
    return ks_arch_check(a, err);
}

bool ks_model_has_weights(const ks_model *m) { return m && m->hp.n_layer > 0 && m->layers; }

const ks_gen_defaults *ks_model_gen_defaults(const ks_model *m) { return &m->gen; }

/* general.sampling.* (a value of the wrong type or out of range is ignored, as llama.cpp's optional reads) */
static void read_gen_defaults(ks_model *m) {
    ks_gen_defaults *g = &m->gen;
    double v;
    int64_t i;
#define GEN_F(key, field, lo, hi)                                                                                  \
    if (gguf_get_f64(m->gguf, key, &v, NULL) == KS_OK && v >= (lo) && v <= (hi)) g->field = (float)v, g->has_##field = true
#define GEN_I(key, field, lo, hi)                                                                                  \
    if (gguf_get_i64(m->gguf, key, &i, NULL) == KS_OK && i >= (lo) && i <= (hi)) g->field = (int32_t)i, g->has_##field = true
    GEN_F("general.sampling.temp", temp, 0.0, 1e6);
    GEN_F("general.sampling.top_p", top_p, 0.0, 1.0);
    GEN_I("general.sampling.top_k", top_k, 0, INT32_MAX);
    GEN_F("general.sampling.min_p", min_p, 0.0, 1.0);
    GEN_F("general.sampling.penalty_repeat", repeat_penalty, 0.0, 1e6);
    GEN_I("general.sampling.penalty_last_n", repeat_last_n, -1, INT32_MAX);
#undef GEN_F
#undef GEN_I
}

static ks_status load_gguf(ks_model *m, const char *path, ks_err *err) {
    ks_status st = gguf_open_file(path, &m->gguf, err);
    if (st) return st;
    m->format = KS_FORMAT_GGUF;
    m->kv_type = 1; /* F16, as llama.cpp's default cache */
    m->rope_iterative = true;
    if (gguf_find_kv(m->gguf, "tokenizer.ggml.model")) {
        st = ks_tokenizer_from_gguf(m->gguf, &m->tok, err);
        if (st) return st;
    }
    read_gen_defaults(m);
    gguf_str tmpl;
    if (gguf_get_str(m->gguf, "tokenizer.chat_template", &tmpl, NULL) == KS_OK) {
        m->chat_template = malloc(tmpl.len + 1);
        if (!m->chat_template) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
        memcpy(m->chat_template, tmpl.ptr, tmpl.len);
        m->chat_template[tmpl.len] = '\0';
    }
    /* weights are mapped, not copied, but a model larger than physical memory would
     * page from disk for every token: refuse it with a clear error */
    uint64_t weight_bytes = 0;
    for (uint64_t i = 0; i < m->gguf->n_tensors; i++) weight_bytes += m->gguf->tensors[i].nbytes;
    const uint64_t total = ks_mem_total();
    if (total && weight_bytes > total)
        return ks_err_set(err, KS_ERR_LIMIT, "%s: the weights need %.2f GiB but this machine has %.2f GiB of memory",
                          path, weight_bytes / 1073741824.0, total / 1073741824.0);
    if (m->gguf->n_tensors == 0) { /* vocabulary-only file */
        if (!m->tok) return ks_err_set(err, KS_ERR_FORMAT, "%s: no tensors and no tokenizer", path);
        return KS_OK;
    }
    gguf_str arch;
    st = gguf_get_str(m->gguf, "general.architecture", &arch, err);
    if (st) return st;
    char name[64];
    if (arch.len >= sizeof name) return ks_err_set(err, KS_ERR_UNSUPPORTED, "unsupported architecture (name too long)");
    memcpy(name, arch.ptr, arch.len);
    name[arch.len] = '\0';
    if ((st = ks_arch_lookup(name, &m->arch, err)) || (st = check_family(m->arch, err)) ||
        (st = read_hparams(m, err)))
        return st;
    if (!m->chat_template && m->arch->chat_default && !(m->chat_template = strdup(m->arch->chat_default)))
        return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    return load_tensors(m, err);
}

/* the matmul weight of index i (layers' seven, then the output head), NULL past the end */
static ks_tensor *matmul_weight(ks_model *m, int64_t i) {
    if (i < m->hp.n_layer * 7) {
        ks_layer *l = &m->layers[i / 7];
        ks_tensor *lt[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->ffn_gate, &l->ffn_up, &l->ffn_down};
        return lt[i % 7];
    }
    return i == m->hp.n_layer * 7 ? &m->output : NULL;
}

/* bytes of t's owned copy: its packed form (unless no_repack), else with
 * no_mmap a plain copy of the weights; 0 to use the mapping in place */
static size_t copy_bytes(const ks_tensor *t, bool repack, bool no_mmap) {
    if (!t->data) return 0;
    const size_t packed = repack ? ks_matmul_pack_bytes(t) : 0;
    if (packed) return packed;
    return no_mmap ? t->row_bytes * (size_t)(t->ne[1] * t->ne[2] * t->ne[3]) : 0;
}

/* Matmul weights that Kestrel keeps its own copy of: the packed layouts of
 * kernels/packed.h (as llama.cpp repacks Q4_0; params->no_repack turns it
 * off), and with params->no_mmap every other matmul weight. The copies live in one buffer, 2 MiB
 * aligned and marked for transparent huge pages: generation streams these
 * bytes once per token and 4 KiB pages cost a TLB miss every 4 KiB (1.1B F16:
 * 18.5 tok/s from a page cache in small pages, 25-27 from huge pages). Failing
 * to get the memory is not an error: the mapping is then used in place. */
/* Returns false when p->progress_callback asked to stop. */
static bool pack_weights(ks_model *m, const ks_model_params *p) {
    const bool repack = !p->no_repack && ks_matmul_pack_useful();
    const bool no_mmap = p->no_mmap && m->format == KS_FORMAT_GGUF;
    if ((!repack && !no_mmap) || !m->layers) return true;
    size_t total = 0;
    ks_tensor *t;
    for (int64_t i = 0; (t = matmul_weight(m, i)); i++) total += (copy_bytes(t, repack, no_mmap) + 63) & ~(size_t)63;
    if (!total) return true;
    const size_t huge = (size_t)2 << 20;
    total = (total + huge - 1) / huge * huge;
    uint8_t *buf = aligned_alloc(huge, total);
    if (!buf) return true;
    m->packed = buf;
    m->packed_bytes = total;
#ifdef MADV_HUGEPAGE
    madvise(buf, total, MADV_HUGEPAGE);
#endif
    size_t off = 0;
    const ks_tensor *tied = m->output.data == m->tok_embd.data ? &m->output : NULL;
    for (int64_t i = 0; (t = matmul_weight(m, i)); i++) {
        const size_t bytes = copy_bytes(t, repack, no_mmap);
        if (!bytes) continue;
        if (p->progress_callback && !p->progress_callback((float)off / (float)total, p->progress_data)) return false;
        if (repack && ks_matmul_pack_bytes(t)) {
            ks_matmul_pack(t, buf + off);
            t->packed = buf + off;
        } else {
            memcpy(buf + off, t->data, bytes);
            if (t == tied) m->tok_embd.data = buf + off; /* the embedding rows read the same copy */
            t->data = buf + off;
        }
        off += (bytes + 63) & ~(size_t)63;
    }
    return true;
}

/* Reads the first bytes of path into magic (*got of 4) without mapping it. A folder or any
 * non-regular file is refused here by name: a folder would read as "0 bytes", and a FIFO would block
 * the open until some writer appears (it is opened O_NONBLOCK so that never happens). */
static ks_status sniff_magic(const char *path, uint8_t magic[4], size_t *got, ks_err *err) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return ks_err_set(err, KS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    ks_status s = KS_OK;
    if (fstat(fd, &st) != 0) {
        s = ks_err_set(err, KS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        char cfg[4096];
        struct stat cs;
        const bool hf = snprintf(cfg, sizeof cfg, "%s/config.json", path) < (int)sizeof cfg && stat(cfg, &cs) == 0;
        s = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: is a directory%s%s%s", path,
                       hf ? " (a Hugging Face model folder: convert it first with 'kestrel convert " : "",
                       hf ? path : "", hf ? " OUT.gguf')" : "");
    } else if (!S_ISREG(st.st_mode)) {
        s = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: is %s, not a regular model file", path,
                       S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode) ? "a block device" : S_ISSOCK(st.st_mode) ? "a socket" : "special");
    } else {
        ssize_t r = 0;
        while (*got < 4 && ((r = read(fd, magic + *got, 4 - *got)) > 0 || (r < 0 && errno == EINTR)))
            if (r > 0) *got += (size_t)r;
        if (r < 0) s = ks_err_set(err, KS_ERR_IO, "%s: read error: %s", path, strerror(errno));
    }
    close(fd);
    return s;
}

ks_status ks_model_load(const char *path, const char *tokenizer_path, ks_model **out, ks_err *err) {
    return ks_model_load_params(path, tokenizer_path, NULL, out, err);
}

ks_status ks_model_load_params(const char *path, const char *tokenizer_path, const ks_model_params *params,
                               ks_model **out, ks_err *err) {
    static const ks_model_params defaults = {0};
    if (!params) params = &defaults;
    *out = NULL;
    ks_model *m = calloc(1, sizeof *m);
    if (!m) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    uint8_t magic[4] = {0};
    size_t got = 0;
    ks_status st = sniff_magic(path, magic, &got, err);
    if (st) {
        free(m);
        return st;
    }
    if (got < 4) {
        st = ks_err_set(err, KS_ERR_TRUNCATED, "%s: truncated: %zu bytes is too short for a model file", path, got);
    } else if (!memcmp(magic, "GGUF", 4)) {
        st = load_gguf(m, path, err);
    } else if (tokenizer_path) {
        st = ks_llama2c_load(m, path, tokenizer_path, err);
    } else {
        st = ks_err_set(err, KS_ERR_FORMAT,
                        "%s: bad magic %02x%02x%02x%02x: not a GGUF file (llama2.c checkpoints need --tokenizer)", path,
                        magic[0], magic[1], magic[2], magic[3]);
    }
    if (!st && ks_model_has_weights(m)) st = ks_hparams_check(&m->hp, m->arch ? m->arch->name : NULL, err);
    if (st) {
        ks_model_free(m);
        return st;
    }
    if (params->progress_callback && !params->progress_callback(0.0f, params->progress_data)) st = KS_ERR_ABORTED;
    if (!st && !pack_weights(m, params)) st = KS_ERR_ABORTED;
    if (!st && params->progress_callback && !params->progress_callback(1.0f, params->progress_data))
        st = KS_ERR_ABORTED;
    if (st) {
        ks_model_free(m);
        return ks_err_set(err, st, "%s: loading cancelled by the progress callback", path);
    }
    ks_tensor *t;
    for (int64_t i = 0; m->layers && (t = matmul_weight(m, i)); i++) t->bf16_batch = !params->f16_exact;
    /* GELU: llama.cpp's f16 table where the FFN weights are quantized (its error, ~2^-11 relative, is far
     * below theirs, and the model then computes what llama.cpp computes), the exact form (transformers')
     * for float weights; KS_GELU=exact|table overrides (tests, comparisons) */
    if (m->layers) {
        const uint32_t ft = m->layers[0].ffn_up.type;
        const char *g = getenv("KS_GELU");
        m->gelu_table = g && *g ? !strcmp(g, "table") : ft != KS_DTYPE_F32 && ft != KS_DTYPE_F16 && ft != KS_DTYPE_BF16;
    }
    *out = m;
    return KS_OK;
}

void ks_model_free(ks_model *m) {
    if (!m) return;
    free(m->layers);
    free(m->packed);
    ks_tokenizer_free(m->tok);
    free(m->chat_template);
    gguf_close(m->gguf);
    ks_mapfile_close(&m->map);
    free(m);
}
