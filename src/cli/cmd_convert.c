/* cmd_convert.c - `kestrel convert HF_DIR OUT.gguf [--outtype f32|f16|bf16|q8_0|auto]`:
 * a Hugging Face model folder (config.json, *.safetensors, tokenizer.json) to GGUF,
 * as llama.cpp's convert_hf_to_gguf.py writes it (formats/hf.h). The output is
 * checked and written as base/outfile.h says (temporary file removed on SIGINT/SIGTERM). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define USAGE                                                                                                  \
    "usage: kestrel convert HF_DIR OUT.gguf [--outtype f32|f16|bf16|q8_0|auto]\n\n"                           \
    "  HF_DIR     a Hugging Face model folder: config.json, *.safetensors, tokenizer.json\n"                  \
    "  OUT.gguf   the output: written to a temporary file beside it, renamed over it at the end\n"            \
    "  --outtype  type of the 2-D weights (norms and biases stay F32); default: auto (BF16 or F16, as the\n"  \
    "             weights are stored)\n\n"                                                                    \
    "A progress line is shown while converting when stderr is a terminal.\n"

/* one line on stderr about what was written; a warning if the pre-tokenizer was not recognised */
void cli_report_convert(const char *dir, const char *out, const ks_convert_stats *st) {
    fprintf(stderr, "kestrel: %s -> %s: %s, %lld tensors, %lld parameters, %s weights, pre-tokenizer '%s'\n", dir, out, st->arch,
            (long long)st->n_tensors, (long long)st->n_params, ks_type_name(st->out_type), st->pre);
    if (st->pre_default)
        fprintf(stderr, "kestrel: warning: tokenizer.json's pre-tokenizer is not one Kestrel recognises; wrote 'default' "
                        "(tokenization may differ from the model's)\n");
}

int cli_convert(int argc, char **argv) {
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(USAGE, stdout);
        return 0;
    }
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0, out_type = KS_CONVERT_AUTO;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--outtype")) {
            if (i + 1 >= argc || (out_type = ks_convert_outtype_from_name(argv[i + 1])) == -2) {
                fprintf(stderr, "kestrel convert: --outtype needs one of f32, f16, bf16, q8_0, auto\n");
                return 2;
            }
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "kestrel convert: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (n_pos < 2) {
            pos[n_pos++] = argv[i];
        } else {
            n_pos = 3;
        }
    }
    if (n_pos != 2) {
        fprintf(stderr, "kestrel convert: expected HF_DIR OUT.gguf\n%s", USAGE);
        return 2;
    }
    cli_trap_signals();
    ks_err err = {0};
    ks_convert_stats st;
    ks_convert_params cp = ks_convert_default_params();
    cp.outtype = out_type;
    cp.progress_callback = cli_progress;
    cp.progress_data = (void *)"converting";
    const ks_status s = ks_convert_hf(pos[0], pos[1], &cp, &st, &err);
    cli_progress(1.0f, NULL);
    if (s) return cli_fail(&err);
    cli_report_convert(pos[0], pos[1], &st);
    return 0;
}
