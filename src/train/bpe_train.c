/* bpe_train.c - byte-level BPE training (kestrel_train.h ks_train_tokenizer), the algorithm of HF
 * tokenizers' BpeTrainer (tokenizers/src/models/bpe/trainer.rs) step for step, so that the same
 * files and settings give the same vocabulary and merges as ByteLevelBPETokenizer().train():
 *  - each file is read line by line, newline kept; each line is pre-tokenized (GPT-2's regex, or
 *    Llama 3's) and every piece mapped byte by byte to GPT-2's printable characters: a word;
 *  - vocabulary: the special tokens in order, then the 256 byte characters by code point;
 *  - pairs of adjacent symbols are counted over words x counts; a max-heap orders candidates by
 *    count, then by the smaller (left id, right id); an entry whose count went stale is re-pushed
 *    with the current count (lazy update) and carries the set of words it was seen in;
 *  - the top pair becomes a token (its strings concatenated; an existing string keeps its id) and a
 *    merge, is merged left to right in the entry's words, and the pairs that appear are pushed with
 *    the words they appeared in. The counter of the merged pair itself is left as it was, as HF
 *    leaves it; a pair merged twice keeps its last rank in the merges list (HF's map of merges).
 * Stops at vocab_size tokens or when the top count is below min_frequency.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/outfile.h"
#include "formats/gguf.h"
#include "kestrel_train.h"
#include "tokenizer/pretok_re.h"
#include "tokenizer/tok_impl.h"

uint32_t bpe_byte_to_cpt(uint8_t b); /* tokenizer/bpe.c: GPT-2's bytes_to_unicode */

#define KEY(a, b) ((uint64_t)(uint32_t)(a) << 32 | (uint32_t)(b))

/* ---- u64 -> i64 open-addressing map (keys never removed) ---- */
typedef struct u64map {
    uint64_t *keys; /* UINT64_MAX = empty */
    int64_t *vals;
    size_t n, cap;  /* cap a power of two */
} u64map;
static size_t mix(uint64_t k) {
    k ^= k >> 33, k *= 0xff51afd7ed558ccdULL, k ^= k >> 33;
    return (size_t)k;
}
static int64_t *map_slot(u64map *m, uint64_t key, bool insert) {
    if (insert && (m->n + 1) * 2 > m->cap) {
        u64map g = {malloc(sizeof(uint64_t) * (m->cap ? m->cap * 2 : 1024)), NULL, 0, m->cap ? m->cap * 2 : 1024};
        g.vals = malloc(sizeof(int64_t) * g.cap);
        if (!g.keys || !g.vals) return free(g.keys), free(g.vals), NULL;
        memset(g.keys, 0xff, sizeof(uint64_t) * g.cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i] != UINT64_MAX) *map_slot(&g, m->keys[i], true) = m->vals[i];
        free(m->keys), free(m->vals);
        *m = g;
    }
    if (!m->cap) return NULL;
    for (size_t i = mix(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) return &m->vals[i];
        if (m->keys[i] == UINT64_MAX) {
            if (!insert) return NULL;
            m->keys[i] = key, m->vals[i] = 0, m->n++;
            return &m->vals[i];
        }
    }
}
static void map_clear(u64map *m) {
    if (m->cap) memset(m->keys, 0xff, sizeof(uint64_t) * m->cap);
    m->n = 0;
}

/* ---- pair -> words where it appeared (HF's where_to_update) ---- */
typedef struct wlist {
    uint64_t key;
    int32_t *v;
    size_t n, cap;
} wlist;
typedef struct where {
    u64map idx; /* key -> index into l */
    wlist *l;
    size_t n, cap;
} where;
static bool where_add(where *w, uint64_t key, int32_t word) {
    int64_t *slot = map_slot(&w->idx, key, true);
    if (!slot) return false;
    if (w->idx.n > w->n) { /* new key: its list is n */
        if (w->n == w->cap) {
            wlist *nl = realloc(w->l, sizeof *nl * (w->cap = w->cap ? w->cap * 2 : 256));
            if (!nl) return false;
            w->l = nl;
        }
        *slot = (int64_t)w->n;
        w->l[w->n++] = (wlist){key, NULL, 0, 0};
    }
    wlist *l = &w->l[*slot];
    if (l->n && l->v[l->n - 1] == word) return true; /* a set: a word's changes come together */
    if (l->n == l->cap) {
        int32_t *nv = realloc(l->v, sizeof *nv * (l->cap = l->cap ? l->cap * 2 : 4));
        if (!nv) return false;
        l->v = nv;
    }
    l->v[l->n++] = word;
    return true;
}

