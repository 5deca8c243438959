/* spm.c - SentencePiece-style BPE (GGUF model "llama" and llama2.c's
 * tokenizer.bin), as llama.cpp's llm_tokenizer_spm and llama2.c's encode().
 *
 * The fragment is optionally prefixed with a space, spaces become U+2581
 * (GGUF only: llama2.c pieces hold plain spaces), the text is cut into UTF-8
 * characters, and the adjacent pair whose concatenation is the highest-scoring
 * token is merged first (ties: leftmost), via the shared merge heap (merge_heap.c, key = -score) over a linked list.
 * Symbols that are not tokens at the end are emitted as byte tokens <0xXX>.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_impl.h"

void spm_init(ks_tokenizer *tok) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        int32_t id = ks_tokenizer_find(tok, name, 6);
        if (id < 0) {
            char raw = (char)b;
            id = ks_tokenizer_find(tok, &raw, 1);
        }
        tok->byte_sym[b] = id;
    }
}

typedef struct spm_sym {
    int32_t prev, next;
    size_t off, n; /* bytes of the working text; n == 0: merged away */
} spm_sym;

typedef struct spm_work {
    const char *text;
    spm_sym *sym;
    tok_heap heap;
} spm_work;

static ks_status try_bigram(const ks_tokenizer *tok, spm_work *w, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return KS_OK;
    size_t size = w->sym[left].n + w->sym[right].n;
    int32_t id = ks_tokenizer_find(tok, w->text + w->sym[left].off, size);
    if (id < 0) return KS_OK;
    return tok_heap_push(&w->heap, (tok_bigram){-(double)tok->scores[id], left, right, (int64_t)size, 0});
}

/* Working text: optional prefix, spaces escaped to U+2581 unless llama2.c. */
static char *spm_prepare(const ks_tokenizer *tok, const char *text, size_t len, bool prefix, size_t *out_len) {
    const char *space = tok->llama2c ? " " : "\xe2\x96\x81";
    size_t sl = tok->llama2c ? 1 : 3;
    if (len > (SIZE_MAX - 8) / 3) return NULL;
    char *buf = malloc(len * sl + sl + 1);
    if (!buf) return NULL;
    size_t n = 0;
    if (prefix) {
        memcpy(buf, space, sl);
        n = sl;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + n, space, sl);
            n += sl;
        } else {
            buf[n++] = text[i];
        }
    }
    *out_len = n;
    return buf;
}

/* Length of the character at buf[i]: llama.cpp uses the lead byte's announced
 * length; llama2.c takes the lead byte plus following continuation bytes (max 4). */
static size_t char_len(const ks_tokenizer *tok, const char *buf, size_t i, size_t n) {
    size_t cl = 1;
    if (tok->llama2c) {
        while (i + cl < n && cl < 4 && ((uint8_t)buf[i + cl] & 0xC0) == 0x80) cl++;
        return cl;
    }
    cl = tok_utf8_len((uint8_t)buf[i]);
    return cl < n - i ? cl : n - i;
}

static ks_status resegment(const ks_tokenizer *tok, const char *s, size_t n, tok_ids *out) {
    int32_t id = ks_tokenizer_find(tok, s, n);
    if (id >= 0) return ids_push(out, id);
    for (size_t j = 0; j < n; j++) {
        int32_t b = tok->byte_sym[(uint8_t)s[j]];
        if (b < 0) b = tok->unk;
        if (b < 0) continue;
        ks_status st = ids_push(out, b);
        if (st) return st;
    }
    return KS_OK;
}

ks_status spm_encode(const ks_tokenizer *tok, const char *text, size_t len, bool prefix_space, tok_ids *out,
                     ks_err *err) {
    size_t n = 0;
    spm_work w = {0};
    ks_status st = KS_OK;
    char *buf = spm_prepare(tok, text, len, prefix_space, &n);
    if (!buf) return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory (%zu bytes of text)", len);
    if (n == 0) goto done;
    if (n > INT32_MAX) {
        st = ks_err_set(err, KS_ERR_LIMIT, "tokenizer: fragment of %zu bytes", n);
        goto done;
    }
    w.text = buf;
    w.sym = malloc(n * sizeof *w.sym);
    if (!w.sym) goto nomem;
    int32_t n_sym = 0;
    for (size_t i = 0; i < n;) {
        size_t cl = char_len(tok, buf, i, n);
        w.sym[n_sym] = (spm_sym){n_sym - 1, i + cl < n ? n_sym + 1 : -1, i, cl};
        n_sym++;
        i += cl;
    }
    for (int32_t i = 1; i < n_sym && !st; i++) st = try_bigram(tok, &w, i - 1, i);
    while (w.heap.n && !st) {
        tok_bigram g = tok_heap_pop(&w.heap);
        spm_sym *l = &w.sym[g.left], *r = &w.sym[g.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != (size_t)g.a) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w.sym[r->next].prev = g.left;
        st = try_bigram(tok, &w, l->prev, g.left);
        if (!st) st = try_bigram(tok, &w, g.left, l->next);
    }
    for (int32_t i = 0; i >= 0 && !st; i = w.sym[i].next) st = resegment(tok, buf + w.sym[i].off, w.sym[i].n, out);
    if (st) goto nomem;
    goto done;
nomem:
    st = ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory in SPM merge");
done:
    free(buf);
    free(w.sym);
    free(w.heap.v);
    return st;
}
