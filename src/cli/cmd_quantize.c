/* cmd_quantize.c - `kestrel quantize IN OUT.gguf TYPE` (TYPE: Q8_0, Q4_0, Q4_1, F16, BF16, F32).
 * IN is a GGUF file, or a Hugging Face model folder: that is first converted to a
 * temporary F32 GGUF beside OUT (a hidden ".OUT.XXXXXX", removed afterwards, on
 * failure and on SIGINT/SIGTERM), then quantized. OUT is checked against every
 * input before any work (base/outfile.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/outfile.h"
#include "cli/cli.h"
#include "formats/hf.h"
#include "model/quantize.h"
#include "tensor/dtype.h"

/* the folder dir through an F32 intermediate into out_path; the first error in err */
static ks_status quantize_folder(const char *dir, const char *out_path, int type, ks_quantize_stats *qs, ks_err *err) {
    const char *const inputs[] = {dir};
    ks_outfile out, mid = {0};
    ks_hf_convert_stats cs;
    ks_status s = ks_outfile_open(&out, out_path, inputs, 1, err);
    if (!s) s = ks_outfile_open(&mid, out_path, inputs, 1, err);
    if (!s) s = ks_hf_convert_to(dir, &mid, KS_DTYPE_F32, &cs, err);
    if (!s) s = ks_outfile_close(&mid, err);
    if (!s) {
        cli_report_convert(dir, "a temporary F32 GGUF", &cs);
        s = ks_quantize_to(ks_outfile_tmp_path(&mid), &out, type, qs, err);
    }
    ks_outfile_discard(&mid);
    if (!s) return ks_outfile_commit(&out, err);
    ks_outfile_discard(&out);
    return s;
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
    cli_trap_signals();
    ks_err err = {0};
    ks_quantize_stats st = {0};
    const ks_status s = ks_hf_is_dir(argv[1]) ? quantize_folder(argv[1], argv[2], type, &st, &err)
                                              : ks_quantize_file(argv[1], argv[2], type, &st, &err);
    if (s) return cli_fail(&err);
    fprintf(stderr, "kestrel: %lld tensors (%lld converted), %.2f MiB -> %.2f MiB\n", (long long)st.n_tensors,
            (long long)st.n_quantized, st.bytes_in / 1048576.0, st.bytes_out / 1048576.0);
    return 0;
}