/* ---- the candidate heap: max count, then smallest pair ---- */
typedef struct cand {
    uint64_t key;
    int64_t count;
    int32_t *pos; /* owned */
    size_t n_pos;
} cand;
typedef struct heap {
    cand *v;
    size_t n, cap;
} heap;
static bool above(const cand *a, const cand *b) { return a->count != b->count ? a->count > b->count : a->key < b->key; }
static bool heap_push(heap *h, cand c) {
    if (h->n == h->cap) {
        cand *nv = realloc(h->v, sizeof *nv * (h->cap = h->cap ? h->cap * 2 : 1024));
        if (!nv) return false;
        h->v = nv;
    }
    size_t i = h->n++;
    for (; i && above(&c, &h->v[(i - 1) / 2]); i = (i - 1) / 2) h->v[i] = h->v[(i - 1) / 2];
    h->v[i] = c;
    return true;
}
static cand heap_pop(heap *h) {
    cand top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && above(&h->v[c + 1], &h->v[c])) c++;
        if (!above(&h->v[c], &last)) break;
        h->v[i] = h->v[c], i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct trainer {
    tok_strtab vocab;    /* id -> string, string -> id */
    tok_strtab words;    /* distinct words (byte-level strings) */
    int64_t *wcount;     /* per distinct word */
    size_t wcount_cap;
    int32_t *sym;        /* all words' symbols, word i at sym + off[i], len[i] symbols */
    size_t *off, *len;
    u64map pairs;        /* pair -> count */
    where upd;
    heap q;
    int32_t *merges;     /* 3 per merge: left, right, result */
    size_t n_merges, merges_cap;
    ks_bpe_train_stats st;
} trainer;

/* counts the words of one line */
static ks_status count_line(trainer *t, const tok_pretok *pre, const char *line, size_t len, tok_spans *sp,
                            char *buf, ks_err *err) {
    sp->n = 0;
    ks_status s = pretok_split(pre, line, len, sp, err);
    for (size_t i = 0; i < sp->n && !s; i++) {
        size_t o = 0;
        for (size_t j = 0; j < sp->v[i].len; j++) { /* GPT-2 characters are below U+0800: 1 or 2 UTF-8 bytes */
            const uint32_t c = bpe_byte_to_cpt((uint8_t)line[sp->v[i].off + j]);
            if (c < 0x80) buf[o++] = (char)c;
            else buf[o++] = (char)(0xC0 | c >> 6), buf[o++] = (char)(0x80 | (c & 0x3F));
        }
        int32_t id;
        const int32_t before = t->words.n;
        if ((s = strtab_intern(&t->words, buf, o, &id))) break;
        if ((size_t)id >= t->wcount_cap) {
            int64_t *nc = realloc(t->wcount, sizeof *nc * (t->wcount_cap = t->wcount_cap * 2 + 1024));
            if (!nc) return ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory");
            t->wcount = nc;
        }
        if (id >= before) t->wcount[id] = 0;
        t->wcount[id]++, t->st.words++;
    }
    return s;
}

static ks_status read_files(trainer *t, const ks_bpe_train_params *p, const tok_pretok *pre,
                            ks_bpe_train_progress_fn cb, void *user, ks_err *err) {
    char *line = NULL, *buf = NULL;
    size_t cap = 0, bcap = 0;
    tok_spans sp = {0};
    ks_status s = KS_OK;
    uint64_t next = 0;
    for (size_t i = 0; i < p->n_inputs && !s; i++) {
        FILE *f = fopen(p->inputs[i], "rb");
        if (!f) {
            s = ks_err_set(err, KS_ERR_IO, "%s: %s", p->inputs[i], strerror(errno));
            break;
        }
        ssize_t len;
        while (!s && (len = getline(&line, &cap, f)) > 0) {
            if ((size_t)len * 2 > bcap) {
                char *nb = realloc(buf, bcap = (size_t)len * 2 + 256);
                if (!nb) {
                    s = ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory");
                    break;
                }
                buf = nb;
            }
            t->st.bytes_in += (uint64_t)len, t->st.lines++;
            s = count_line(t, pre, line, (size_t)len, &sp, buf, err);
            if (!s && cb && t->st.bytes_in >= next) {
                next = t->st.bytes_in + (4u << 20);
                t->st.distinct_words = (uint64_t)t->words.n;
                if (!cb(user, &t->st)) s = ks_err_set(err, KS_ERR_INVALID_ARG, "train-tokenizer: stopped");
            }
        }
        if (!s && ferror(f)) s = ks_err_set(err, KS_ERR_IO, "%s: read error", p->inputs[i]);
        fclose(f);
    }
    free(line), free(buf), free(sp.v);
    t->st.distinct_words = (uint64_t)t->words.n;
    return s;
}

