/* api_files.c - kestrel.h's calls that write or read whole files: the output policy
 * (base/outfile.h) as three calls, state files, quantize (a GGUF, or a Hugging Face
 * folder through a temporary F32 GGUF) and convert, with their progress callbacks
 * (base/progress.h). */
#include <stdlib.h>

#include "base/mapfile.h"
#include "base/outfile.h"
#include "base/progress.h"
#include "formats/hf.h"
#include "model/model.h"
#include "model/quantize.h"
#include "tensor/dtype.h"

ks_status ks_output_check(const char *out_path, const char *const *inputs, size_t n_inputs, ks_err *err) {
    ks_outfile f = {0};
    ks_status st = ks_outfile_open(&f, out_path, inputs, n_inputs, err);
    ks_outfile_discard(&f);
    return st;
}

ks_status ks_output_write(const char *out_path, const char *const *inputs, size_t n_inputs, const void *data,
                          size_t len, ks_err *err) {
    ks_outfile f = {0};
    ks_status st = ks_outfile_open(&f, out_path, inputs, n_inputs, err);
    if (!st) st = ks_outfile_write(&f, data, len, err);
    if (!st) return ks_outfile_commit(&f, err);
    ks_outfile_discard(&f);
    return st;
}

void ks_output_cleanup(void) { ks_outfile_unlink_all(); }

/* ---- state files ---- */

ks_status ks_state_save_file(const ks_context *c, int32_t seq, const char *path, ks_err *err) {
    const size_t cap = ks_state_size(c, seq);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return ks_err_set(err, KS_ERR_NOMEM, "state: out of memory for %zu bytes", cap);
    size_t len = 0;
    ks_status st = ks_state_save(c, seq, buf, cap, &len, err);
    if (!st) st = ks_output_write(path, NULL, 0, buf, len, err);
    free(buf);
    return st;
}

ks_status ks_state_load_file(ks_context *c, int32_t seq, const char *path, ks_err *err) {
    ks_mapfile mf;
    ks_status st = ks_mapfile_open(&mf, path, err); /* mapped, not read: any size; the load validates it */
    if (!st) st = ks_state_load(c, seq, mf.data, mf.size, err);
    ks_mapfile_close(&mf);
    return st;
}

/* ---- convert, quantize ---- */

ks_convert_params ks_convert_default_params(void) { return (ks_convert_params){.outtype = KS_CONVERT_AUTO}; }
int ks_convert_outtype_from_name(const char *name) { return name ? ks_hf_outtype_from_name(name) : -2; }

ks_status ks_convert_hf(const char *dir, const char *out_path, const ks_convert_params *p, ks_convert_stats *stats,
                        ks_err *err) {
    if (!dir || !out_path) return ks_err_set(err, KS_ERR_INVALID_ARG, "convert: NULL folder or output path");
    const ks_convert_params d = ks_convert_default_params();
    if (!p) p = &d;
    ks_convert_stats st0;
    ks_progress_begin(p->progress_callback, p->progress_data);
    ks_status st = ks_hf_convert(dir, out_path, p->outtype, stats ? stats : &st0, err);
    ks_progress_end();
    return st;
}

ks_quantize_params ks_quantize_default_params(void) { return (ks_quantize_params){.ftype = 7 /* Q8_0 */}; }

/* the folder dir through an F32 intermediate into out_path; the first error in err */
static ks_status quantize_folder(const char *dir, const char *out_path, int type, ks_quantize_stats *qs, ks_err *err) {
    const char *const inputs[] = {dir};
    ks_outfile out = {0}, mid = {0};
    ks_convert_stats cs = {0};
    ks_status s = ks_outfile_open(&out, out_path, inputs, 1, err);
    if (!s) s = ks_outfile_open(&mid, out_path, inputs, 1, err);
    ks_progress_window w = ks_progress_sub(0.0f, 0.5f);
    if (!s) s = ks_hf_convert_to(dir, &mid, KS_DTYPE_F32, &cs, err);
    ks_progress_restore(w);
    if (!s) s = ks_outfile_close(&mid, err);
    if (!s) {
        ks_progress_sub(0.5f, 1.0f);
        s = ks_quantize_to(ks_outfile_tmp_path(&mid), &out, type, qs, err);
        ks_progress_restore(w);
        qs->converted = true, qs->convert = cs;
    }
    ks_outfile_discard(&mid);
    if (!s) return ks_outfile_commit(&out, err);
    ks_outfile_discard(&out);
    return s;
}

ks_status ks_quantize(const char *in_path, const char *out_path, const ks_quantize_params *p, ks_quantize_stats *stats,
                      ks_err *err) {
    if (!in_path || !out_path) return ks_err_set(err, KS_ERR_INVALID_ARG, "quantize: NULL input or output path");
    const ks_quantize_params d = ks_quantize_default_params();
    if (!p) p = &d;
    ks_quantize_stats st0 = {0};
    if (!stats) stats = &st0;
    *stats = (ks_quantize_stats){0};
    ks_progress_begin(p->progress_callback, p->progress_data);
    ks_status st = ks_hf_is_dir(in_path) ? quantize_folder(in_path, out_path, p->ftype, stats, err)
                                         : ks_quantize_file(in_path, out_path, p->ftype, stats, err);
    ks_progress_end();
    return st;
}
