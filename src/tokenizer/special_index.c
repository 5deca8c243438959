/* special_index.c - the special-token index (tok_spx) and the partition of a text into special
 * tokens and raw fragments in time near-linear in the text.
 *
 * Semantics (llama.cpp's tokenizer_st_partition, see special.c): special tokens in priority order
 * (longest text first, then lowest id) each claim, left to right, every occurrence that lies
 * wholly in text not yet claimed. Equivalently: over all occurrences ordered by (priority,
 * position), an occurrence is claimed if it overlaps no claimed one. llama.cpp scans the whole
 * text once per special token (O(#specials x text)); here the tokens of one text length form a
 * level, and each level scans only the unclaimed fragments once, with an Aho-Corasick automaton
 * of that level's strings. The cost is O(text x #distinct lengths + occurrences log occurrences).
 *
 * Within a level every string has the same length L, so an automaton state of depth L is a match,
 * and two occurrences overlap iff one contains the other's first or last byte: a bitmap of claimed
 * bytes decides each occurrence in O(1) once the level's occurrences are sorted by priority.
 * Node terminals keep the lowest-priority-rank token of that text (rank = index in tok->special)
 * twice: among all specials, and among user-defined ones only (the text of a control token may be
 * claimed by a user-defined duplicate in a fragment that does not parse control tokens). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "tokenizer/tok_impl.h"

typedef struct spx_level {
    size_t len;          /* text length of every string of the level */
    size_t k0;           /* first rank (index in tok->special) of the level */
    int32_t root;
    bool has_plain;      /* a user-defined token (matched without parse_special) */
    int32_t root_next[256]; /* the root's transitions (the root itself where none) */
} spx_level;

struct tok_spx {
    spx_level *levels;
    size_t n_levels;
    int32_t *fail, *term_any, *term_plain; /* per node; terms are ranks, -1 if none */
    uint32_t *depth;
    size_t n_nodes, cap_nodes;
    uint64_t *hkey; /* edges: (node << 8 | byte) + 1, 0 empty */
    int32_t *hval;
    size_t hmask;
};

static size_t edge_slot(const tok_spx *x, uint64_t key) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & x->hmask;
}

static int32_t child(const tok_spx *x, int32_t node, uint8_t c) {
    const uint64_t key = ((uint64_t)node << 8 | c) + 1;
    for (size_t h = edge_slot(x, key);; h = (h + 1) & x->hmask) {
        if (x->hkey[h] == key) return x->hval[h];
        if (!x->hkey[h]) return -1;
    }
}

static void edge_put(tok_spx *x, int32_t node, uint8_t c, int32_t to) {
    const uint64_t key = ((uint64_t)node << 8 | c) + 1;
    size_t h = edge_slot(x, key);
    while (x->hkey[h]) h = (h + 1) & x->hmask;
    x->hkey[h] = key, x->hval[h] = to;
}

static int32_t node_new(tok_spx *x, uint32_t depth) {
    size_t c1 = x->cap_nodes, c2 = c1, c3 = c1, c4 = c1;
    if (!KS_RESERVE(x->fail, c1, x->n_nodes, 1) || !KS_RESERVE(x->term_any, c2, x->n_nodes, 1) ||
        !KS_RESERVE(x->term_plain, c3, x->n_nodes, 1) || !KS_RESERVE(x->depth, c4, x->n_nodes, 1))
        return -1;
    x->cap_nodes = c1; /* all four grew alike from the same capacity */
    const int32_t n = (int32_t)x->n_nodes++;
    x->fail[n] = 0, x->term_any[n] = x->term_plain[n] = -1, x->depth[n] = depth;
    return n;
}

void tok_spx_free(tok_spx *x) {
    if (!x) return;
    free(x->levels), free(x->fail), free(x->term_any), free(x->term_plain), free(x->depth);
    free(x->hkey), free(x->hval), free(x);
}

