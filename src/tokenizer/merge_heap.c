/* merge_heap.c - the binary min-heap of candidate merges shared by BPE and SPM. */
#include <stdlib.h>

#include "base/checked.h"
#include "tokenizer/tok_impl.h"

static bool before(const tok_bigram *x, const tok_bigram *y) {
    return x->key < y->key || (x->key == y->key && x->left < y->left);
}

ks_status tok_heap_push(tok_heap *h, tok_bigram g) {
    if (!KS_RESERVE(h->v, h->cap, h->n, 1)) return KS_ERR_NOMEM;
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&g, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = g;
    return KS_OK;
}

tok_bigram tok_heap_pop(tok_heap *h) {
    tok_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n) h->v[i] = last;
    return top;
}
