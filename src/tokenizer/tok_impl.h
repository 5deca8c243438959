/* tok_impl.h - internals shared by the tokenizer files (not a public header).
 *
 * One ks_tokenizer holds the vocabulary (token texts in a string table whose
 * index is the token id), per-token score and attribute, the precomputed
 * decoded piece of every token, and, per algorithm:
 *   BPE: merge table (pair of symbol ids -> rank, result symbol id) and the
 *        compiled pre-tokenizer; symbols that are not tokens (possible only in
 *        odd merge lists) are interned in the same string table after the vocab.
 *   SPM: scores drive the merges; byte_tok[] maps a byte to its <0xXX> token.
 * Everything is immutable after construction, so ks_tokenize may run
 * concurrently on one tokenizer (all scratch is per call).
 */
#ifndef KS_TOK_IMPL_H
#define KS_TOK_IMPL_H
#include "tokenizer/tokenizer.h"

/* ---- string table: append-only strings, index = id, hashed lookup ---- */
typedef struct tok_strtab {
    char *buf; /* all strings back to back */
    size_t buf_len, buf_cap;
    uint64_t *off; /* n entries */
    uint32_t *len;
    int32_t n;
    size_t cap; /* of off and len */
    int32_t *slots; /* -1 empty, else string index; n_slots is a power of two */
    size_t n_slots;
} tok_strtab;

/* Appends s as entry n (even if an equal string exists: lookups then return the
 * first). *id (nullable) receives the new index. KS_ERR_NOMEM / KS_ERR_LIMIT. */
ks_status strtab_push(tok_strtab *t, const char *s, size_t len, int32_t *id);
/* Index of the first entry equal to s, or -1. */
int32_t strtab_find(const tok_strtab *t, const char *s, size_t len);
/* Existing index of s, or appends it. */
ks_status strtab_intern(tok_strtab *t, const char *s, size_t len, int32_t *id);
void strtab_free(tok_strtab *t);
static inline const char *strtab_str(const tok_strtab *t, int32_t i, size_t *len) {
    *len = t->len[i];
    return t->buf + t->off[i];
}

/* ---- pair map: (left symbol, right symbol) -> (rank, merged symbol) ---- */
typedef struct tok_pair_entry {
    uint64_t key; /* (left << 32) | right, UINT64_MAX = empty */
    int32_t rank;
    int32_t result;
} tok_pair_entry;
typedef struct tok_pairmap {
    tok_pair_entry *slots;
    size_t n_slots, n;
} tok_pairmap;
/* Inserts unless the pair is present (first rank wins, as in llama.cpp). */
ks_status pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result);
const tok_pair_entry *pairmap_get(const tok_pairmap *m, int32_t left, int32_t right);
void pairmap_free(tok_pairmap *m);

/* ---- growable id vector ---- */
/* A candidate merge of adjacent symbols left and right for the BPE and SPM merge
 * loops. The heap pops the lowest key first, ties leftmost (BPE: key = merge
 * rank; SPM: key = -score). a, b: the algorithm's data for detecting stale
 * entries (BPE: the two symbol ids; SPM: a = merged byte length). */
typedef struct tok_bigram {
    double key;
    int32_t left, right;
    int64_t a, b;
} tok_bigram;
typedef struct tok_heap {
    tok_bigram *v; /* owned */
    size_t n, cap;
} tok_heap;
ks_status tok_heap_push(tok_heap *h, tok_bigram g); /* KS_ERR_NOMEM leaves h unchanged */
tok_bigram tok_heap_pop(tok_heap *h);               /* requires h->n > 0 */

typedef struct tok_ids {
    int32_t *v;
    size_t n, cap;
} tok_ids;
ks_status ids_push(tok_ids *ids, int32_t id);

/* ---- pre-tokenizer (pretok.c) ---- */
typedef struct tok_pretok tok_pretok;
typedef struct tok_span {
    size_t off, len;
} tok_span;
typedef struct tok_spans {
    tok_span *v;
    size_t n, cap;
} tok_spans;
ks_status spans_push(tok_spans *s, size_t off, size_t len);

/* Per pre-tokenizer flags that llama.cpp ties to the pre name. */
typedef struct tok_pre_flags {
    bool ignore_merges; /* a word that is itself a token is emitted whole */
    bool add_bos;       /* default for add_bos when the file does not say */
    bool no_bos;        /* the model has no BOS token */
} tok_pre_flags;

/* Compiles the regex sequence for a tokenizer.ggml.pre name (NULL or "" means
 * "default"). KS_ERR_UNSUPPORTED for an unknown name (message names it). */
ks_status pretok_create(const char *name, size_t name_len, tok_pretok **out, tok_pre_flags *flags, ks_err *err);
void pretok_free(tok_pretok *p);
/* Splits text[0, len) into words: each regex in turn refines every piece; text
 * between matches becomes its own piece (as llama.cpp and HF "Isolated").
 * Spans (offsets into text) are appended to out, in order, covering all text. */