/* root_next and the fail links of the level rooted at root; order: its other n nodes by depth */
static void level_links(tok_spx *x, spx_level *lv, int32_t root, const int32_t *order, size_t n,
                        const int32_t *parent, const uint8_t *pbyte) {
    for (int c = 0; c < 256; c++) {
        const int32_t ch = child(x, root, (uint8_t)c);
        lv->root_next[c] = ch >= 0 ? ch : root;
    }
    for (size_t i = 0; i < n; i++) {
        const int32_t v = order[i], p = parent[v - root];
        if (p == root) {
            x->fail[v] = root;
            continue;
        }
        int32_t f = x->fail[p], ch;
        while (f != root && (ch = child(x, f, pbyte[v - root])) < 0) f = x->fail[f];
        x->fail[v] = f == root ? lv->root_next[pbyte[v - root]] : ch;
    }
}

/* Adds the level of ranks [k0, k1) (one text length L > 0) to x. */
static ks_status level_build(tok_spx *x, const ks_tokenizer *tok, size_t k0, size_t k1, size_t L) {
    spx_level *lv = &x->levels[x->n_levels++];
    *lv = (spx_level){.len = L, .k0 = k0};
    const int32_t root = node_new(x, 0);
    if (root < 0) return KS_ERR_NOMEM;
    lv->root = root;
    size_t cap_p = 0, cap_b = 0;
    int32_t *parent = NULL;
    uint8_t *pbyte = NULL;
    ks_status st = KS_OK;
    for (size_t k = k0; k < k1 && !st; k++) {
        const int32_t id = tok->special[k];
        const char *t = strtab_str(&tok->strs, id, &L);
        int32_t v = root;
        for (size_t j = 0; j < L && !st; j++) {
            int32_t ch = child(x, v, (uint8_t)t[j]);
            if (ch < 0) {
                const size_t rel = x->n_nodes - (size_t)root;
                if ((ch = node_new(x, (uint32_t)j + 1)) < 0 || !KS_RESERVE(parent, cap_p, rel, 1) ||
                    !KS_RESERVE(pbyte, cap_b, rel, 1)) {
                    st = KS_ERR_NOMEM;
                    break;
                }
                parent[rel] = v, pbyte[rel] = (uint8_t)t[j];
                edge_put(x, v, (uint8_t)t[j], ch);
            }
            v = ch;
        }
        const bool plain = tok->attr[id] != KS_TOKATTR_CONTROL && tok->attr[id] != KS_TOKATTR_UNKNOWN;
        if (!st && x->term_any[v] < 0) x->term_any[v] = (int32_t)k;
        if (!st && plain && x->term_plain[v] < 0) x->term_plain[v] = (int32_t)k, lv->has_plain = true;
    }
    /* nodes in order of depth (counting sort), then the links */
    const size_t n = x->n_nodes - (size_t)root - 1;
    int32_t *order = st ? NULL : malloc((n + 1) * sizeof *order);
    size_t *count = st ? NULL : calloc(L + 2, sizeof *count);
    if (!st && (!order || !count)) st = KS_ERR_NOMEM;
    if (!st) {
        for (size_t i = 1; i <= n; i++) count[x->depth[(size_t)root + i]]++;
        for (size_t d = 1, sum = 0; d <= L + 1; d++) {
            const size_t c = count[d];
            count[d] = sum, sum += c;
        }
        for (size_t i = 1; i <= n; i++) order[count[x->depth[(size_t)root + i]]++] = root + (int32_t)i;
        level_links(x, lv, root, order, n, parent, pbyte);
    }
    free(order), free(count), free(parent), free(pbyte);
    return st;
}

