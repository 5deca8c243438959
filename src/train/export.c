/* export.c - a trained model out as an F32 GGUF: general.architecture = the family's name, its
 * hyperparameter keys ("<arch>." + the descriptor's suffixes, the values the trainer used), and
 * every trained tensor by its GGUF name from the tensor table (vectors 1-D). The head is absent
 * when tied, as llama.cpp's converter writes tied models. The tokenizer.* keys of a GGUF given as the
 * tokenizer (the one the shards were made with) are copied. Written atomically (base/outfile.h).
 */
#include <stdio.h>
#include <string.h>

#include "base/outfile.h"
#include "formats/gguf.h"
#include "kestrel_train.h"
#include "tensor/dtype.h"
#include "train/train.h"

static ks_status set_hparams(gguf_writer *w, const ks_train_model *tm) {
    const ks_arch *a = tm->arch;
    ks_status s = gguf_writer_set_str(w, "general.architecture", a->name);
    if (!s) s = gguf_writer_set_str(w, "general.name", "kestrel-trained");
    if (!s) s = gguf_writer_set_u32(w, "general.file_type", 0); /* all F32 */
    for (size_t i = 0; i < a->n_hparams && !s; i++) {
        const ks_hp_desc *d = &a->hparams[i];
        char key[128];
        snprintf(key, sizeof key, "%s.%s", a->name, d->key);
        const char *field = (const char *)&tm->hp + d->off;
        if (d->type == KS_HP_INT) {
            int64_t v;
            memcpy(&v, field, sizeof v);
            s = gguf_writer_set_u32(w, key, (uint32_t)v);
        } else {
            float v;
            memcpy(&v, field, sizeof v);
            s = gguf_writer_set_f32(w, key, v);
        }
    }
    return s;
}

/* copies every tokenizer.* key of the GGUF at path (its vocabulary must fit the model's) */
static ks_status copy_tokenizer(gguf_writer *w, const char *path, int64_t n_vocab, ks_err *err) {
    gguf_ctx *g = NULL;
    ks_status s = gguf_open_file(path, &g, err);
    if (s) return s;
    const gguf_kv *toks = gguf_find_kv(g, "tokenizer.ggml.tokens");
    if (!toks || toks->value.type != GGUF_TYPE_ARRAY || (int64_t)toks->value.v.arr.n > n_vocab)
        s = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: %s", path, toks ? "its vocabulary is larger than the model's"
                                                                    : "no tokenizer.ggml.tokens");
    for (uint64_t i = 0; i < g->n_kv && !s; i++)
        if (g->kv[i].key.len > 10 && !memcmp(g->kv[i].key.ptr, "tokenizer.", 10))
            if ((s = gguf_writer_copy_kv(w, &g->kv[i]))) ks_err_set(err, s, "export: cannot copy the tokenizer");
    gguf_close(g);
    return s;
}

ks_status ks_train_write_gguf(const ks_train_model *tm, const char *path, const char *tokenizer, ks_err *err) {
    gguf_writer *w = gguf_writer_new();
    if (!w) return ks_err_set(err, KS_ERR_NOMEM, "export: out of memory");
    ks_status s = set_hparams(w, tm);
    if (s) ks_err_set(err, s, "export: cannot set the hyperparameters");
    if (!s && tokenizer) s = copy_tokenizer(w, tokenizer, tm->hp.n_vocab, err);
    for (size_t i = 0; i < tm->n_p && !s; i++) {
        const ks_train_param *p = &tm->p[i];
        char name[128];
        if (!ks_arch_name(p->row, false, p->il, name, sizeof name)) {
            s = ks_err_set(err, KS_ERR_LIMIT, "export: tensor name too long");
            break;
        }
        const int64_t ne[2] = {p->ne0, p->ne1};
        s = gguf_writer_add_tensor(w, name, KS_DTYPE_F32, p->ne1 == 1 ? 1 : 2, ne, tm->params + p->off,
                                   (uint64_t)(p->ne0 * p->ne1) * sizeof(float), err);
    }
    ks_outfile of;
    if (!s && !(s = ks_outfile_open(&of, path, NULL, 0, err))) {
        s = gguf_writer_write(w, &of, err);
        if (s) ks_outfile_discard(&of);
        else s = ks_outfile_commit(&of, err);
    }
    gguf_writer_free(w);
    return s;
}

ks_status ks_train_export_gguf(const char *ckpt_dir, const char *out_path, const char *tokenizer, ks_err *err) {
    ks_train_model tm;
    ks_train_state st;
    ks_status s = ks_checkpoint_load(ckpt_dir, &tm, &st, NULL, NULL, 0, err);
    if (s) return s;
    s = ks_train_write_gguf(&tm, out_path, tokenizer, err);
    ks_train_model_free(&tm);
    return s;
}
