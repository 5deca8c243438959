/* progress.c - see progress.h. */
#include "base/progress.h"

static _Thread_local struct {
    ks_progress_fn fn;
    void *ud;
    float lo, hi;
    bool stopped;
} cur;

void ks_progress_begin(ks_progress_fn fn, void *user_data) {
    cur.fn = fn, cur.ud = user_data, cur.lo = 0.0f, cur.hi = 1.0f, cur.stopped = false;
}
void ks_progress_end(void) { cur.fn = NULL, cur.ud = NULL, cur.stopped = false; }
ks_progress_window ks_progress_sub(float a, float b) {
    const ks_progress_window old = {cur.lo, cur.hi};
    cur.lo = old.lo + a * (old.hi - old.lo), cur.hi = old.lo + b * (old.hi - old.lo);
    return old;
}
void ks_progress_restore(ks_progress_window w) { cur.lo = w.lo, cur.hi = w.hi; }

bool ks_progress_report(double f) {
    if (cur.stopped) return false;
    if (!cur.fn) return true;
    f = f < 0 ? 0 : f > 1 ? 1 : f;
    if (!cur.fn(cur.lo + (float)f * (cur.hi - cur.lo), cur.ud)) cur.stopped = true;
    return !cur.stopped;
}
