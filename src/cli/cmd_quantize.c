/* cmd_quantize.c - `kestrel quantize IN.gguf OUT.gguf TYPE` (TYPE: see ks_quantize_type_names). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "model/quantize.h"

int cli_quantize(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: kestrel quantize IN.gguf OUT.gguf TYPE   (TYPE: %s)\n", ks_quantize_type_names());
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "kestrel quantize: expected IN.gguf OUT.gguf TYPE\n");
        return 2;
    }
    const int type = ks_quantize_type_from_name(argv[3]);
    if (type < 0) {
        fprintf(stderr, "kestrel quantize: unknown type '%s' (%s)\n", argv[3], ks_quantize_type_names());
        return 2;
    }
    if (!strcmp(argv[1], argv[2])) {
        fprintf(stderr, "kestrel quantize: output would overwrite the input\n");
        return 2;
    }
    ks_err err = {0};
    ks_quantize_stats st;
    if (ks_quantize_file(argv[1], argv[2], type, &st, &err)) return cli_fail(&err);
    fprintf(stderr, "kestrel: %lld tensors (%lld converted), %.2f MiB -> %.2f MiB\n", (long long)st.n_tensors,
            (long long)st.n_quantized, st.bytes_in / 1048576.0, st.bytes_out / 1048576.0);
    return 0;
}
