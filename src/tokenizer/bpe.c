/* bpe.c - byte-level BPE (GGUF model "gpt2"), as llama.cpp's llm_tokenizer_bpe.
 *
 * Text -> words (pretok.c) -> each byte of a word becomes one symbol, named by
 * its GPT-2 printable character (bytes_to_unicode) -> adjacent symbol pairs are
 * merged lowest merge rank first (ties: leftmost), with a binary heap and a
 * linked list of symbols, so a word of n bytes costs O(n log n).
 * A final symbol that is not a token (only with odd merge lists) is emitted
 * byte by byte.
 *
 * Symbols are ids in the tokenizer's string table: the merge table is keyed by
 * (left id, right id) and stores the rank and the id of the concatenation.
 */
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "tokenizer/tok_impl.h"

/* GPT-2 bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 bytes (0x00-0x20, 0x7F-0xA0, 0xAD) to U+0100.. in byte order. */
uint32_t bpe_byte_to_cpt(uint8_t b) {
    if (b <= 0x20) return 256u + b;
    if (b >= 0x7F && b <= 0xA0) return 256u + 33u + (b - 0x7Fu);
    if (b == 0xAD) return 256u + 67u;
    return b;
}

int bpe_cpt_to_byte(uint32_t cpt) {
    if (cpt < 256) {
        bool mapped_away = cpt <= 0x20 || (cpt >= 0x7F && cpt <= 0xA0) || cpt == 0xAD;
        return mapped_away ? -1 : (int)cpt;
    }
    if (cpt <= 256 + 32) return (int)(cpt - 256);
    if (cpt <= 256 + 66) return (int)(0x7F + cpt - 289);
    if (cpt == 256 + 67) return 0xAD;
    return -1;
}

ks_status bpe_init(ks_tokenizer *tok, const char *const *merges, const size_t *merge_lens, size_t n_merges,
                   ks_err *err) {
    char *cat = NULL;
    size_t cat_cap = 0;
    ks_status st = KS_OK;
    if (n_merges > INT32_MAX) return ks_err_set(err, KS_ERR_LIMIT, "tokenizer: %zu merges", n_merges);
    for (size_t i = 0; i < n_merges && !st; i++) {
        const char *s = merges[i];
        size_t len = merge_lens[i];
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL; /* as llama.cpp: find(' ', 1) */
        if (!sp) continue;
        size_t la = (size_t)(sp - s), lb = len - la - 1;
        if (!KS_RESERVE(cat, cat_cap, 0, la + lb)) { /* la + lb < len: no overflow */
            st = KS_ERR_NOMEM;
            break;
        }
        memcpy(cat, s, la);
        memcpy(cat + la, sp + 1, lb);
        int32_t a, b, ab;
        if ((st = strtab_intern(&tok->strs, s, la, &a))) break;
        if ((st = strtab_intern(&tok->strs, sp + 1, lb, &b))) break;
        if ((st = strtab_intern(&tok->strs, cat, la + lb, &ab))) break;
        st = pairmap_put(&tok->merges, a, b, (int32_t)i, ab);
    }
    free(cat);
    if (st) return ks_err_set(err, st, "tokenizer: building merge table: %s", ks_status_str(st));
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t n = tok_utf8_put(bpe_byte_to_cpt((uint8_t)b), u);
        tok->byte_sym[b] = strtab_find(&tok->strs, u, n);
    }
    return KS_OK;
}

/* ---- per-call scratch ---- */

typedef struct bpe_sym {
    int32_t id;         /* string-table id, -1 if the text is unknown */
    int32_t prev, next; /* linked list over live symbols, -1 at the ends */
    int32_t n;          /* bytes covered (0: merged away) */
} bpe_sym;

typedef struct bpe_work {
    bpe_sym *sym;
    size_t sym_cap;
    tok_heap heap;
    char *word; /* byte-mapped word, for ignore_merges lookups */
    size_t word_cap;
} bpe_work;

