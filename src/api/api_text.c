/* api_text.c - kestrel.h's tokenizer and chat calls into caller buffers, over the
 * malloc-returning internal ones (tokenizer/tokenizer.h, generate/chat.h). */
#include <stdlib.h>
#include <string.h>

#include "generate/chat.h"
#include "tokenizer/tokenizer.h"

/* ids[0..n) into out[0..cap) when they fit; *n_out = n; frees ids */
static ks_status put_ids(int32_t *ids, size_t n, int32_t *out, size_t cap, size_t *n_out, ks_err *err) {
    *n_out = n;
    ks_status st = KS_OK;
    if (n > cap || (n && !out)) st = ks_err_set(err, KS_ERR_LIMIT, "%zu token ids do not fit in a buffer of %zu", n, cap);
    else if (n) memcpy(out, ids, n * sizeof *ids);
    free(ids);
    return st;
}

ks_status ks_tokenizer_tokenize(const ks_tokenizer *tok, const char *text, size_t len, bool add_special,
                                bool parse_special, int32_t *ids, size_t cap, size_t *n_ids, ks_err *err) {
    if (!tok || !text || !n_ids) return ks_err_set(err, KS_ERR_INVALID_ARG, "tokenize: NULL tokenizer, text or n_ids");
    int32_t *all = NULL;
    size_t n = 0;
    ks_status st = ks_tokenize(tok, text, len, add_special, parse_special, &all, &n, err);
    if (st) return *n_ids = 0, st;
    return put_ids(all, n, ids, cap, n_ids, err);
}

ks_status ks_tokenizer_detokenize(const ks_tokenizer *tok, const int32_t *ids, size_t n_ids, bool render_special,
                                  char *buf, size_t cap, size_t *len, ks_err *err) {
    if (!tok || (n_ids && !ids) || !len) return ks_err_set(err, KS_ERR_INVALID_ARG, "detokenize: NULL argument");
    const bool spm = ks_tokenizer_type(tok) == KS_TOK_SPM;
    const int32_t bos = ks_tokenizer_bos(tok);
    size_t n = 0;
    for (size_t i = 0; i < n_ids; i++) {
        size_t pl = 0;
        const char *p = ks_token_to_piece(tok, ids[i], render_special, &pl);
        if (!p) return *len = 0, ks_err_set(err, KS_ERR_INVALID_ARG, "detokenize: token id %d out of range", ids[i]);
        if (spm && i && ids[i - 1] == bos && bos >= 0 && pl && p[0] == ' ') p++, pl--; /* as sentencepiece */
        if (buf && n + pl <= cap) memcpy(buf + n, p, pl);
        n += pl;
    }
    *len = n;
    if (n > cap || (n && !buf)) return ks_err_set(err, KS_ERR_LIMIT, "%zu bytes of text do not fit in %zu", n, cap);
    return KS_OK;
}

const char *ks_chat_template_family(const char *tmpl) { return ks_chat_format_name(ks_chat_detect(tmpl)); }

ks_status ks_chat_apply_template(const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs, bool add_assistant,
                                 char *buf, size_t cap, size_t *len, ks_err *err) {
    if (!len) return ks_err_set(err, KS_ERR_INVALID_ARG, "chat template: len is NULL");
    *len = 0;
    char *out = NULL;
    ks_status st = ks_chat_render(tmpl, msgs, n_msgs, add_assistant, &out, err);
    if (st) return st;
    const size_t n = strlen(out);
    *len = n;
    if (!buf || cap <= n) st = ks_err_set(err, KS_ERR_LIMIT, "a rendered chat of %zu bytes and a NUL does not fit in %zu",
                                          n, cap);
    else memcpy(buf, out, n + 1);
    free(out);
    return st;
}

ks_status ks_tokenizer_tokenize_chat(const ks_tokenizer *tok, const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs,
                                     bool add_assistant, bool parse_special_content, int32_t *ids, size_t cap,
                                     size_t *n_ids, ks_err *err) {
    if (!tok || !n_ids) return ks_err_set(err, KS_ERR_INVALID_ARG, "chat tokenize: NULL tokenizer or n_ids");
    int32_t *all = NULL;
    size_t n = 0;
    ks_status st = ks_chat_tokenize(tok, tmpl, msgs, n_msgs, add_assistant, parse_special_content, &all, &n, err);
    if (st) return *n_ids = 0, st;
    return put_ids(all, n, ids, cap, n_ids, err);
}