/* UTF-8 length of the character at s */
static size_t u8len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

/* vocabulary (specials, then the 256 byte characters by code point) and each word's symbols */
static ks_status setup(trainer *t, const ks_bpe_train_params *p, ks_err *err) {
    ks_status s = KS_OK;
    for (size_t i = 0; i < p->n_special && !s; i++) {
        int32_t id;
        if (strtab_find(&t->vocab, p->special[i], strlen(p->special[i])) < 0)
            s = strtab_push(&t->vocab, p->special[i], strlen(p->special[i]), &id);
    }
    uint32_t cps[256];
    for (int b = 0; b < 256; b++) cps[b] = bpe_byte_to_cpt((uint8_t)b);
    for (int i = 1; i < 256; i++) /* insertion sort by code point */
        for (int j = i; j > 0 && cps[j - 1] > cps[j]; j--) {
            const uint32_t x = cps[j];
            cps[j] = cps[j - 1], cps[j - 1] = x;
        }
    for (int i = 0; i < 256 && !s; i++) {
        char u[2];
        const size_t n = cps[i] < 0x80 ? 1 : 2;
        if (n == 1) u[0] = (char)cps[i];
        else u[0] = (char)(0xC0 | cps[i] >> 6), u[1] = (char)(0x80 | (cps[i] & 0x3F));
        int32_t id;
        if (strtab_find(&t->vocab, u, n) < 0) s = strtab_push(&t->vocab, u, n, &id);
    }
    if (s) return s;
    const size_t nw = (size_t)t->words.n;
    size_t total = 0;
    t->off = malloc(sizeof(size_t) * (nw + 1)), t->len = malloc(sizeof(size_t) * (nw + 1));
    for (size_t w = 0; w < nw; w++) total += t->words.len[w];
    t->sym = malloc(sizeof(int32_t) * (total + 1));
    if (!t->off || !t->len || !t->sym) return ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory");
    size_t o = 0;
    for (size_t w = 0; w < nw; w++) {
        size_t n;
        const char *str = strtab_str(&t->words, (int32_t)w, &n);
        t->off[w] = o;
        for (size_t j = 0; j < n; j += u8len((unsigned char)str[j]))
            t->sym[o++] = strtab_find(&t->vocab, str + j, u8len((unsigned char)str[j]));
        t->len[w] = o - t->off[w];
    }
    return KS_OK;
}

/* pushes every pair of upd with a positive count, then empties upd */
static ks_status push_updates(trainer *t, ks_err *err) {
    for (size_t i = 0; i < t->upd.n; i++) {
        wlist *l = &t->upd.l[i];
        const int64_t c = *map_slot(&t->pairs, l->key, false);
        if (c > 0 && heap_push(&t->q, (cand){l->key, c, l->v, l->n})) l->v = NULL;
        else if (c > 0) return ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory");
        free(l->v);
    }
    t->upd.n = 0;
    map_clear(&t->upd.idx);
    return KS_OK;
}

static bool change(trainer *t, int32_t a, int32_t b, int delta, int32_t w) {
    int64_t *c = map_slot(&t->pairs, KEY(a, b), true);
    if (!c) return false;
    *c += delta * t->wcount[w];
    return delta < 0 || where_add(&t->upd, KEY(a, b), w);
}

/* Word::merge: every (c1, c2) left to right becomes repl; the pairs it breaks and makes */
static bool merge_word(trainer *t, int32_t w, int32_t c1, int32_t c2, int32_t repl) {
    int32_t *s = t->sym + t->off[w];
    size_t n = t->len[w];
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (s[i] != c1 || i + 1 >= n || s[i + 1] != c2) continue;
        const int32_t second = s[i + 1];
        if (i > 0) ok = change(t, s[i - 1], c1, -1, w) && change(t, s[i - 1], repl, 1, w);
        s[i] = repl;
        memmove(s + i + 1, s + i + 2, sizeof *s * (n - i - 2));
        n--;
        if (ok && i + 1 < n) ok = change(t, second, s[i + 1], -1, w) && change(t, repl, s[i + 1], 1, w);
    }
    t->len[w] = n;
    return ok;
}