static ks_status add_bigram(const ks_tokenizer *tok, bpe_work *w, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return KS_OK;
    const tok_pair_entry *e = pairmap_get(&tok->merges, w->sym[left].id, w->sym[right].id);
    if (!e) return KS_OK;
    return tok_heap_push(&w->heap, (tok_bigram){e->rank, left, right, w->sym[left].id, w->sym[right].id});
}

static ks_status emit_symbol(const ks_tokenizer *tok, const uint8_t *bytes, const bpe_sym *s, tok_ids *out) {
    if (s->id >= 0 && s->id < tok->n_vocab) return ids_push(out, s->id);
    for (int32_t j = 0; j < s->n; j++) { /* not a token: its bytes, where they are tokens */
        int32_t b = tok->byte_sym[bytes[j]];
        if (b >= 0 && b < tok->n_vocab) {
            ks_status st = ids_push(out, b);
            if (st) return st;
        }
    }
    return KS_OK;
}

/* Whole word as a token (ignore_merges pre-tokenizers such as llama3). */
static int32_t word_as_token(const ks_tokenizer *tok, bpe_work *w, const uint8_t *bytes, size_t len) {
    size_t need; /* each byte becomes a code point of at most 2 UTF-8 bytes */
    if (!ks_mul_size(len, 2, &need) || !KS_RESERVE(w->word, w->word_cap, 0, need)) return -2;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += tok_utf8_put(bpe_byte_to_cpt(bytes[i]), w->word + n);
    return ks_tokenizer_find(tok, w->word, n);
}

static ks_status bpe_word(const ks_tokenizer *tok, bpe_work *w, const uint8_t *bytes, size_t len, tok_ids *out) {
    if (tok->pre_flags.ignore_merges) {
        int32_t id = word_as_token(tok, w, bytes, len);
        if (id == -2) return KS_ERR_NOMEM;
        if (id >= 0) return ids_push(out, id);
    }
    if (len > INT32_MAX) return KS_ERR_LIMIT;
    if (!KS_RESERVE(w->sym, w->sym_cap, 0, len)) return KS_ERR_NOMEM;
    int32_t n = (int32_t)len;
    for (int32_t i = 0; i < n; i++)
        w->sym[i] = (bpe_sym){tok->byte_sym[bytes[i]], i - 1, i + 1 < n ? i + 1 : -1, 1};
    w->heap.n = 0;
    ks_status st = KS_OK;
    for (int32_t i = 1; i < n && !st; i++) st = add_bigram(tok, w, i - 1, i);
    while (w->heap.n && !st) {
        tok_bigram g = tok_heap_pop(&w->heap);
        bpe_sym *l = &w->sym[g.left], *r = &w->sym[g.right];
        if (l->n == 0 || r->n == 0 || l->next != g.right || l->id != g.a || r->id != g.b) continue; /* stale */
        l->id = pairmap_get(&tok->merges, (int32_t)g.a, (int32_t)g.b)->result;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = g.left;
        st = add_bigram(tok, w, l->prev, g.left);
        if (!st) st = add_bigram(tok, w, g.left, l->next);
    }
    for (int32_t i = 0; i >= 0 && !st; i = w->sym[i].next) st = emit_symbol(tok, bytes + i, &w->sym[i], out);
    return st;
}

ks_status bpe_encode(const ks_tokenizer *tok, const char *text, size_t len, tok_ids *out, ks_err *err) {
    tok_spans spans = {0};
    bpe_work w = {0};
    ks_status st = pretok_split(tok->pre, text, len, &spans, err);
    if (st) return st;
    for (size_t i = 0; i < spans.n && !st; i++)
        st = bpe_word(tok, &w, (const uint8_t *)text + spans.v[i].off, spans.v[i].len, out);
    free(spans.v);
    free(w.sym);
    free(w.heap.v);
    free(w.word);
    if (st) return ks_err_set(err, st, "tokenizer: BPE: %s", ks_status_str(st));
    return KS_OK;
}
