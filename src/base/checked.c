/* checked.c - the checked growable array of checked.h. */
#include "base/checked.h"

#include <stdlib.h>
#include <string.h>

bool ks_reserve_impl(void *pdata, size_t *cap, size_t len, size_t extra, size_t elem_size) {
    size_t need, bytes;
    if (!ks_add_size(len, extra, &need)) return false;
    if (need <= *cap) return true;
    size_t nc = *cap < 16 ? 16 : *cap;
    while (nc < need) nc = nc > SIZE_MAX / 2 ? need : nc * 2;
    if (!ks_mul_size(nc, elem_size, &bytes) || bytes > PTRDIFF_MAX) {
        nc = need; /* doubling overshot: the exact size may still fit */
        if (!ks_mul_size(nc, elem_size, &bytes) || bytes > PTRDIFF_MAX) return false; /* no object is larger */
    }
    void *old;
    memcpy(&old, pdata, sizeof old);
    void *p = realloc(old, bytes ? bytes : 1);
    if (!p) return false;
    memcpy(pdata, &p, sizeof p);
    *cap = nc;
    return true;
}
