/* special.c - ks_tokenize: special-token partitioning, then BPE or SPM on the
 * text between special tokens, plus BOS/EOS.
 *
 * Partitioning follows llama.cpp's tokenizer_st_partition: special tokens
 * (control, user-defined, unknown) are taken longest text first; each one
 * splits every remaining text fragment at all its occurrences. Control and
 * unknown tokens are only matched when parse_special; user-defined tokens are
 * always matched (HF tokenizers' added tokens behave the same way). The
 * partition itself (tok_partition, special_index.c) gets the same fragments in
 * one pass per distinct special-text length, not one per special token.
 *
 * ks_tokenize_segments starts the partition from one fragment per segment,
 * each with its own parse_special, so control text is never matched in a
 * segment that forbids it nor across a boundary; afterwards raw fragments
 * that touch are joined again, so the text between two special tokens is
 * pre-tokenized and merged as one piece, exactly as ks_tokenize of the whole
 * text would (the same ids when no control text lies in a forbidding segment).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"

/* Segments must cover text[0, len) in order. */
static ks_status check_segments(const char *text, size_t len, const ks_tok_segment *segs, size_t n_segs,
                                ks_err *err) {
    if (!text && len) return ks_err_set(err, KS_ERR_INVALID_ARG, "ks_tokenize: NULL text");
    if (n_segs && !segs) return ks_err_set(err, KS_ERR_INVALID_ARG, "ks_tokenize: %zu segments but NULL", n_segs);
    size_t pos = 0;
    for (size_t i = 0; i < n_segs; i++) {
        if (segs[i].off != pos || segs[i].len > len - pos)
            return ks_err_set(err, KS_ERR_INVALID_ARG,
                              "ks_tokenize: segment %zu [%zu, +%zu) does not continue at %zu within %zu bytes", i,
                              segs[i].off, segs[i].len, pos, len);
        pos += segs[i].len;
    }
    if (pos != len)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "ks_tokenize: segments cover %zu of %zu bytes", pos, len);
    return KS_OK;
}

ks_status ks_tokenize(const ks_tokenizer *tok, const char *text, size_t len, bool add_special, bool parse_special,
                      int32_t **ids, size_t *n_ids, ks_err *err) {
    const ks_tok_segment all = {0, len, parse_special};
    return ks_tokenize_segments(tok, text, len, &all, 1, add_special, add_special, ids, n_ids, err);
}

ks_status ks_tokenize_segments(const ks_tokenizer *tok, const char *text, size_t len, const ks_tok_segment *segs,
                               size_t n_segs, bool add_bos, bool add_eos, int32_t **ids, size_t *n_ids, ks_err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!tok) return ks_err_set(err, KS_ERR_INVALID_ARG, "ks_tokenize: NULL tokenizer");
    ks_status st = check_segments(text, len, segs, n_segs, err);
    if (st) return st;
    tok_frags fr = {0};
    tok_ids out = {0};
    if (len && (st = tok_partition(tok, text, len, segs, n_segs, &fr))) {
        st = st == KS_ERR_LIMIT ? ks_err_set(err, st, "ks_tokenize: %zu bytes of text is too long", len) : st;
        if (st == KS_ERR_LIMIT) goto fail;
        goto nomem;
    }
    if (add_bos && tok->add_bos && tok->bos >= 0 && (st = ids_push(&out, tok->bos))) goto nomem;
    bool prev_special = true; /* SPM: the first fragment and those after a special token get the prefix */
    for (size_t i = 0; i < fr.n; i++) {
        const tok_frag *f = &fr.v[i];
        if (f->token >= 0) {
            if ((st = ids_push(&out, f->token))) goto nomem;
            prev_special = true;
            continue;
        }
        size_t run = f->len; /* raw text continuing in the next segment is one piece */
        while (i + 1 < fr.n && fr.v[i + 1].token < 0 && fr.v[i + 1].off == f->off + run) run += fr.v[++i].len;
        if (tok->type == KS_TOK_BPE) st = bpe_encode(tok, text + f->off, run, &out, err);
        else st = spm_encode(tok, text + f->off, run, tok->add_space_prefix && prev_special, &out, err);
        if (st) goto fail;
        prev_special = false;
    }
    if (add_eos && tok->add_eos && tok->eos >= 0 && (st = ids_push(&out, tok->eos))) goto nomem;
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
