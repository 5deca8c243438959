/* prepare.c - `kestrel prepare-data` (kestrel_train.h ks_prepare_data): text or JSONL in,
 * two token shards out (train.h / docs/TRAINING.md format), streaming: memory holds one chunk of
 * text (about 16 KB, or one JSONL line) and 64 KB of tokens per shard, whatever the corpus size.
 *
 * Chunks of a text file are cut only before a line that starts with a non-space character: the
 * newline before it ends a pre-token under GPT-2's and Llama 3's regexes (a word may take a
 * leading space, never a newline), so cutting there does not change the tokens of byte-level BPE
 * tokenizers. Each document (a text file, a JSONL line) ends with the tokenizer's EOS.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/outfile.h"
#include "kestrel_train.h"
#include "tokenizer/tokenizer.h"
#include "train/train.h"

#define CHUNK ((size_t)16 << 10)
#define MAX_LINE ((size_t)256 << 20)

typedef struct shard_out {
    ks_outfile of;
    uint32_t width, n_vocab;
    uint64_t n;
    uint8_t buf[1 << 16];
    size_t nb;
} shard_out;

static ks_status out_open(shard_out *o, const char *prefix, const char *which, const ks_prepare_params *p,
                          uint32_t n_vocab, ks_err *err) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s.%s.bin", prefix, which) >= sizeof path)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "prepare-data: output prefix too long");
    o->width = n_vocab <= 65536 ? 2 : 4, o->n_vocab = n_vocab;
    ks_status s = ks_outfile_open(&o->of, path, (const char *const *)p->inputs, p->n_inputs, err);
    if (s) return s;
    const uint8_t zero[KS_SHARD_HEADER] = {0}; /* the header, written again at the end with the count */
    return ks_outfile_write(&o->of, zero, sizeof zero, err);
}

static ks_status out_add(shard_out *o, const int32_t *ids, size_t n, ks_err *err) {
    for (size_t i = 0; i < n; i++) {
        if (o->nb + 4 > sizeof o->buf) {
            ks_status s = ks_outfile_write(&o->of, o->buf, o->nb, err);
            if (s) return s;
            o->nb = 0;
        }
        const uint32_t v = (uint32_t)ids[i];
        for (uint32_t b = 0; b < o->width; b++) o->buf[o->nb++] = (uint8_t)(v >> (8 * b));
    }
    o->n += n;
    return KS_OK;
}

static ks_status out_finish(shard_out *o, ks_err *err) {
    ks_status s = ks_outfile_write(&o->of, o->buf, o->nb, err);
    if (s) return s;
    uint8_t h[KS_SHARD_HEADER];
    ks_shard_header(h, o->width, o->n, o->n_vocab);
    if (fflush(o->of.f) || fseek(o->of.f, 0, SEEK_SET))
        return ks_err_set(err, KS_ERR_IO, "prepare-data: cannot rewind the shard: %s", strerror(errno));
    if ((s = ks_outfile_write(&o->of, h, sizeof h, err))) return s;
    return ks_outfile_commit(&o->of, err);
}

typedef struct prep {
    const ks_prepare_params *p;
    const ks_tokenizer *tok;
    int32_t eos;
    shard_out *train, *val;
    uint64_t chunk, val_every;
    ks_prepare_stats st;
    ks_prepare_progress_fn cb;
    void *user;
    uint64_t next_report;
} prep;

/* tokenizes one chunk into the shard its number picks; eos: the document ends here */
static ks_status emit(prep *r, const char *text, size_t len, bool eos, ks_err *err) {
    shard_out *o = r->val_every && r->chunk % r->val_every == r->val_every - 1 ? r->val : r->train;
    r->chunk++;
    int32_t *ids = NULL;
    size_t n = 0;
    ks_status s = len ? ks_tokenize(r->tok, text, len, false, false, &ids, &n, err) : KS_OK;
    if (!s) s = out_add(o, ids, n, err);
    if (!s && eos) s = out_add(o, &r->eos, 1, err), r->st.docs++;
    free(ids);
    r->st.tokens_train = r->train->n, r->st.tokens_val = r->val->n;
    if (!s && r->cb && r->st.bytes_in >= r->next_report) {
        r->next_report = r->st.bytes_in + (8u << 20);
        if (!r->cb(r->user, &r->st)) s = ks_err_set(err, KS_ERR_INVALID_ARG, "prepare-data: stopped");
    }
    return s;
}

