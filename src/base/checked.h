/* checked.h - overflow-checked size arithmetic and one checked growable array.
 *
 * Every size computed from input (file headers, command-line flags, requests,
 * text of any length) goes through these: a product or sum that does not fit
 * is reported, never wrapped. KS_RESERVE is the one grow-by-doubling push of
 * the tree: callers keep (pointer, length, capacity) and ask for room first. */
#ifndef KS_CHECKED_H
#define KS_CHECKED_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* *out = a * b; false (and *out unspecified) if the product does not fit in size_t */
static inline bool ks_mul_size(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
/* *out = a + b; false if the sum does not fit in size_t */
static inline bool ks_add_size(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }
/* *out = a * b for signed 64-bit counts; false on overflow */
static inline bool ks_mul_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }
/* *out = a + b for signed 64-bit counts; false on overflow */
static inline bool ks_add_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }

/* Makes room for len + extra elements of elem_size bytes in the malloc'ed array
 * *(void **)pdata of capacity *cap elements, by doubling (at least 16 elements).
 * Returns true with the array grown (or already large enough); false if a size
 * overflows, exceeds PTRDIFF_MAX or realloc fails, leaving the array and *cap unchanged (still owned
 * by the caller). pdata is the address of the caller's pointer (any object type). */
bool ks_reserve_impl(void *pdata, size_t *cap, size_t len, size_t extra, size_t elem_size);
/* KS_RESERVE(ptr, cap, len, extra): ks_reserve_impl for a typed pointer variable ptr */
#define KS_RESERVE(ptr, cap, len, extra) ks_reserve_impl(&(ptr), &(cap), (len), (extra), sizeof *(ptr))
#endif