ks_status tok_spx_build(const ks_tokenizer *tok, tok_spx **out) {
    *out = NULL;
    tok_spx *x = calloc(1, sizeof *x);
    size_t total = 0, n_levels = 0, prev = 0;
    for (size_t k = 0; x && k < tok->n_special; k++) {
        size_t L;
        strtab_str(&tok->strs, tok->special[k], &L);
        if (L && L != prev) n_levels++;
        prev = L;
        if (!ks_add_size(total, L, &total)) return tok_spx_free(x), KS_ERR_NOMEM;
    }
    size_t slots = 16, edges;
    if (!x || !ks_add_size(total, n_levels, &edges) || edges > (SIZE_MAX >> 4) || edges > INT32_MAX / 2)
        return tok_spx_free(x), KS_ERR_NOMEM;
    while (slots < 2 * edges) slots *= 2;
    x->hkey = calloc(slots, sizeof *x->hkey), x->hval = malloc(slots * sizeof *x->hval), x->hmask = slots - 1;
    x->levels = calloc(n_levels ? n_levels : 1, sizeof *x->levels);
    ks_status st = x->hkey && x->hval && x->levels ? KS_OK : KS_ERR_NOMEM;
    for (size_t k0 = 0, k1; k0 < tok->n_special && !st; k0 = k1) {
        size_t L, L1;
        strtab_str(&tok->strs, tok->special[k0], &L);
        for (k1 = k0 + 1; k1 < tok->n_special && (strtab_str(&tok->strs, tok->special[k1], &L1), L1 == L);) k1++;
        if (L) st = level_build(x, tok, k0, k1, L);
    }
    if (st) return tok_spx_free(x), st;
    *out = x;
    return KS_OK;
}

/* ---- partition ---- */

typedef struct u64s {
    uint64_t *v;
    size_t n, cap;
} u64s;

