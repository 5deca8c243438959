/* model.c - model loading: picks the format by magic, builds the one model
 * description (tensor views into the mapping), owns the source, frees it all. */
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
#include "tokenizer/tokenizer.h"

static const ks_arch arch_table[] = {
    {.name = "llama", .norm = KS_NORM_RMS, .rope = KS_ROPE_NORM, .ffn = KS_FFN_SWIGLU},
};

const ks_arch *ks_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++)
        if (!strcmp(arch_table[i].name, name)) return &arch_table[i];
    return NULL;
}

bool ks_model_has_weights(const ks_model *m) { return m && m->hp.n_layer > 0 && m->layers; }

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
    m->arch = ks_arch_find(name);
    if (!m->arch) return ks_err_set(err, KS_ERR_UNSUPPORTED, "unsupported architecture '%s'", name);
    return ks_arch_llama_load(m, err);
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
static void pack_weights(ks_model *m, const ks_model_params *p) {
    const bool repack = !p->no_repack && ks_matmul_pack_useful();
    const bool no_mmap = p->no_mmap && m->format == KS_FORMAT_GGUF;
    if ((!repack && !no_mmap) || !m->layers) return;
    size_t total = 0;
    ks_tensor *t;
    for (int64_t i = 0; (t = matmul_weight(m, i)); i++) total += (copy_bytes(t, repack, no_mmap) + 63) & ~(size_t)63;
    if (!total) return;
    const size_t huge = (size_t)2 << 20;
    total = (total + huge - 1) / huge * huge;
    uint8_t *buf = aligned_alloc(huge, total);
    if (!buf) return;
#ifdef MADV_HUGEPAGE
    madvise(buf, total, MADV_HUGEPAGE);
#endif
    size_t off = 0;
    const ks_tensor *tied = m->output.data == m->tok_embd.data ? &m->output : NULL;
    for (int64_t i = 0; (t = matmul_weight(m, i)); i++) {
        const size_t bytes = copy_bytes(t, repack, no_mmap);
        if (!bytes) continue;
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
    m->packed = buf;
    m->packed_bytes = total;
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
    pack_weights(m, params);
    ks_tensor *t;
    for (int64_t i = 0; m->layers && (t = matmul_weight(m, i)); i++) t->bf16_batch = !params->f16_exact;
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
