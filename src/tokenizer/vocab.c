/* vocab.c - vocabulary: loading from GGUF (tokenizer.ggml.*) and from a
 * llama2.c tokenizer.bin, the string/pair hash tables, special-token
 * bookkeeping (BOS/EOS/EOT, end-of-generation set) and the accessors.
 *
 * The rules follow llama.cpp's llama_vocab::load: model "llama" is SPM
 * (bos 1, eos 2, unk 0, add_bos, leading-space prefix), model "gpt2" is
 * byte-level BPE with the pre-tokenizer named by tokenizer.ggml.pre; tokens
 * whose text marks an end of turn (<|im_end|>, <|eot_id|>, ...) become control
 * tokens and join the EOG set together with EOS/EOT/EOM.
 *
 * tokenizer.bin layout (llama2.c): i32 max_token_length, then vocab_size x
 * { f32 score | i32 len | len bytes }. Ids 0/1/2 are <unk>/<s>/</s>.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "base/mapfile.h"
#include "formats/gguf.h"
#include "tokenizer/tok_impl.h"

#define TOK_MAX_VOCAB (1 << 24)

/* ---------------- hash tables ---------------- */

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static ks_status strtab_rehash(tok_strtab *t, size_t n_slots) {
    int32_t *slots = malloc(n_slots * sizeof *slots);
    if (!slots) return KS_ERR_NOMEM;
    memset(slots, 0xff, n_slots * sizeof *slots);
    for (int32_t i = 0; i < t->n; i++) {
        size_t len;
        const char *s = strtab_str(t, i, &len);
        size_t h = (size_t)hash_bytes(s, len) & (n_slots - 1);
        for (;;) {
            if (slots[h] < 0) {
                slots[h] = i;
                break;
            }
            size_t l2;
            const char *s2 = strtab_str(t, slots[h], &l2);
            if (l2 == len && memcmp(s, s2, len) == 0) break; /* duplicate: first stays */
            h = (h + 1) & (n_slots - 1);
        }
    }
    free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return KS_OK;
}

int32_t strtab_find(const tok_strtab *t, const char *s, size_t len) {
    if (!t->n_slots) return -1;
    size_t h = (size_t)hash_bytes(s, len) & (t->n_slots - 1);
    while (t->slots[h] >= 0) {
        int32_t i = t->slots[h];
        if (t->len[i] == len && memcmp(t->buf + t->off[i], s, len) == 0) return i;
        h = (h + 1) & (t->n_slots - 1);
    }
    return -1;
}

ks_status strtab_push(tok_strtab *t, const char *s, size_t len, int32_t *id) {
    if (t->n >= TOK_MAX_VOCAB * 2 || len > UINT32_MAX) return KS_ERR_LIMIT;
    size_t cap_off = t->cap, cap_len = t->cap, extra;
    const bool ok = KS_RESERVE(t->off, cap_off, (size_t)t->n, 1) && KS_RESERVE(t->len, cap_len, (size_t)t->n, 1);
    t->cap = cap_off < cap_len ? cap_off : cap_len; /* both hold at least cap entries */
    if (!ok) return KS_ERR_NOMEM;
    if (!ks_add_size(len, 1, &extra) || !KS_RESERVE(t->buf, t->buf_cap, t->buf_len, extra)) return KS_ERR_NOMEM;
    if (len) memcpy(t->buf + t->buf_len, s, len);
    t->buf[t->buf_len + len] = '\0'; /* convenient for debugging; never relied upon */
    int32_t i = t->n++;
    t->off[i] = t->buf_len;
    t->len[i] = (uint32_t)len;
    t->buf_len += len + 1;
    if ((size_t)t->n * 2 > t->n_slots) { /* n < 2 TOK_MAX_VOCAB: no overflow */
        ks_status st = strtab_rehash(t, t->n_slots ? t->n_slots * 2 : 2048);
        if (st) return st;
    } else {
        size_t h = (size_t)hash_bytes(s, len) & (t->n_slots - 1);
        for (;;) {
            int32_t j = t->slots[h];
            if (j < 0) {
                t->slots[h] = i;
                break;
            }
            if (t->len[j] == len && memcmp(t->buf + t->off[j], s, len) == 0) break;
            h = (h + 1) & (t->n_slots - 1);
        }
    }
    if (id) *id = i;
    return KS_OK;
}