static int cmp_u64(const void *a, const void *b) {
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_frag_off(const void *a, const void *b) {
    const size_t x = ((const tok_frag *)a)->off, y = ((const tok_frag *)b)->off;
    return x < y ? -1 : x > y;
}

static bool frags_add(tok_frags *f, tok_frag v) {
    if (!KS_RESERVE(f->v, f->cap, f->n, 1)) return false;
    f->v[f->n++] = v;
    return true;
}

#define OCC_POS_BITS 40 /* an occurrence: (rank in level << 40) | start; texts below 1 TiB */

/* the state after reading c in state s of level lv (Aho-Corasick goto with failure links) */
static inline int32_t step(const tok_spx *x, const spx_level *lv, int32_t s, uint8_t c) {
    for (;;) {
        if (s == lv->root) return lv->root_next[c];
        const int32_t ch = child(x, s, c);
        if (ch >= 0) return ch;
        s = x->fail[s];
    }
}

/* Occurrences of level lv in the free fragments, as (rank - k0) << OCC_POS_BITS | start, sorted. */
static bool level_scan(const tok_spx *x, const spx_level *lv, const uint8_t *text, const tok_frags *fr, u64s *occ) {
    const size_t L = lv->len;
    bool sorted = true;
    occ->n = 0;
    for (size_t i = 0; i < fr->n; i++) {
        const tok_frag *f = &fr->v[i];
        if (f->len < L || (!f->parse_special && !lv->has_plain)) continue;
        const int32_t *term = f->parse_special ? x->term_any : x->term_plain;
        int32_t s = lv->root;
        for (size_t j = f->off; j < f->off + f->len; j++) {
            s = step(x, lv, s, text[j]);
            if (x->depth[s] != L || term[s] < 0) continue;
            const uint64_t o = (uint64_t)((size_t)term[s] - lv->k0) << OCC_POS_BITS | (uint64_t)(j + 1 - L);
            if (occ->n && o < occ->v[occ->n - 1]) sorted = false;
            if (!KS_RESERVE(occ->v, occ->cap, occ->n, 1)) return false;
            occ->v[occ->n++] = o;
        }
    }
    if (!sorted) qsort(occ->v, occ->n, sizeof *occ->v, cmp_u64);
    return true;
}

static inline bool bit_get(const uint64_t *b, size_t i) { return b[i >> 6] >> (i & 63) & 1; }

/* Claims the level's occurrences greedily into claims (by position); fr becomes the fragments left. */
static bool level_claim(const ks_tokenizer *tok, const spx_level *lv, const u64s *occ, uint64_t *covered,
                        tok_frags *fr, tok_frags *claims, tok_frags *tmp) {
    const size_t L = lv->len, first = claims->n;
    bool sorted = true;
    for (size_t i = 0; i < occ->n; i++) {
        const size_t s = (size_t)(occ->v[i] & (((uint64_t)1 << OCC_POS_BITS) - 1));
        if (bit_get(covered, s) || bit_get(covered, s + L - 1)) continue;
        for (size_t b = s; b < s + L; b++) covered[b >> 6] |= (uint64_t)1 << (b & 63);
        const int32_t id = tok->special[lv->k0 + (size_t)(occ->v[i] >> OCC_POS_BITS)];
        if (claims->n > first && s < claims->v[claims->n - 1].off) sorted = false;
        if (!frags_add(claims, (tok_frag){id, s, L, false})) return false;
    }
    tok_frag *c = claims->v + first;
    const size_t nc = claims->n - first;
    if (!nc) return true;
    if (!sorted) qsort(c, nc, sizeof *c, cmp_frag_off);
    tmp->n = 0; /* split the fragments at the claims, both in text order */
    for (size_t i = 0, j = 0; i < fr->n; i++) {
        size_t a = fr->v[i].off;
        const size_t end = a + fr->v[i].len;
        for (; j < nc && c[j].off < end; j++) {
            if (c[j].off > a && !frags_add(tmp, (tok_frag){-1, a, c[j].off - a, fr->v[i].parse_special})) return false;
            a = c[j].off + L;
        }
        if (a < end && !frags_add(tmp, (tok_frag){-1, a, end - a, fr->v[i].parse_special})) return false;
    }
    const tok_frags sw = *fr;
    *fr = *tmp, *tmp = sw;
    return true;
}

ks_status tok_partition(const ks_tokenizer *tok, const char *text, size_t len, const ks_tok_segment *segs,
                        size_t n_segs, tok_frags *out) {
    tok_frags fr = {0}, claims = {0}, tmp = {0};
    u64s occ = {0};
    uint64_t *covered = NULL;
    bool ok = true, any_parse = false;
    out->n = 0;
    if (len >> OCC_POS_BITS) return KS_ERR_LIMIT;
    for (size_t i = 0; i < n_segs && ok; i++) {
        if (segs[i].len) ok = frags_add(&fr, (tok_frag){-1, segs[i].off, segs[i].len, segs[i].parse_special});
        any_parse |= segs[i].parse_special;
    }
    const tok_spx *x = tok->spx;
    for (size_t l = 0; x && l < x->n_levels && ok && fr.n; l++) {
        const spx_level *lv = &x->levels[l];
        if (lv->len > len || (!any_parse && !lv->has_plain)) continue;
        if (!(ok = level_scan(x, lv, (const uint8_t *)text, &fr, &occ)) || !occ.n) continue;
        if (!covered && !(covered = calloc(len / 64 + 1, sizeof *covered))) ok = false;
        if (ok) ok = level_claim(tok, lv, &occ, covered, &fr, &claims, &tmp);
    }
    if (ok && claims.n > 1) qsort(claims.v, claims.n, sizeof *claims.v, cmp_frag_off);
    for (size_t i = 0, j = 0; ok && (i < fr.n || j < claims.n);) { /* both in text order: merge */
        const bool raw = j == claims.n || (i < fr.n && fr.v[i].off < claims.v[j].off);
        ok = frags_add(out, raw ? fr.v[i++] : claims.v[j++]);
    }
    free(fr.v), free(claims.v), free(tmp.v), free(occ.v), free(covered);
    return ok ? KS_OK : KS_ERR_NOMEM;
}
