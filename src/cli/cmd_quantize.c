/* cmd_quantize.c - `kestrel quantize IN OUT.gguf TYPE` (TYPE: Q8_0, Q4_0, Q4_1, F16, BF16, F32).
 * IN is a GGUF file, or a Hugging Face model folder: that is first converted to a
 * temporary F32 GGUF beside OUT (a hidden ".OUT.XXXXXX", removed afterwards, on
 * failure and on SIGINT/SIGTERM), then quantized. OUT is checked against every
 * input before any work (kestrel.h's output policy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_quantize(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: kestrel quantize IN.gguf|HF_DIR OUT.gguf TYPE\n\n"
               "  IN.gguf|HF_DIR  a GGUF model, or a Hugging Face model folder (converted first to a temporary\n"
               "                  F32 GGUF beside OUT, removed afterwards)\n"
               "  OUT.gguf        the output: written to a temporary file beside it, renamed over it at the end\n"
               "  TYPE            %s (any case; no default)\n\n"
               "A progress line is shown while quantizing when stderr is a terminal.\n", ks_quantize_type_names());
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
    cli_trap_signals();
    ks_err err = {0};
    ks_quantize_stats st = {0};
    ks_quantize_params qp = ks_quantize_default_params();
    qp.ftype = type;
    qp.progress_callback = cli_progress;
    qp.progress_data = (void *)"quantizing";
    const ks_status s = ks_quantize(argv[1], argv[2], &qp, &st, &err);
    cli_progress(1.0f, NULL);
    if (st.converted) cli_report_convert(argv[1], "a temporary F32 GGUF", &st.convert);
    if (s) return cli_fail(&err);
    fprintf(stderr, "kestrel: %lld tensors (%lld converted), %.2f MiB -> %.2f MiB\n", (long long)st.n_tensors,
            (long long)st.n_quantized, st.bytes_in / 1048576.0, st.bytes_out / 1048576.0);
    return 0;
}