static ks_status train_merges(trainer *t, const ks_bpe_train_params *p, ks_err *err) {
    const ks_status nomem = KS_ERR_NOMEM;
    for (size_t w = 0; w < (size_t)t->words.n; w++)
        for (size_t j = 0; j + 1 < t->len[w]; j++) {
            const int32_t *s = t->sym + t->off[w];
            int64_t *c = map_slot(&t->pairs, KEY(s[j], s[j + 1]), true);
            if (!c || !where_add(&t->upd, KEY(s[j], s[j + 1]), (int32_t)w))
                return ks_err_set(err, nomem, "train-tokenizer: out of memory");
            *c += t->wcount[w];
        }
    ks_status st = push_updates(t, err);
    char *cat = NULL;
    size_t cat_cap = 0;
    while (!st && t->vocab.n < p->vocab_size && t->q.n) {
        cand top = heap_pop(&t->q);
        const int64_t now = *map_slot(&t->pairs, top.key, false);
        if (top.count != now) {
            top.count = now;
            if (!heap_push(&t->q, top)) st = ks_err_set(err, nomem, "train-tokenizer: out of memory");
            continue;
        }
        if (top.count < 1 || p->min_frequency > top.count) {
            free(top.pos);
            break;
        }
        const int32_t a = (int32_t)(top.key >> 32), b = (int32_t)(uint32_t)top.key;
        size_t la, lb;
        const char *sa = strtab_str(&t->vocab, a, &la), *sb = strtab_str(&t->vocab, b, &lb);
        if (la + lb > cat_cap) {
            char *nc = realloc(cat, cat_cap = 2 * (la + lb));
            if (!nc) {
                free(top.pos);
                st = ks_err_set(err, nomem, "train-tokenizer: out of memory");
                break;
            }
            cat = nc;
        }
        memcpy(cat, sa, la), memcpy(cat + la, sb, lb); /* sa, sb may move when the table grows: copied first */
        int32_t id = strtab_find(&t->vocab, cat, la + lb);
        if (id < 0 && (st = strtab_push(&t->vocab, cat, la + lb, &id))) break;
        if (t->n_merges * 3 + 3 > t->merges_cap) {
            int32_t *nm = realloc(t->merges, sizeof *nm * (t->merges_cap = t->merges_cap * 2 + 3072));
            if (!nm) st = ks_err_set(err, nomem, "train-tokenizer: out of memory");
            else t->merges = nm;
        }
        if (!st) t->merges[3 * t->n_merges] = a, t->merges[3 * t->n_merges + 1] = b, t->merges[3 * t->n_merges + 2] = id;
        t->n_merges++;
        for (size_t i = 0; i < top.n_pos && !st; i++)
            if (!merge_word(t, top.pos[i], a, b, id)) st = ks_err_set(err, nomem, "train-tokenizer: out of memory");
        free(top.pos);
        if (!st) st = push_updates(t, err);
    }
    free(cat);
    t->st.merges = t->n_merges;
    return st;
}

/* HF keeps merges in a map pair -> (rank, id): a pair merged twice appears once, at its last rank.
 * last: an empty map the first call fills (freed by the caller). */
static bool merge_kept(const trainer *t, u64map *last, size_t i) {
    if (!last->n)
        for (size_t j = 0; j < t->n_merges; j++) {
            int64_t *l = map_slot(last, KEY(t->merges[3 * j], t->merges[3 * j + 1]), true);
            if (l) *l = (int64_t)j;
        }
    const int64_t *l = map_slot(last, KEY(t->merges[3 * i], t->merges[3 * i + 1]), false);
    return l && *l == (int64_t)i;
}

/* the tokenizer as a vocabulary-only GGUF (llama.cpp's tokenizer.ggml.* keys; the first special
 * token is EOS) that Kestrel loads as a tokenizer (prepare-data -m, train-export --tokenizer) */
