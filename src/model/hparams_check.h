/* hparams_check.h - family-independent validation of a loaded model's
 * hyperparameters (ks_hparams), run once after the family loader filled them.
 * A value out of range (a NaN epsilon, a zero RoPE base, a context of 0)
 * would load silently and make every logit NaN; here it is an error naming the
 * GGUF key and the value. */
#ifndef KS_HPARAMS_CHECK_H
#define KS_HPARAMS_CHECK_H
#include "model/model.h"

/* Checks every field of hp: integers positive and within the loaders' limits,
 * heads dividing, RoPE dims even and within the head; floats finite and in
 * range (norm epsilon in (0, 1], RoPE base > 0). Keys are named as
 * "<arch_name>.<suffix>" (arch_name NULL: "model"). KS_OK, or KS_ERR_FORMAT
 * with err naming the first bad key and its value; hp is not modified. */
ks_status ks_hparams_check(const ks_hparams *hp, const char *arch_name, ks_err *err);
/* The same checks for the fields a family loader reads first (sizes, heads, context: every
 * integer but vocab_size, key_length and rope.dimension_count), for the loader to run before it
 * derives anything from them, so a bad value is reported by its key. */
ks_status ks_hparams_check_base(const ks_hparams *hp, const char *arch_name, ks_err *err);
#endif