static bool is_jsonl(const char *path) {
    const size_t n = strlen(path);
    return (n > 6 && !strcmp(path + n - 6, ".jsonl")) || (n > 5 && !strcmp(path + n - 5, ".json"));
}

static ks_status one_file(prep *r, const char *path, ks_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return ks_err_set(err, KS_ERR_IO, "%s: %s", path, strerror(errno));
    char *line = NULL, *buf = NULL;
    size_t cap = 0, nb = 0, bcap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    ks_status s = KS_OK;
    const bool jsonl = is_jsonl(path);
    while (!s && (len = getline(&line, &cap, f)) >= 0) {
        lineno++, r->st.bytes_in += (uint64_t)len;
        if ((size_t)len > MAX_LINE) {
            s = ks_err_set(err, KS_ERR_LIMIT, "%s:%llu: a line longer than 256 MiB", path, (unsigned long long)lineno);
            break;
        }
        if (jsonl) {
            if (strspn(line, " \t\r\n") == (size_t)len) continue;
            cJSON *doc = cJSON_ParseWithLength(line, (size_t)len);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "text");
            if (!cJSON_IsString(t))
                s = ks_err_set(err, KS_ERR_FORMAT, "%s:%llu: not a JSON object with a \"text\" string", path,
                               (unsigned long long)lineno);
            else s = emit(r, t->valuestring, strlen(t->valuestring), true, err);
            cJSON_Delete(doc);
            continue;
        }
        if (nb >= CHUNK && !isspace((unsigned char)line[0])) s = emit(r, buf, nb, false, err), nb = 0;
        if (nb + (size_t)len > bcap) {
            char *nbuf = realloc(buf, bcap = nb + (size_t)len + CHUNK);
            if (!nbuf) s = ks_err_set(err, KS_ERR_NOMEM, "prepare-data: out of memory");
            else buf = nbuf;
        }
        if (!s) memcpy(buf + nb, line, (size_t)len), nb += (size_t)len;
    }
    if (!s && ferror(f)) s = ks_err_set(err, KS_ERR_IO, "%s: read error", path);
    if (!s && !jsonl && nb) s = emit(r, buf, nb, true, err);
    free(line), free(buf);
    fclose(f);
    return s;
}

ks_status ks_prepare_data(const ks_prepare_params *p, ks_prepare_progress_fn cb, void *user,
                          ks_prepare_stats *stats, ks_err *err) {
    if (!p->tokenizer || !p->out_prefix || !p->n_inputs || !(p->val_fraction >= 0 && p->val_fraction <= 0.5))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "prepare-data: needs a tokenizer, an output prefix, inputs and a "
                          "validation fraction in [0, 0.5]");
    ks_model *m = NULL;
    ks_status s = ks_model_load(p->tokenizer, NULL, &m, err);
    if (s) return s;
    shard_out *outs = calloc(2, sizeof *outs), *train = outs, *val = outs + 1;
    prep r = {.p = p, .tok = m->tok, .train = train, .val = val, .cb = cb, .user = user,
              .val_every = p->val_fraction > 0 ? (uint64_t)(1.0 / p->val_fraction + 0.5) : 0};
    if (!outs) {
        s = ks_err_set(err, KS_ERR_NOMEM, "prepare-data: out of memory");
        goto done;
    }
    if (!m->tok || (r.eos = ks_tokenizer_eos(m->tok)) < 0) {
        s = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: %s", p->tokenizer, m->tok ? "the tokenizer has no EOS token"
                                                                                : "the file has no tokenizer");
        goto done;
    }
    const uint32_t n_vocab = (uint32_t)ks_tokenizer_n_vocab(m->tok);
    if ((s = out_open(train, p->out_prefix, "train", p, n_vocab, err)) ||
        (s = out_open(val, p->out_prefix, "val", p, n_vocab, err)))
        goto done;
    for (size_t i = 0; i < p->n_inputs && !s; i++) s = one_file(&r, p->inputs[i], err);
    if (!s && train->n + val->n == 0)
        s = ks_err_set(err, KS_ERR_INVALID_ARG, "prepare-data: the corpus is empty (no text in %zu file%s)",
                       p->n_inputs, p->n_inputs == 1 ? "" : "s");
    if (!s) s = out_finish(train, err);
    if (!s) s = out_finish(val, err);
    r.st.tokens_train = train->n, r.st.tokens_val = val->n;
    if (!s && cb) cb(user, &r.st);
done:
    if (outs) ks_outfile_discard(&train->of), ks_outfile_discard(&val->of);
    free(outs);
    if (stats) *stats = r.st;
    ks_model_free(m);
    return s;
}
