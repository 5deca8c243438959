/* cmd_quantize.c - `kestrel quantize IN OUT.gguf TYPE` (TYPE: Q8_0, Q4_0, Q4_1, F16, BF16, F32).
 * IN is a GGUF file, or a Hugging Face model folder: that is first converted to a
 * temporary F32 GGUF beside OUT (OUT.convert-f32, deleted afterwards), then quantized. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/hf.h"
#include "model/quantize.h"
#include "tensor/dtype.h"

/* IN as a GGUF path: IN itself, or a temporary F32 conversion of the folder IN
 * (*tmp set, owned, the caller removes and frees it). NULL on failure (printed). */
static const char *gguf_input(const char *in, const char *out, char **tmp) {
    *tmp = NULL;
    if (!ks_hf_is_dir(in)) return in;
    const size_t n = strlen(out);
    if (!(*tmp = malloc(n + sizeof ".convert-f32"))) return NULL;
    memcpy(*tmp, out, n);
    memcpy(*tmp + n, ".convert-f32", sizeof ".convert-f32");
    ks_err err = {0};
    ks_hf_convert_stats st;
    if (ks_hf_convert(in, *tmp, KS_DTYPE_F32, &st, &err)) {
        cli_fail(&err);
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    cli_report_convert(in, *tmp, &st);
    return *tmp;
}

int cli_quantize(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: kestrel quantize IN.gguf|HF_DIR OUT.gguf TYPE   (TYPE: Q8_0, Q4_0, Q4_1, F16, BF16, F32)\n");
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "kestrel quantize: expected IN.gguf|HF_DIR OUT.gguf TYPE\n");
        return 2;
    }
    const int type = ks_quantize_type_from_name(argv[3]);
    if (type < 0) {
        fprintf(stderr, "kestrel quantize: unknown type '%s' (Q8_0, Q4_0, Q4_1, F16, BF16, F32)\n", argv[3]);
        return 2;
    }
    if (!strcmp(argv[1], argv[2])) {
        fprintf(stderr, "kestrel quantize: output would overwrite the input\n");
        return 2;
    }
    char *tmp;
    const char *in = gguf_input(argv[1], argv[2], &tmp);
    if (!in) return 1;
    ks_err err = {0};
    ks_quantize_stats st;
    const ks_status s = ks_quantize_file(in, argv[2], type, &st, &err);
    if (tmp) remove(tmp);
    free(tmp);
    if (s) return cli_fail(&err);
    fprintf(stderr, "kestrel: %lld tensors (%lld converted), %.2f MiB -> %.2f MiB\n", (long long)st.n_tensors,
            (long long)st.n_quantized, st.bytes_in / 1048576.0, st.bytes_out / 1048576.0);
    return 0;
}