static ks_status write_gguf(const trainer *t, const ks_bpe_train_params *p, bool llama3, ks_outfile *of,
                            ks_err *err) {
    const size_t nv = (size_t)t->vocab.n;
    char **strs = calloc(nv + t->n_merges, sizeof *strs);
    int32_t *types = malloc(nv * sizeof *types);
    gguf_writer *w = gguf_writer_new();
    ks_status s = strs && types && w ? KS_OK : ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory");
    u64map last = {0};
    size_t nm = 0;
    for (size_t i = 0; i < nv && !s; i++) {
        size_t n;
        const char *v = strtab_str(&t->vocab, (int32_t)i, &n);
        if (!(strs[i] = strndup(v, n))) s = ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory");
        types[i] = i < p->n_special ? 3 : 1; /* control, normal */
    }
    for (size_t i = 0; i < t->n_merges && !s; i++) {
        if (!merge_kept(t, &last, i)) continue;
        size_t na, nb;
        const char *a = strtab_str(&t->vocab, t->merges[3 * i], &na), *b = strtab_str(&t->vocab, t->merges[3 * i + 1], &nb);
        char *m = malloc(na + nb + 2);
        if (!m) s = ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory");
        else memcpy(m, a, na), m[na] = ' ', memcpy(m + na + 1, b, nb), m[na + nb + 1] = 0, strs[nv + nm++] = m;
    }
    if (!s && ((s = gguf_writer_set_str(w, "general.name", "kestrel train-tokenizer")) ||
               (s = gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2")) ||
               (s = gguf_writer_set_str(w, "tokenizer.ggml.pre", llama3 ? "llama-bpe" : "gpt-2")) ||
               (s = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)strs, nv)) ||
               (s = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, nv)) ||
               (s = gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)strs + nv, nm)) ||
               (s = gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false)) ||
               (p->n_special && (s = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 0)))))
        ks_err_set(err, s, "train-tokenizer: cannot build the GGUF");
    if (!s) s = gguf_writer_write(w, of, err);
    for (size_t i = 0; strs && i < nv + nm; i++) free(strs[i]);
    free(strs), free(types), free(last.keys), free(last.vals);
    gguf_writer_free(w);
    return s;
}

static cJSON *bytelevel(bool prefix, bool trim, bool regex) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "ByteLevel");
    cJSON_AddBoolToObject(o, "add_prefix_space", prefix);
    cJSON_AddBoolToObject(o, "trim_offsets", trim);
    cJSON_AddBoolToObject(o, "use_regex", regex);
    return o;
}

/* the tokenizer.json HF tokenizers writes for ByteLevelBPETokenizer (ours adds nothing else) */
static char *to_json(const trainer *t, const ks_bpe_train_params *p, bool llama3) {
    cJSON *root = cJSON_CreateObject(), *added = cJSON_CreateArray(), *model = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation"), cJSON_AddNullToObject(root, "padding");
    for (size_t i = 0; i < p->n_special; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", strtab_find(&t->vocab, p->special[i], strlen(p->special[i])));
        cJSON_AddStringToObject(a, "content", p->special[i]);
        cJSON_AddBoolToObject(a, "single_word", false), cJSON_AddBoolToObject(a, "lstrip", false);
        cJSON_AddBoolToObject(a, "rstrip", false), cJSON_AddBoolToObject(a, "normalized", false);
        cJSON_AddBoolToObject(a, "special", true);
        cJSON_AddItemToArray(added, a);
    }
    cJSON_AddItemToObject(root, "added_tokens", added);
    cJSON_AddNullToObject(root, "normalizer");
    if (llama3) {
        cJSON *seq = cJSON_CreateObject(), *list = cJSON_CreateArray(), *split = cJSON_CreateObject();
        cJSON *pat = cJSON_CreateObject();
        cJSON_AddStringToObject(seq, "type", "Sequence");
        cJSON_AddStringToObject(split, "type", "Split");
        cJSON_AddStringToObject(pat, "Regex", RE_LLAMA3);
        cJSON_AddItemToObject(split, "pattern", pat);
        cJSON_AddStringToObject(split, "behavior", "Isolated");
        cJSON_AddBoolToObject(split, "invert", false);
        cJSON_AddItemToArray(list, split);
        cJSON_AddItemToArray(list, bytelevel(false, true, false));
        cJSON_AddItemToObject(seq, "pretokenizers", list);
        cJSON_AddItemToObject(root, "pre_tokenizer", seq);
    } else {
        cJSON_AddItemToObject(root, "pre_tokenizer", bytelevel(false, true, true));
    }
    cJSON_AddItemToObject(root, "post_processor", bytelevel(true, false, true));
    cJSON_AddItemToObject(root, "decoder", bytelevel(true, true, true));
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout"), cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix"), cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", false), cJSON_AddBoolToObject(model, "byte_fallback", false);
    cJSON_AddBoolToObject(model, "ignore_merges", false);
    cJSON *vocab = cJSON_CreateObject(), *merges = cJSON_CreateArray();
    char *tmp = NULL, *tmp2 = NULL;
    for (int32_t i = 0; i < t->vocab.n; i++) {
        size_t n;
        const char *s = strtab_str(&t->vocab, i, &n);
        tmp = realloc(tmp, n + 1);
        if (tmp) memcpy(tmp, s, n), tmp[n] = 0, cJSON_AddNumberToObject(vocab, tmp, i);
    }
    u64map last = {0};
    for (size_t i = 0; i < t->n_merges; i++) {
        if (!merge_kept(t, &last, i)) continue;
        size_t na, nb;
        const char *sa = strtab_str(&t->vocab, t->merges[3 * i], &na), *sb = strtab_str(&t->vocab, t->merges[3 * i + 1], &nb);
        tmp = realloc(tmp, na + 1), tmp2 = realloc(tmp2, nb + 1);
        if (!tmp || !tmp2) break;
        memcpy(tmp, sa, na), tmp[na] = 0, memcpy(tmp2, sb, nb), tmp2[nb] = 0;
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(tmp)), cJSON_AddItemToArray(pair, cJSON_CreateString(tmp2));
        cJSON_AddItemToArray(merges, pair);
    }
    free(last.keys), free(last.vals), free(tmp), free(tmp2);
    cJSON_AddItemToObject(model, "vocab", vocab), cJSON_AddItemToObject(model, "merges", merges);
    cJSON_AddItemToObject(root, "model", model);
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    return out;
}

