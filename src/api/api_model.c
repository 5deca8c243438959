/* api_model.c - kestrel.h's library and model calls that are not internal functions
 * themselves: version, system info, logging, type names, loading with params, model
 * facts, tensor list and GGUF metadata as text. Thin wrappers over model/ and formats/. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/cpu.h"
#include "formats/gguf.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "tensor/dtype.h"
#include "tokenizer/tokenizer.h"

_Static_assert((int)KS_TYPE_F32 == (int)KS_DTYPE_F32 && (int)KS_TYPE_F16 == (int)KS_DTYPE_F16 &&
                   (int)KS_TYPE_Q8_0 == (int)KS_DTYPE_Q8_0 && (int)KS_TYPE_Q4_0 == (int)KS_DTYPE_Q4_0 &&
                   (int)KS_TYPE_BF16 == (int)KS_DTYPE_BF16,
               "public type codes are GGML's, as the internal ones");

const char *ks_version(void) { return KS_VERSION_STRING; }

static char sysinfo[256];
static void sysinfo_fill(void) {
    static const struct { ks_cpu_feature f; const char *name; } feats[] = {
        {KS_CPU_AVX, "AVX"},         {KS_CPU_AVX2, "AVX2"},           {KS_CPU_FMA, "FMA"},
        {KS_CPU_F16C, "F16C"},       {KS_CPU_AVX512F, "AVX512"},      {KS_CPU_AVX512BW, "AVX512_BW"},
        {KS_CPU_AVX512VNNI, "AVX512_VNNI"}, {KS_CPU_AVX512BF16, "AVX512_BF16"}, {KS_CPU_AMX_BF16, "AMX_BF16"},
        {KS_CPU_AMX_INT8, "AMX_INT8"}};
    size_t n = 0;
    for (size_t i = 0; i < sizeof feats / sizeof feats[0]; i++)
        n += (size_t)snprintf(sysinfo + n, sizeof sysinfo - n, "%s = %d | ", feats[i].name, ks_cpu_has(feats[i].f));
#ifdef _OPENMP
    const int omp = 1;
#else
    const int omp = 0;
#endif
    snprintf(sysinfo + n, sizeof sysinfo - n, "OPENMP = %d | KERNELS = %s", omp, ks_kernels_isa());
}

const char *ks_system_info(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sysinfo_fill);
    return sysinfo;
}

static ks_log_fn log_fn;
static void *log_ud;
void ks_log_set(ks_log_fn fn, void *user_data) { log_fn = fn, log_ud = user_data; }

/* one line to the log callback, if any */
static void log_line(ks_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(ks_log_level level, const char *fmt, ...) {
    if (!log_fn) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_fn(level, line, log_ud);
}

const char *ks_type_name(int32_t type) {
    const ks_dtype_traits *t = type >= 0 ? ks_dtype_get((uint32_t)type) : NULL;
    return t ? t->name : NULL;
}

/* ---- loading ---- */

ks_model_params ks_model_default_params(void) { return (ks_model_params){0}; }

ks_status ks_model_load_from_file(const char *path, const ks_model_params *params, ks_model **out, ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "model load: out is NULL");
    *out = NULL;
    if (!path) return ks_err_set(err, KS_ERR_INVALID_ARG, "model load: path is NULL");
    const ks_model_params defaults = ks_model_default_params();
    if (!params) params = &defaults;
    const double t0 = ks_time_s();
    ks_status st = ks_model_load_params(path, params->tokenizer_path, params, out, err);
    if (!st)
        log_line(KS_LOG_INFO, "loaded %s: %s, %" PRId64 " layers, %.2f s", path, ks_model_arch(*out),
                 (*out)->hp.n_layer, ks_time_s() - t0);
    return st;
}

/* ---- facts ---- */

int32_t ks_model_n_vocab(const ks_model *m) {
    return (int32_t)(ks_model_has_weights(m) ? m->hp.n_vocab : m->tok ? ks_tokenizer_n_vocab(m->tok) : 0);
}
int64_t ks_model_n_ctx_train(const ks_model *m) { return m->hp.n_ctx_train; }
int64_t ks_model_n_embd(const ks_model *m) { return m->hp.n_embd; }
int64_t ks_model_n_layer(const ks_model *m) { return m->hp.n_layer; }
int64_t ks_model_n_head(const ks_model *m) { return m->hp.n_head; }
int64_t ks_model_n_head_kv(const ks_model *m) { return m->hp.n_head_kv; }
const char *ks_model_arch(const ks_model *m) { return ks_model_has_weights(m) && m->arch ? m->arch->name : ""; }
const char *ks_model_chat_template(const ks_model *m) { return m->chat_template; }
const ks_tokenizer *ks_model_tokenizer(const ks_model *m) { return m->tok; }