ks_status pretok_split(const tok_pretok *p, const char *text, size_t len, tok_spans *out, ks_err *err);

/* ---- the tokenizer ---- */
struct ks_tokenizer {
    ks_tok_type type;
    bool llama2c; /* SPM variant of llama2.c tokenizer.bin: plain spaces, byte ids = byte + 3 */
    int32_t n_vocab;
    tok_strtab strs; /* entries 0..n_vocab-1 are the tokens; BPE-only extra symbols after */
    float *scores;   /* n_vocab */
    int32_t *attr;   /* n_vocab, KS_TOKATTR_* */
    uint8_t *eog;    /* n_vocab flags */

    /* decoded piece of each token (for control/unknown tokens: their text) */
    char *piece_buf;
    uint64_t *piece_off;
    uint32_t *piece_len;

    tok_pairmap merges; /* BPE */
    tok_pretok *pre;    /* BPE */
    tok_pre_flags pre_flags;
    int32_t byte_sym[256]; /* BPE: symbol id of the mapped char of each byte (-1 if none);
                              SPM: token id of <0xXX> (or of the raw byte), -1 if none */

    int32_t *special; /* control/user-defined/unknown ids, longest text first */
    size_t n_special;
    struct tok_spx *spx; /* index of the special texts for tok_partition (special_index.c) */

    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix;
};

/* vocab.c */
/* Builds every token's decoded piece and the sorted special-token list; call
 * once attributes are final. */
ks_status vocab_finish(ks_tokenizer *tok, ks_err *err);

/* special_index.c */
typedef struct tok_spx tok_spx;
/* Builds the index of tok->special (sorted, attributes final) for tok_partition. KS_ERR_NOMEM. */
ks_status tok_spx_build(const ks_tokenizer *tok, tok_spx **out);
void tok_spx_free(tok_spx *x);
typedef struct tok_frag {
    int32_t token;      /* -1: raw text [off, off + len); else a special token found at [off, off + len) */
    size_t off, len;
    bool parse_special; /* raw text: control/unknown token text may be matched in it */
} tok_frag;
typedef struct tok_frags {
    tok_frag *v;
    size_t n, cap;
} tok_frags;
/* Partitions text (covered in order by segs, empty ones allowed) into special tokens and raw
 * fragments in text order, as llama.cpp's tokenizer_st_partition (see special.c), into out
 * (emptied first; the caller frees out->v). KS_ERR_NOMEM, or KS_ERR_LIMIT for 1 TiB of text. */
ks_status tok_partition(const ks_tokenizer *tok, const char *text, size_t len, const ks_tok_segment *segs,
                        size_t n_segs, tok_frags *out);

/* bpe.c */
/* Fills tok->byte_sym and interns merges (strings "a b"). */
ks_status bpe_init(ks_tokenizer *tok, const char *const *merges, const size_t *merge_lens, size_t n_merges,
                   ks_err *err);
/* Appends the tokens of one raw-text fragment (pre-tokenized, byte-mapped, merged). */
ks_status bpe_encode(const ks_tokenizer *tok, const char *text, size_t len, tok_ids *out, ks_err *err);
/* GPT-2 byte <-> unicode mapping. */
uint32_t bpe_byte_to_cpt(uint8_t b);
int bpe_cpt_to_byte(uint32_t cpt); /* -1 if cpt is not a mapped byte */

/* spm.c */
void spm_init(ks_tokenizer *tok);
/* Appends the tokens of one raw-text fragment; prefix_space adds the leading
 * space (U+2581 or ' ') first. */
ks_status spm_encode(const ks_tokenizer *tok, const char *text, size_t len, bool prefix_space, tok_ids *out,
                     ks_err *err);

/* utf8 helpers */
/* Length of the UTF-8 sequence a lead byte announces (1 for continuation and invalid bytes),
 * like llama.cpp's unicode_len_utf8. */
static inline size_t tok_utf8_len(uint8_t c) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}
/* Writes cpt as UTF-8 into out (4 bytes room); returns the byte count. */
static inline size_t tok_utf8_put(uint32_t cpt, char *out) {
    if (cpt < 0x80) {
        out[0] = (char)cpt;
        return 1;
    }
    if (cpt < 0x800) {
        out[0] = (char)(0xC0 | (cpt >> 6));
        out[1] = (char)(0x80 | (cpt & 0x3F));
        return 2;
    }
    if (cpt < 0x10000) {
        out[0] = (char)(0xE0 | (cpt >> 12));
        out[1] = (char)(0x80 | ((cpt >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cpt & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cpt >> 18));
    out[1] = (char)(0x80 | ((cpt >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cpt >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cpt & 0x3F));
    return 4;
}
#endif