ks_status ks_train_tokenizer(const ks_bpe_train_params *p, ks_bpe_train_progress_fn cb, void *user,
                             ks_bpe_train_stats *stats, ks_err *err) {
    const char *pname = p->pretok && *p->pretok ? p->pretok : "gpt-2";
    const bool llama3 = !strcmp(pname, "llama3");
    if (!llama3 && strcmp(pname, "gpt-2"))
        return ks_err_set(err, KS_ERR_INVALID_ARG, "train-tokenizer: pre-tokenizer '%.32s' (gpt-2 or llama3)", pname);
    if (p->vocab_size < (int64_t)p->n_special + 256 || p->vocab_size > INT32_MAX / 4)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "train-tokenizer: a vocabulary of %lld is smaller than the %zu "
                          "special tokens plus 256 byte symbols", (long long)p->vocab_size, p->n_special);
    if (!p->n_inputs || !p->out_path)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "train-tokenizer: needs input files and an output path");
    tok_pretok *pre = NULL;
    tok_pre_flags flags;
    ks_status s = pretok_create(pname, strlen(pname), &pre, &flags, err);
    if (s) return s;
    trainer t = {0};
    ks_outfile of = {0};
    char *json = NULL;
    if ((s = ks_outfile_open(&of, p->out_path, p->inputs, p->n_inputs, err))) goto done;
    if ((s = read_files(&t, p, pre, cb, user, err))) goto done;
    if (!t.words.n) {
        s = ks_err_set(err, KS_ERR_INVALID_ARG, "train-tokenizer: the corpus is empty");
        goto done;
    }
    if ((s = setup(&t, p, err)) || (s = train_merges(&t, p, err))) goto done;
    const size_t lo = strlen(p->out_path);
    if (lo > 5 && !strcmp(p->out_path + lo - 5, ".gguf")) {
        s = write_gguf(&t, p, llama3, &of, err);
    } else if (!(json = to_json(&t, p, llama3))) {
        s = ks_err_set(err, KS_ERR_NOMEM, "train-tokenizer: out of memory writing JSON");
        goto done;
    } else {
        s = ks_outfile_write(&of, json, strlen(json), err);
    }
    if (!s) s = ks_outfile_commit(&of, err);
    if (cb) cb(user, &t.st);
done:
    ks_outfile_discard(&of);
    if (stats) *stats = t.st;
    free(json);
    pretok_free(pre);
    strtab_free(&t.vocab), strtab_free(&t.words);
    free(t.wcount), free(t.sym), free(t.off), free(t.len), free(t.merges);
    free(t.pairs.keys), free(t.pairs.vals), free(t.upd.idx.keys), free(t.upd.idx.vals);
    for (size_t i = 0; i < t.upd.n; i++) free(t.upd.l[i].v);
    free(t.upd.l);
    for (size_t i = 0; i < t.q.n; i++) free(t.q.v[i].pos);
    free(t.q.v);
    return s;
}