void ks_model_get_info(const ks_model *m, ks_model_info *o) {
    const ks_hparams *hp = &m->hp;
    *o = (ks_model_info){
        .arch = ks_model_arch(m),
        .format = m->format == KS_FORMAT_GGUF ? "GGUF" : "llama2.c",
        .gguf_version = m->gguf ? m->gguf->version : 0,
        .has_weights = ks_model_has_weights(m),
        .tied_output = ks_model_has_weights(m) && m->output.data == m->tok_embd.data,
        .has_tokenizer = m->tok != NULL,
        .has_chat_template = m->chat_template != NULL,
        .n_vocab = ks_model_n_vocab(m), .n_embd = hp->n_embd, .n_layer = hp->n_layer, .n_head = hp->n_head,
        .n_head_kv = hp->n_head_kv, .n_ff = hp->n_ff, .n_ctx_train = hp->n_ctx_train, .head_dim = hp->head_dim,
        .n_rot = hp->n_rot, .norm_eps = hp->norm_eps, .rope_theta = hp->rope_theta,
        .kv_type = (int32_t)m->kv_type,
    };
    if (m->gguf) { /* llama-bench's size and params: sums over all tensors */
        o->n_tensors = (int64_t)m->gguf->n_tensors;
        for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
            const gguf_tensor_info *t = &m->gguf->tensors[i];
            uint64_t ne = 1;
            for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) ne *= (uint64_t)t->ne[d];
            o->n_bytes += t->nbytes, o->n_params += ne;
        }
    } else { /* llama2.c checkpoint: F32 throughout, 9 tensors a layer and 2 more */
        o->n_tensors = hp->n_layer * 9 + 2;
        o->n_bytes = m->map.size, o->n_params = m->map.size / 4;
    }
}

ks_status ks_model_tensor_info(const ks_model *m, int64_t i, ks_tensor_info *out, ks_err *err) {
    if (!m->gguf || i < 0 || (uint64_t)i >= m->gguf->n_tensors)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "tensor %" PRId64 " out of range (the file lists %" PRIu64 ")", i,
                          m->gguf ? m->gguf->n_tensors : 0);
    const gguf_tensor_info *t = &m->gguf->tensors[i];
    *out = (ks_tensor_info){.name = t->name.ptr, .name_len = (size_t)t->name.len, .type = (int32_t)t->type,
                            .n_dims = t->n_dims, .n_bytes = t->nbytes};
    for (int d = 0; d < 4; d++) out->ne[d] = t->ne[d];
    return KS_OK;
}

/* ---- metadata ---- */

int64_t ks_model_meta_count(const ks_model *m) { return m->gguf ? (int64_t)m->gguf->n_kv : 0; }

/* copies s[0..n) and a NUL into buf when it fits; *len = n */
static ks_status put(const char *s, size_t n, char *buf, size_t cap, size_t *len, ks_err *err) {
    if (len) *len = n;
    if (!buf || cap <= n) return ks_err_set(err, KS_ERR_LIMIT, "a buffer of %zu bytes for %zu bytes and a NUL", cap, n);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return KS_OK;
}

ks_status ks_model_meta_key_by_index(const ks_model *m, int64_t i, char *buf, size_t cap, size_t *len, ks_err *err) {
    if (i < 0 || i >= ks_model_meta_count(m))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "metadata index %" PRId64 " out of range", i);
    const gguf_str k = m->gguf->kv[i].key;
    return put(k.ptr, (size_t)k.len, buf, cap, len, err);
}

/* a scalar value as text into t (cap 64) */
static void scalar_str(const gguf_value *v, char *t) {
    switch (v->type) {
    case GGUF_TYPE_BOOL: snprintf(t, 64, "%s", v->v.u64 ? "true" : "false"); break;
    case GGUF_TYPE_FLOAT32:
    case GGUF_TYPE_FLOAT64: snprintf(t, 64, "%.9g", v->v.f64); break;
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_INT16:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_INT64: snprintf(t, 64, "%" PRId64, v->v.i64); break;
    default: snprintf(t, 64, "%" PRIu64, v->v.u64); break;
    }
}

ks_status ks_model_meta_val_str(const ks_model *m, const char *key, char *buf, size_t cap, size_t *len, ks_err *err) {
    const gguf_kv *kv = m->gguf && key ? gguf_find_kv(m->gguf, key) : NULL;
    if (!kv) return ks_err_set(err, KS_ERR_NOT_FOUND, "no metadata key '%.200s'", key ? key : "(null)");
    const gguf_value *v = &kv->value;
    char t[1024];
    if (v->type == GGUF_TYPE_STRING) return put(v->v.str.ptr, (size_t)v->v.str.len, buf, cap, len, err);
    if (v->type != GGUF_TYPE_ARRAY) {
        scalar_str(v, t);
        return put(t, strlen(t), buf, cap, len, err);
    }
    const gguf_type et = v->v.arr.elem_type;
    if (et == GGUF_TYPE_STRING || et == GGUF_TYPE_ARRAY || v->v.arr.n > 16) {
        snprintf(t, sizeof t, "[%" PRIu64 " items of %s]", v->v.arr.n, gguf_type_name(et));
        return put(t, strlen(t), buf, cap, len, err);
    }
    size_t n = 0;
    t[n++] = '[';
    for (uint64_t i = 0; i < v->v.arr.n; i++) {
        char e[64];
        const bool fl = et == GGUF_TYPE_FLOAT32 || et == GGUF_TYPE_FLOAT64;
        if (fl) snprintf(e, sizeof e, "%.9g", (double)gguf_arr_f32(v, i));
        else if (et == GGUF_TYPE_BOOL) snprintf(e, sizeof e, "%s", gguf_arr_int(v, i) ? "true" : "false");
        else snprintf(e, sizeof e, "%" PRId64, gguf_arr_int(v, i));
        n += (size_t)snprintf(t + n, sizeof t - n, "%s%s", i ? ", " : "", e);
    }
    t[n++] = ']';
    return put(t, n, buf, cap, len, err);
}

int32_t ks_sampler_sample_ctx(ks_sampler *s, const ks_context *c, int64_t i) {
    const float *l = c ? ks_context_logits(c, i) : NULL;
    return l ? ks_sampler_sample(s, l, ks_model_n_vocab(ks_context_model(c))) : -1;
}

void ks_free(void *p) { free(p); }
