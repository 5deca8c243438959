/* fuzz_model.c - libFuzzer target: a whole model file from arbitrary bytes, GGUF
 * or (any other magic) a llama2.c checkpoint with the tok512 tokenizer: loading
 * (hyperparameters against tensor shapes and types), a small context, and two
 * decodes. The bytes go to a temporary file because the model loader maps a
 * path, as the CLI does. $KS_FUZZ_L2C_TOKENIZER overrides the tokenizer path. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/model.h"

static char path[64];
static const char *l2c_tokenizer;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    snprintf(path, sizeof path, "/tmp/ks-fuzz-model-%ld.bin", (long)getpid());
    l2c_tokenizer = getenv("KS_FUZZ_L2C_TOKENIZER");
    if (!l2c_tokenizer) l2c_tokenizer = "../shared/testdata/llama2c/tok512.bin";
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort(); /* the harness, not the input, is broken */
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    ks_model *m = NULL;
    ks_err err;
    if (ks_model_load(path, l2c_tokenizer, &m, &err) == KS_OK) {
        ks_context_params p = ks_context_default_params();
        p.n_ctx = 4, p.n_batch = 4, p.n_threads = 1;
        ks_context *c = NULL;
        if (ks_context_new(m, &p, &c, &err) == KS_OK) {
            const int32_t ids[2] = {0, (int32_t)(m->hp.n_vocab > 1)};
            ks_decode(c, ids, 2, 0, true, &err);
            ks_decode(c, ids, 1, 2, false, &err);
            ks_context_free(c);
        }
        ks_model_free(m);
    }
    unlink(path);
    return 0;
}
