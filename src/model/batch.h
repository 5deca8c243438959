/* batch.h - the tokens of one forward pass: (token, position, sequences, wants-logits)
 * for any number of sequences, as llama.cpp's llama_batch.
 *
 * Token i belongs to the sequences in seq[i] (a bitset; its cell is shared by all of
 * them) and attends as sequence seq_first[i]. Arrays are owned, sized at ks_batch_init.
 */
#ifndef KS_BATCH_H
#define KS_BATCH_H
#include <stdint.h>

#include "kestrel.h"

/* ks_batch and its functions are public: kestrel.h */

#endif
