/* progress.h - the progress callback of long library calls (kestrel.h's
 * ks_progress_fn), reachable from deep loops without threading it through every
 * signature: the public entry point installs it for the calling thread
 * (thread-local), loops report fractions, and a false from the callback is
 * remembered until ks_progress_end. Reports from other threads are ignored. */
#ifndef KS_PROGRESS_H
#define KS_PROGRESS_H
#include "kestrel.h"

/* Installs fn (NULL: none) for this thread; reports map into [0, 1]. */
void ks_progress_begin(ks_progress_fn fn, void *user_data);
void ks_progress_end(void);
/* The window reports map into, [lo, hi] of the whole. */
typedef struct ks_progress_window {
    float lo, hi;
} ks_progress_window;
/* Narrows the window to its part [a, b] (a phase of the work); returns the old one. */
ks_progress_window ks_progress_sub(float a, float b);
void ks_progress_restore(ks_progress_window w);
/* Reports a fraction of the current phase; false once the callback has asked to stop. */
bool ks_progress_report(double f);
#endif
