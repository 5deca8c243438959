/* special.c - ks_tokenize: special-token partitioning, then BPE or SPM on the
 * text between special tokens, plus BOS/EOS.
 *
 * Partitioning follows llama.cpp's tokenizer_st_partition: special tokens
 * (control, user-defined, unknown) are taken longest text first; each one
 * splits every remaining text fragment at all its occurrences. Control and
 * unknown tokens are only matched when parse_special; user-defined tokens are
 * always matched (HF tokenizers' added tokens behave the same way).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"

typedef struct frag {
    int32_t token; /* -1: raw text [off, off + len) */
    size_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static ks_status frags_push(frags *f, int32_t token, size_t off, size_t len) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        frag *v = realloc(f->v, cap * sizeof *v);
        if (!v) return KS_ERR_NOMEM;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (frag){token, off, len};
    return KS_OK;
}

/* Splits the text fragments of *cur at every occurrence of token id. */
static ks_status split_on(const ks_tokenizer *tok, const char *text, int32_t id, frags *cur, frags *next) {
    size_t tl;
    const char *t = strtab_str(&tok->strs, id, &tl);
    ks_status st = KS_OK;
    next->n = 0;
    for (size_t i = 0; i < cur->n && !st; i++) {
        frag f = cur->v[i];
        if (f.token >= 0 || f.len < tl) {
            st = frags_push(next, f.token, f.off, f.len);
            continue;
        }
        size_t pos = f.off, end = f.off + f.len;
        while (!st) {
            const char *m = memmem(text + pos, end - pos, t, tl);
            if (!m) break;
            size_t mo = (size_t)(m - text);
            if (mo > pos) st = frags_push(next, -1, pos, mo - pos);
            if (!st) st = frags_push(next, id, 0, 0);
            pos = mo + tl;
        }
        if (!st && pos < end) st = frags_push(next, -1, pos, end - pos);
    }
    return st;
}

static ks_status partition(const ks_tokenizer *tok, const char *text, size_t len, bool parse_special, frags *out) {
    frags tmp = {0};
    ks_status st = frags_push(out, -1, 0, len);
    for (size_t k = 0; k < tok->n_special && !st; k++) {
        int32_t id = tok->special[k];
        int32_t a = tok->attr[id];
        if (!parse_special && (a == KS_TOKATTR_CONTROL || a == KS_TOKATTR_UNKNOWN)) continue;
        size_t tl;
        const char *t = strtab_str(&tok->strs, id, &tl);
        if (tl == 0 || tl > len || !memmem(text, len, t, tl)) continue; /* cheap common case */
        st = split_on(tok, text, id, out, &tmp);
        frags sw = *out;
        *out = tmp;
        tmp = sw;
    }
    free(tmp.v);
    return st;
}

ks_status ks_tokenize(const ks_tokenizer *tok, const char *text, size_t len, bool add_special, bool parse_special,
                      int32_t **ids, size_t *n_ids, ks_err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!tok || (!text && len)) return ks_err_set(err, KS_ERR_INVALID_ARG, "ks_tokenize: NULL tokenizer or text");
    frags fr = {0};
    tok_ids out = {0};
    ks_status st = KS_OK;
    if (len && (st = partition(tok, text, len, parse_special, &fr))) goto nomem;
    if (add_special && tok->add_bos && tok->bos >= 0 && (st = ids_push(&out, tok->bos))) goto nomem;
    bool prev_special = true; /* SPM: the first fragment and those after a special token get the prefix */
    for (size_t i = 0; i < fr.n; i++) {
        const frag *f = &fr.v[i];
        if (f->token >= 0) {
            if ((st = ids_push(&out, f->token))) goto nomem;
            prev_special = true;
            continue;
        }
        if (tok->type == KS_TOK_BPE) st = bpe_encode(tok, text + f->off, f->len, &out, err);
        else st = spm_encode(tok, text + f->off, f->len, tok->add_space_prefix && prev_special, &out, err);
        if (st) goto fail;
        prev_special = false;
    }
    if (add_special && tok->add_eos && tok->eos >= 0 && (st = ids_push(&out, tok->eos))) goto nomem;
    size_t n = out.n;
    if (!out.v && (st = ids_push(&out, 0))) goto nomem; /* never return NULL on success */
    free(fr.v);
    *ids = out.v;
    *n_ids = n;
    return KS_OK;
nomem:
    st = ks_err_set(err, KS_ERR_NOMEM, "ks_tokenize: out of memory");
fail:
    free(fr.v);
    free(out.v);
    return st;
}
