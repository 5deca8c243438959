/* detok.c - token ids back to bytes: per-token pieces and a streaming
 * detokenizer that only ever hands out whole UTF-8 characters.
 *
 * Pieces are precomputed at load (vocab.c): byte-level BPE text is unmapped to
 * bytes, SPM U+2581 becomes a space, <0xXX> byte tokens become their byte.
 * Control and unknown tokens decode to "" unless render_special (llama.cpp's
 * token_to_piece with special=false).
 *
 * The stream keeps at most 3 bytes back: the tail of a character whose lead
 * byte announced more bytes than have arrived, as long as the bytes so far are
 * a valid prefix. Anything that can no longer become a valid character is
 * passed through unchanged, so decoding is byte-exact.
 */
#include <string.h>

#include "tokenizer/tok_impl.h"

const char *ks_token_to_piece(const ks_tokenizer *tok, int32_t id, bool render_special, size_t *len) {
    *len = 0;
    if (!tok || id < 0 || id >= tok->n_vocab) return NULL;
    int32_t a = tok->attr[id];
    if (!render_special && (a == KS_TOKATTR_CONTROL || a == KS_TOKATTR_UNKNOWN)) return "";
    *len = tok->piece_len[id];
    return tok->piece_buf + tok->piece_off[id];
}

const char *ks_token_text(const ks_tokenizer *tok, int32_t id, size_t *len) {
    *len = 0;
    if (!tok || id < 0 || id >= tok->n_vocab) return NULL;
    return strtab_str(&tok->strs, id, len);
}

size_t ks_tokenizer_max_piece_len(const ks_tokenizer *tok) {
    size_t max = 0;
    for (int32_t i = 0; tok && i < tok->n_vocab; i++)
        if (tok->piece_len[i] > max) max = tok->piece_len[i];
    return max;
}

void ks_detok_stream_init(ks_detok_stream *s) { memset(s, 0, sizeof *s); }

/* Bytes a lead byte announces (0: not a valid lead byte). */
static size_t utf8_need(uint8_t c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

/* Whether b may follow lead byte c as its first continuation byte. */
static bool utf8_second_ok(uint8_t c, uint8_t b) {
    switch (c) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return (b & 0xC0) == 0x80;
    }
}

/* Number of trailing bytes of buf[0, n) that are an unfinished but still
 * valid character (0..3). */
static size_t utf8_incomplete_tail(const uint8_t *buf, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t c = buf[n - k];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = utf8_need(c);
        if (need <= k) return 0; /* complete, ASCII or invalid lead */
        for (size_t j = 1; j < k; j++) {
            uint8_t b = buf[n - k + j];
            if (j == 1 ? !utf8_second_ok(c, b) : (b & 0xC0) != 0x80) return 0;
        }
        return k;
    }
    return 0;
}

int64_t ks_detok_stream_push(ks_detok_stream *s, const ks_tokenizer *tok, int32_t id, char *out, size_t cap) {
    size_t plen;
    const char *p = ks_token_to_piece(tok, id, false, &plen);
    if (!p) p = "", plen = 0;
    bool spm = tok->type == KS_TOK_SPM;
    if (s->after_bos && spm && plen && p[0] == ' ') p++, plen--; /* sentencepiece drops it after BOS */
    if (s->n_pending > 3 || s->n_pending + plen > cap) return -1;
    s->after_bos = spm && id == tok->bos && id >= 0;
    size_t n = s->n_pending;
    memcpy(out, s->pending, n);
    memcpy(out + n, p, plen);
    n += plen;
    size_t keep = utf8_incomplete_tail((const uint8_t *)out, n);
    memcpy(s->pending, out + n - keep, keep);
    s->n_pending = keep;
    return (int64_t)(n - keep);
}

int64_t ks_detok_stream_flush(ks_detok_stream *s, char *out, size_t cap) {
    if (s->n_pending > cap || s->n_pending > sizeof s->pending) return -1;
    size_t n = s->n_pending;
    memcpy(out, s->pending, n);
    s->n_pending = 0;
    s->after_bos = false;
    return (int64_t)n;
}