ks_status strtab_intern(tok_strtab *t, const char *s, size_t len, int32_t *id) {
    int32_t i = strtab_find(t, s, len);
    if (i >= 0) {
        *id = i;
        return KS_OK;
    }
    return strtab_push(t, s, len, id);
}

void strtab_free(tok_strtab *t) {
    free(t->buf);
    free(t->off);
    free(t->len);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static size_t pair_hash(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & mask;
}

static ks_status pairmap_grow(tok_pairmap *m) {
    size_t n_slots = m->n_slots ? m->n_slots * 2 : 4096;
    tok_pair_entry *slots = malloc(n_slots * sizeof *slots);
    if (!slots) return KS_ERR_NOMEM;
    for (size_t i = 0; i < n_slots; i++) slots[i].key = UINT64_MAX;
    for (size_t i = 0; i < m->n_slots; i++) {
        if (m->slots[i].key == UINT64_MAX) continue;
        size_t h = pair_hash(m->slots[i].key, n_slots - 1);
        while (slots[h].key != UINT64_MAX) h = (h + 1) & (n_slots - 1);
        slots[h] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    return KS_OK;
}

ks_status pairmap_put(tok_pairmap *m, int32_t left, int32_t right, int32_t rank, int32_t result) {
    if ((m->n + 1) * 2 > m->n_slots) {
        ks_status st = pairmap_grow(m);
        if (st) return st;
    }
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t h = pair_hash(key, m->n_slots - 1);
    while (m->slots[h].key != UINT64_MAX) {
        if (m->slots[h].key == key) return KS_OK;
        h = (h + 1) & (m->n_slots - 1);
    }
    m->slots[h] = (tok_pair_entry){.key = key, .rank = rank, .result = result};
    m->n++;
    return KS_OK;
}

const tok_pair_entry *pairmap_get(const tok_pairmap *m, int32_t left, int32_t right) {
    if (!m->n_slots || left < 0 || right < 0) return NULL;
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t h = pair_hash(key, m->n_slots - 1);
    while (m->slots[h].key != UINT64_MAX) {
        if (m->slots[h].key == key) return &m->slots[h];
        h = (h + 1) & (m->n_slots - 1);
    }
    return NULL;
}

void pairmap_free(tok_pairmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

ks_status ids_push(tok_ids *ids, int32_t id) {
    if (!KS_RESERVE(ids->v, ids->cap, ids->n, 1)) return KS_ERR_NOMEM;
    ids->v[ids->n++] = id;
    return KS_OK;
}

/* ---------------- construction ---------------- */

static ks_tokenizer *tok_alloc(int32_t n_vocab) {
    ks_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return NULL;
    tok->n_vocab = n_vocab;
    tok->scores = calloc((size_t)n_vocab + 1, sizeof *tok->scores);
    tok->attr = calloc((size_t)n_vocab + 1, sizeof *tok->attr);
    tok->eog = calloc((size_t)n_vocab + 1, 1);
    if (!tok->scores || !tok->attr || !tok->eog) {
        ks_tokenizer_free(tok);
        return NULL;
    }
    tok->bos = tok->eos = tok->eot = tok->eom = tok->unk = tok->pad = -1;
    for (int i = 0; i < 256; i++) tok->byte_sym[i] = -1;
    return tok;
}

void ks_tokenizer_free(ks_tokenizer *tok) {
    if (!tok) return;
    strtab_free(&tok->strs);
    free(tok->scores);
    free(tok->attr);
    free(tok->eog);
    free(tok->piece_buf);
    free(tok->piece_off);
    free(tok->piece_len);
    pairmap_free(&tok->merges);
    pretok_free(tok->pre);
    free(tok->special);
    tok_spx_free(tok->spx);
    free(tok);
}

static bool text_is(const ks_tokenizer *tok, int32_t id, const char *s) {
    size_t len;
    const char *t = strtab_str(&tok->strs, id, &len);
    return len == strlen(s) && memcmp(t, s, len) == 0;
}

static bool text_in(const ks_tokenizer *tok, int32_t id, const char *const *list) {
    for (; *list; list++)
        if (text_is(tok, id, *list)) return true;
    return false;
}

/* EOT / EOM detection and the EOG set, by token text (llama.cpp's list). */
static void vocab_mark_eog(ks_tokenizer *tok) {
    static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                            "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
                                            "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                            "<end_of_utterance>", NULL};
    static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
                                            "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                                            "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", NULL};
    static const char *const user_names[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    int32_t end_id = -1;
    bool has_return = false, has_call = false;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        if (tok->eot < 0 && text_in(tok, id, eot_names)) {
            tok->eot = id;
            tok->attr[id] = KS_TOKATTR_CONTROL;
        }
        if (tok->eom < 0 && text_is(tok, id, "<|eom_id|>")) {
            tok->eom = id;
            tok->attr[id] = KS_TOKATTR_CONTROL;
        }
        if (text_in(tok, id, eog_names)) {
            tok->eog[id] = 1;
            tok->attr[id] = KS_TOKATTR_CONTROL;
            if (text_is(tok, id, "<|end|>")) end_id = id;
            if (text_is(tok, id, "<|return|>")) has_return = true;
            if (text_is(tok, id, "<|call|>")) has_call = true;
        }
        if (text_in(tok, id, user_names)) tok->attr[id] = KS_TOKATTR_USER_DEFINED;
    }
    if (tok->eos >= 0) tok->eog[tok->eos] = 1;
    if (tok->eot >= 0) tok->eog[tok->eot] = 1;
    if (tok->eom >= 0) tok->eog[tok->eom] = 1;
    if (has_return && has_call && end_id >= 0) { /* harmony: <|end|> ends a message, not generation */
        tok->eog[end_id] = 0;
        tok->attr[end_id] = KS_TOKATTR_USER_DEFINED;
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Orders tok->special longest text first, ties by id (llama.cpp sorts by length only). */
static ks_status sort_special(ks_tokenizer *tok) {
    uint64_t *keys = malloc((tok->n_special + 1) * sizeof *keys);
    if (!keys) return KS_ERR_NOMEM;
    for (size_t i = 0; i < tok->n_special; i++) {
        int32_t id = tok->special[i];
        keys[i] = ((uint64_t)(UINT32_MAX - tok->strs.len[id]) << 32) | (uint32_t)id;
    }
    qsort(keys, tok->n_special, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < tok->n_special; i++) tok->special[i] = (int32_t)(keys[i] & 0xffffffffu);
    free(keys);
    return KS_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "<0xXX>" -> byte value, or -1. */
static int byte_token_value(const char *s, size_t len) {
    if (len != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Decoded bytes of token id into out (room for 3 * len + 4); returns count. */
static size_t piece_decode(const ks_tokenizer *tok, int32_t id, char *out) {
    size_t len;
    const char *s = strtab_str(&tok->strs, id, &len);
    int32_t a = tok->attr[id];
    if (a == KS_TOKATTR_CONTROL || a == KS_TOKATTR_UNKNOWN || a == KS_TOKATTR_USER_DEFINED) {
        memcpy(out, s, len);
        return len;
    }
    if (a == KS_TOKATTR_BYTE) {
        int b = byte_token_value(s, len);
        if (b < 0) return 0;
        out[0] = (char)b;
        return 1;
    }
    if (a != KS_TOKATTR_NORMAL) return 0;
    size_t n = 0;
    if (tok->type == KS_TOK_SPM) {
        for (size_t i = 0; i < len; i++) {
            if (!tok->llama2c && i + 2 < len && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                out[n++] = ' ';
                i += 2;
            } else {
                out[n++] = s[i];
            }
        }
        return n;
    }
    /* byte-level BPE: each char is a mapped byte; anything else passes through */
    for (size_t i = 0; i < len;) {
        uint8_t c = (uint8_t)s[i];
        size_t cl = tok_utf8_len(c);
        if (cl == 2 && i + 1 < len) {
            uint32_t cpt = ((uint32_t)(c & 0x1F) << 6) | ((uint8_t)s[i + 1] & 0x3F);
            int b = bpe_cpt_to_byte(cpt);
            if (b >= 0) {
                out[n++] = (char)b;
                i += 2;
                continue;
            }
        } else if (cl == 1) {
            int b = bpe_cpt_to_byte(c);
            if (b >= 0) {
                out[n++] = (char)b;
                i++;
                continue;
            }
        }
        if (cl > len - i) cl = len - i;
        memcpy(out + n, s + i, cl);
        n += cl;
        i += cl;
    }
    return n;
}

ks_status vocab_finish(ks_tokenizer *tok, ks_err *err) {
    size_t total = 0, max_len = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        total += tok->strs.len[i];
        if (tok->strs.len[i] > max_len) max_len = tok->strs.len[i];
    }
    tok->piece_buf = malloc(total + 1);
    tok->piece_off = malloc((size_t)tok->n_vocab * sizeof *tok->piece_off);
    tok->piece_len = malloc((size_t)tok->n_vocab * sizeof *tok->piece_len);
    tok->special = malloc((size_t)tok->n_vocab * sizeof *tok->special);
    char *tmp = malloc(max_len + 8);
    if (!tok->piece_buf || !tok->piece_off || !tok->piece_len || !tok->special || !tmp) {
        free(tmp);
        return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory building pieces");
    }
    size_t off = 0;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        size_t n = piece_decode(tok, i, tmp); /* decoded is never longer than the text */
        memcpy(tok->piece_buf + off, tmp, n);
        tok->piece_off[i] = off;
        tok->piece_len[i] = (uint32_t)n;
        off += n;
        int32_t a = tok->attr[i];
        if (a == KS_TOKATTR_CONTROL || a == KS_TOKATTR_USER_DEFINED || a == KS_TOKATTR_UNKNOWN)
            tok->special[tok->n_special++] = i;
    }
    free(tmp);
    if (sort_special(tok) || tok_spx_build(tok, &tok->spx))
        return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory indexing special tokens");
    return KS_OK;
}

/* ---------------- GGUF ---------------- */

static ks_status get_str_arr(const gguf_ctx *g, const char *key, const gguf_value **out, bool required,
                             ks_err *err) {
    *out = NULL;
    ks_status st = gguf_get_arr(g, key, out, NULL);
    if (st == KS_ERR_NOT_FOUND && !required) return KS_OK;
    if (st) return ks_err_set(err, st == KS_ERR_NOT_FOUND ? st : KS_ERR_FORMAT, "tokenizer: %s: %s", key,
                              st == KS_ERR_NOT_FOUND ? "missing" : "not an array");
    if ((*out)->v.arr.elem_type != GGUF_TYPE_STRING)
        return ks_err_set(err, KS_ERR_FORMAT, "tokenizer: %s: expected string array, found %s", key,
                          gguf_type_name((*out)->v.arr.elem_type));
    return KS_OK;
}

/* Special-token id keys (llama.cpp's LLM_KV_TOKENIZER_*_ID): every one present must be an
 * integer inside the vocabulary, even those Kestrel does not use (llama.cpp warns and ignores an
 * out-of-range id; an error says which file is broken). field: offset in ks_tokenizer, or 0. */
static const struct special_key {
    const char *key;
    size_t field;
} special_keys[] = {
    {"tokenizer.ggml.bos_token_id", offsetof(ks_tokenizer, bos)},
    {"tokenizer.ggml.eos_token_id", offsetof(ks_tokenizer, eos)},
    {"tokenizer.ggml.eot_token_id", offsetof(ks_tokenizer, eot)},
    {"tokenizer.ggml.eom_token_id", offsetof(ks_tokenizer, eom)},
    {"tokenizer.ggml.unknown_token_id", offsetof(ks_tokenizer, unk)},
    {"tokenizer.ggml.padding_token_id", offsetof(ks_tokenizer, pad)},
    {"tokenizer.ggml.seperator_token_id", 0}, /* sic, as llama.cpp spells it */
    {"tokenizer.ggml.cls_token_id", 0},
    {"tokenizer.ggml.mask_token_id", 0},
    {"tokenizer.ggml.prefix_token_id", 0},
    {"tokenizer.ggml.suffix_token_id", 0},
    {"tokenizer.ggml.middle_token_id", 0},
    {"tokenizer.ggml.fim_pre_token_id", 0},
    {"tokenizer.ggml.fim_suf_token_id", 0},
    {"tokenizer.ggml.fim_mid_token_id", 0},
    {"tokenizer.ggml.fim_pad_token_id", 0},
    {"tokenizer.ggml.fim_rep_token_id", 0},
    {"tokenizer.ggml.fim_sep_token_id", 0},
};

/* Reads every special-token id the file declares; defaults out of range become -1 (disabled). */
static ks_status get_ids(ks_tokenizer *tok, const gguf_ctx *g, ks_err *err) {
    for (size_t i = 0; i < sizeof special_keys / sizeof special_keys[0]; i++) {
        const char *key = special_keys[i].key;
        int32_t *id = special_keys[i].field ? (int32_t *)((char *)tok + special_keys[i].field) : NULL;
        if (id && *id >= tok->n_vocab) *id = -1;
        const gguf_kv *kv = gguf_find_kv(g, key);
        if (!kv) continue;
        int64_t v;
        uint64_t u;
        if (gguf_get_i64(g, key, &v, NULL) == KS_OK) {
            if (v < 0 || v >= tok->n_vocab)
                return ks_err_set(err, KS_ERR_FORMAT, "tokenizer: %s = %lld is outside the vocabulary [0, %d)", key,
                                  (long long)v, (int)tok->n_vocab);
            if (id) *id = (int32_t)v;
        } else if (gguf_get_u64(g, key, &u, NULL) == KS_OK) {
            return ks_err_set(err, KS_ERR_FORMAT, "tokenizer: %s = %llu is outside the vocabulary [0, %d)", key,
                              (unsigned long long)u, (int)tok->n_vocab);
        } else {
            return ks_err_set(err, KS_ERR_FORMAT, "tokenizer: %s has type %s, expected an integer token id", key,
                              gguf_type_name(kv->value.type));
        }
    }
    return KS_OK;
}

/* A flag the file may set; a value that is not a bool is an error, as in llama.cpp. */
static ks_status get_flag(const gguf_ctx *g, const char *key, bool *flag, ks_err *err) {
    const gguf_kv *kv = gguf_find_kv(g, key);
    if (!kv) return KS_OK;
    if (kv->value.type != GGUF_TYPE_BOOL)
        return ks_err_set(err, KS_ERR_FORMAT, "tokenizer: %s has type %s, expected bool", key,
                          gguf_type_name(kv->value.type));
    *flag = kv->value.v.u64 != 0;
    return KS_OK;
}

/* Reads tokens, scores and token types into tok (already allocated). */
static ks_status load_tokens(ks_tokenizer *tok, const gguf_ctx *g, const gguf_value *tokens, ks_err *err) {
    const gguf_value *scores = NULL, *types = NULL;
    if (gguf_get_arr(g, "tokenizer.ggml.scores", &scores, NULL) == KS_OK) {
        gguf_type t = scores->v.arr.elem_type;
        if ((t != GGUF_TYPE_FLOAT32 && t != GGUF_TYPE_INT32) || scores->v.arr.n < (uint64_t)tok->n_vocab)
            return ks_err_set(err, KS_ERR_FORMAT, "tokenizer: tokenizer.ggml.scores: %s[%llu] for %d tokens",
                              gguf_type_name(t), (unsigned long long)scores->v.arr.n, tok->n_vocab);
    }
    if (gguf_get_arr(g, "tokenizer.ggml.token_type", &types, NULL) == KS_OK) {
        gguf_type t = types->v.arr.elem_type;
        if (t != GGUF_TYPE_INT32 || types->v.arr.n < (uint64_t)tok->n_vocab)
            return ks_err_set(err, KS_ERR_FORMAT, "tokenizer: tokenizer.ggml.token_type: %s[%llu] for %d tokens",
                              gguf_type_name(t), (unsigned long long)types->v.arr.n, tok->n_vocab);
    }
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        gguf_str s = gguf_arr_str(tokens, (uint64_t)i);
        char empty[32];
        if (s.len == 0) { /* as llama.cpp: an empty token gets a placeholder text */
            int n = snprintf(empty, sizeof empty, "[EMPTY_%d]", (int)i);
            s.ptr = empty;
            s.len = (uint64_t)n;
        }
        ks_status st = strtab_push(&tok->strs, s.ptr, (size_t)s.len, NULL);
        if (st) return ks_err_set(err, st, "tokenizer: storing token %d: %s", (int)i, ks_status_str(st));
        if (scores)
            tok->scores[i] = scores->v.arr.elem_type == GGUF_TYPE_FLOAT32 ? gguf_arr_f32(scores, (uint64_t)i)
                                                                          : (float)gguf_arr_int(scores, (uint64_t)i);
        int64_t t = types ? gguf_arr_int(types, (uint64_t)i) : KS_TOKATTR_NORMAL;
        tok->attr[i] = (t >= KS_TOKATTR_NORMAL && t <= KS_TOKATTR_BYTE) ? (int32_t)t : 0;
    }
    return KS_OK;
}

static ks_status load_merges(ks_tokenizer *tok, const gguf_value *merges, ks_err *err) {
    size_t n = merges ? (size_t)merges->v.arr.n : 0;
    const char **strs = malloc((n + 1) * sizeof *strs);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    if (!strs || !lens) {
        free(strs);
        free(lens);
        return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory reading merges");
    }
    for (size_t i = 0; i < n; i++) {
        gguf_str s = gguf_arr_str(merges, i);
        strs[i] = s.ptr;
        lens[i] = (size_t)s.len;
    }
    ks_status st = bpe_init(tok, strs, lens, n, err);
    free(strs);
    free(lens);
    return st;
}

ks_status ks_tokenizer_from_gguf(const struct gguf_ctx *g, ks_tokenizer **out, ks_err *err) {
    *out = NULL;
    gguf_str model = {0}, pre = {0};
    ks_status st = gguf_get_str(g, "tokenizer.ggml.model", &model, err);
    if (st == KS_ERR_NOT_FOUND) return ks_err_set(err, st, "tokenizer: tokenizer.ggml.model missing");
    if (st) return st; /* not a string, or one with a NUL byte */
    ks_tok_type type;
    if (gguf_str_eq(model, "llama")) type = KS_TOK_SPM;
    else if (gguf_str_eq(model, "gpt2")) type = KS_TOK_BPE;
    else
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "tokenizer: model '%.*s' not supported (llama, gpt2)",
                          (int)(model.len > 64 ? 64 : model.len), model.ptr);
    st = gguf_get_str(g, "tokenizer.ggml.pre", &pre, err); /* a bad one must not fall back to "default" */
    if (st && st != KS_ERR_NOT_FOUND) return st;
    gguf_str tmpl; /* read by the model as a C string: not a string, or one with a NUL, is an error */
    st = gguf_get_str(g, "tokenizer.chat_template", &tmpl, err);
    if (st && st != KS_ERR_NOT_FOUND) return st;

    const gguf_value *tokens, *merges = NULL;
    if ((st = get_str_arr(g, "tokenizer.ggml.tokens", &tokens, true, err))) return st;
    if (tokens->v.arr.n == 0 || tokens->v.arr.n > TOK_MAX_VOCAB)
        return ks_err_set(err, tokens->v.arr.n ? KS_ERR_LIMIT : KS_ERR_FORMAT,
                          "tokenizer: %llu tokens (1..%d supported)", (unsigned long long)tokens->v.arr.n,
                          TOK_MAX_VOCAB);
    if (type == KS_TOK_BPE && (st = get_str_arr(g, "tokenizer.ggml.merges", &merges, true, err))) return st;

    ks_tokenizer *tok = tok_alloc((int32_t)tokens->v.arr.n);
    if (!tok) return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory");
    tok->type = type;
    if ((st = load_tokens(tok, g, tokens, err))) goto fail;
    if (type == KS_TOK_BPE) {
        if ((st = pretok_create(pre.ptr, (size_t)pre.len, &tok->pre, &tok->pre_flags, err))) goto fail;
        if ((st = load_merges(tok, merges, err))) goto fail;
        tok->bos = tok->eos = 11; /* llama.cpp's defaults for gpt2 when the file has no ids */
        tok->add_bos = tok->pre_flags.add_bos;
        if (tok->pre_flags.no_bos) tok->bos = -1;
    } else {
        spm_init(tok);
        tok->bos = 1;
        tok->eos = 2;
        tok->unk = 0;
        tok->add_bos = true;
        tok->add_space_prefix = true;
    }
    if ((st = get_flag(g, "tokenizer.ggml.add_space_prefix", &tok->add_space_prefix, err)) ||
        (st = get_ids(tok, g, err)) || (st = get_flag(g, "tokenizer.ggml.add_bos_token", &tok->add_bos, err)) ||
        (st = get_flag(g, "tokenizer.ggml.add_eos_token", &tok->add_eos, err)))
        goto fail;
    if ((tok->add_bos && tok->bos < 0) || (tok->add_eos && tok->eos < 0)) {
        st = ks_err_set(err, KS_ERR_FORMAT, "tokenizer: add_%s_token is set but the token id is missing",
                        tok->add_bos && tok->bos < 0 ? "bos" : "eos");
        goto fail;
    }
    vocab_mark_eog(tok);
    if ((st = vocab_finish(tok, err))) goto fail;
    *out = tok;
    return KS_OK;
fail:
    ks_tokenizer_free(tok);
    return st;
}

/* ---------------- llama2.c tokenizer.bin ---------------- */

static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static ks_status llama2c_parse_tokens(ks_tokenizer *tok, const uint8_t *d, size_t size, const char *path,
                                      ks_err *err) {
    if (size < 4) return ks_err_set(err, KS_ERR_TRUNCATED, "%s: %zu bytes, no header", path, size);
    size_t pos = 4;
    for (int32_t i = 0; i < tok->n_vocab; i++) {
        if (size - pos < 8)
            return ks_err_set(err, KS_ERR_TRUNCATED, "%s: token %d: header at offset %zu past end (%zu bytes)", path,
                              (int)i, pos, size);
        uint32_t sb = rd_u32(d + pos), lb = rd_u32(d + pos + 4);
        float score;
        memcpy(&score, &sb, 4);
        int32_t len = (int32_t)lb;
        pos += 8;
        if (len < 0 || (size_t)len > size - pos)
            return ks_err_set(err, KS_ERR_TRUNCATED, "%s: token %d: length %d at offset %zu, %zu bytes left", path,
                              (int)i, (int)len, pos - 4, size - pos);
        ks_status st = strtab_push(&tok->strs, (const char *)d + pos, (size_t)len, NULL);
        if (st) return ks_err_set(err, st, "%s: storing token %d", path, (int)i);
        pos += (size_t)len;
        tok->scores[i] = score;
        size_t tl;
        const char *t = strtab_str(&tok->strs, i, &tl);
        tok->attr[i] = byte_token_value(t, tl) >= 0 ? KS_TOKATTR_BYTE : KS_TOKATTR_NORMAL;
    }
    return KS_OK;
}

ks_status ks_tokenizer_from_llama2c_memory(const void *data, size_t size, int32_t vocab_size, const char *name,
                                           ks_tokenizer **out, ks_err *err) {
    *out = NULL;
    if (vocab_size < 3 || vocab_size > TOK_MAX_VOCAB)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "%s: vocab_size %d out of range (3..%d)", name, (int)vocab_size,
                          TOK_MAX_VOCAB);
    ks_tokenizer *tok = tok_alloc(vocab_size);
    if (!tok) return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory");
    tok->type = KS_TOK_SPM;
    tok->llama2c = true;
    ks_status st = llama2c_parse_tokens(tok, data, size, name, err);
    if (st) goto fail;
    tok->unk = 0;
    tok->bos = 1;
    tok->eos = 2;
    tok->attr[0] = KS_TOKATTR_UNKNOWN;
    tok->attr[1] = tok->attr[2] = KS_TOKATTR_CONTROL;
    tok->add_bos = true;
    tok->add_space_prefix = true;
    tok->eog[2] = 1;
    spm_init(tok);
    if ((st = vocab_finish(tok, err))) goto fail;
    *out = tok;
    return KS_OK;
fail:
    ks_tokenizer_free(tok);
    return st;
}

ks_status ks_tokenizer_from_llama2c(const char *path, int32_t vocab_size, ks_tokenizer **out, ks_err *err) {
    *out = NULL;
    ks_mapfile mf;
    ks_status st = ks_mapfile_open(&mf, path, err);
    if (st) return st;
    static const uint8_t empty[1];
    st = ks_tokenizer_from_llama2c_memory(mf.data ? mf.data : empty, mf.size, vocab_size, path, out, err);
    ks_mapfile_close(&mf);
    return st;
}

/* ---------------- accessors ---------------- */

int32_t ks_tokenizer_n_vocab(const ks_tokenizer *tok) { return tok->n_vocab; }
ks_tok_type ks_tokenizer_type(const ks_tokenizer *tok) { return tok->type; }
int32_t ks_tokenizer_bos(const ks_tokenizer *tok) { return tok->bos; }
int32_t ks_tokenizer_eos(const ks_tokenizer *tok) { return tok->eos; }
bool ks_tokenizer_add_bos(const ks_tokenizer *tok) { return tok->add_bos; }
bool ks_tokenizer_add_eos(const ks_tokenizer *tok) { return tok->add_eos; }

bool ks_token_is_eog(const ks_tokenizer *tok, int32_t id) {
    return id >= 0 && id < tok->n_vocab && tok->eog[id];
}

int32_t ks_token_attr(const ks_tokenizer *tok, int32_t id) {
    return id >= 0 && id < tok->n_vocab ? tok->attr[id] : 0;
}

int32_t ks_tokenizer_find(const ks_tokenizer *tok, const char *s, size_t len) {
    int32_t id = strtab_find(&tok->strs, s, len);
    return id < tok->n_vocab ? id : -1;
}
