/* checkpoint.c - a run's whole state in one file, DIR/checkpoint.bin, replaced atomically
 * (base/outfile.h: temporary file, fsync, rename, folder fsync), so a kill at any moment leaves
 * the previous checkpoint whole. Layout (little-endian, docs/TRAINING.md):
 *
 *   offset  size  field
 *   0       8     magic "KSTRCKPT"
 *   8       4     version (1)
 *   12      4     header bytes (256)
 *   16      32    family name, NUL-padded
 *   48      64    i64 n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim, n_rot
 *   112     4+4   f32 norm_eps, rope_theta
 *   120     4     u32 tied head (0/1)
 *   128     8     i64 step (updates done)
 *   136     8     u64 random state
 *   144     8     u64 data position (next token of the training shard)
 *   152     8     u64 n = floats per arena (the trainer's layout of the family's tensor table)
 *   160     8     u64 checksum of the arrays (FNV-1a over 32-bit words)
 *   168     8     i64 n_ctx_train (the sequence length trained at)
 *   176     80    zero
 *   256     4n    weights, then 4n first moments, then 4n second moments (f32)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/outfile.h"
#include "train/train.h"

#define MAGIC "KSTRCKPT"
#define HDR 256

static uint64_t fnv(uint64_t h, const float *p, size_t n) {
    const uint32_t *w = (const uint32_t *)(const void *)p;
    for (size_t i = 0; i < n; i++) h = (h ^ w[i]) * 0x100000001B3ull;
    return h;
}
static uint64_t checksum(const ks_train_model *tm) {
    uint64_t h = 0xCBF29CE484222325ull;
    h = fnv(h, tm->params, tm->n_params), h = fnv(h, tm->m, tm->n_params);
    return fnv(h, tm->v, tm->n_params);
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t get64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static ks_status ckpt_path(const char *dir, char *buf, size_t cap, ks_err *err) {
    if ((size_t)snprintf(buf, cap, "%s/checkpoint.bin", dir) >= cap)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "checkpoint folder name too long");
    return KS_OK;
}

ks_status ks_checkpoint_save(const char *dir, const ks_train_model *tm, const ks_train_state *st, ks_err *err) {
    char path[4096];
    ks_status s = ckpt_path(dir, path, sizeof path, err);
    if (s) return s;
    if (mkdir(dir, 0777) && errno != EEXIST)
        return ks_err_set(err, KS_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    uint8_t h[HDR] = {0};
    const ks_hparams *hp = &tm->hp;
    memcpy(h, MAGIC, 8);
    const uint32_t ver = 1, hb = HDR, tied = tm->tied;
    memcpy(h + 8, &ver, 4), memcpy(h + 12, &hb, 4);
    snprintf((char *)h + 16, 32, "%s", tm->arch->name);
    const int64_t dims[8] = {hp->n_vocab, hp->n_embd, hp->n_layer, hp->n_head, hp->n_head_kv, hp->n_ff, hp->head_dim,
                             hp->n_rot};
    memcpy(h + 48, dims, sizeof dims);
    memcpy(h + 112, &hp->norm_eps, 4), memcpy(h + 116, &hp->rope_theta, 4), memcpy(h + 120, &tied, 4);
    put64(h + 128, (uint64_t)st->step), put64(h + 136, st->rng), put64(h + 144, st->data_pos);
    put64(h + 152, tm->n_params), put64(h + 160, checksum(tm)), put64(h + 168, (uint64_t)hp->n_ctx_train);
    ks_outfile of;
    if ((s = ks_outfile_open(&of, path, NULL, 0, err))) return s;
    const size_t nb = tm->n_params * sizeof(float);
    if ((s = ks_outfile_check_space(&of, HDR + 3 * (uint64_t)nb, err)) || (s = ks_outfile_write(&of, h, HDR, err)) ||
        (s = ks_outfile_write(&of, tm->params, nb, err)) || (s = ks_outfile_write(&of, tm->m, nb, err)) ||
        (s = ks_outfile_write(&of, tm->v, nb, err))) {
        ks_outfile_discard(&of);
        return s;
    }
    return ks_outfile_commit(&of, err);
}

ks_status ks_checkpoint_load(const char *dir, ks_train_model *tm, ks_train_state *st, const ks_arch *want_arch,
                             const ks_hparams *want, int want_tied, ks_err *err) {
    memset(tm, 0, sizeof *tm);
    char path[4096];
    ks_status s = ckpt_path(dir, path, sizeof path, err);
    if (s) return s;
    ks_mapfile mf;
    if ((s = ks_mapfile_open(&mf, path, err))) return s;
    const uint8_t *h = mf.data;
    uint32_t ver = 0, hb = 0, tied = 0;
    if (mf.size < HDR || memcmp(h, MAGIC, 8)) {
        s = ks_err_set(err, KS_ERR_FORMAT, "%s: not a Kestrel training checkpoint", path);
        goto done;
    }
    memcpy(&ver, h + 8, 4), memcpy(&hb, h + 12, 4), memcpy(&tied, h + 120, 4);
    if (ver != 1 || hb != HDR) {
        s = ks_err_set(err, KS_ERR_FORMAT, "%s: checkpoint version %u (Kestrel reads 1)", path, ver);
        goto done;
    }
    char fam[33] = {0};
    memcpy(fam, h + 16, 32);
    const ks_arch *a = NULL;
    if ((s = ks_arch_lookup(fam, &a, err))) goto done;
    int64_t d[8];
    memcpy(d, h + 48, sizeof d);
    ks_hparams hp = {.n_vocab = d[0], .n_embd = d[1], .n_layer = d[2], .n_head = d[3], .n_head_kv = d[4],
                     .n_ff = d[5], .head_dim = d[6], .n_rot = d[7]};
    memcpy(&hp.norm_eps, h + 112, 4), memcpy(&hp.rope_theta, h + 116, 4);
    if (want) {
        const int64_t w[8] = {want->n_vocab, want->n_embd, want->n_layer, want->n_head, want->n_head_kv, want->n_ff,
                              want->head_dim, want->n_rot};
        static const char *const names[8] = {"vocab", "dim", "layers", "heads", "kv_heads", "ff", "head size", "rot"};
        for (int i = 0; i < 8; i++)
            if (w[i] != d[i]) {
                s = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: a checkpoint of another shape (%s %lld, the config says "
                               "%lld)", path, names[i], (long long)d[i], (long long)w[i]);
                goto done;
            }
        if (a != want_arch || (int)tied != want_tied) {
            s = ks_err_set(err, KS_ERR_INVALID_ARG, "%s: a checkpoint of another model (%s, %s head; the config says "
                           "%s, %s)", path, a->name, tied ? "tied" : "untied", want_arch->name,
                           want_tied ? "tied" : "untied");
            goto done;
        }
    }
    hp.n_ctx_train = want ? want->n_ctx_train : (int64_t)get64(h + 168);
    if ((s = ks_train_model_init(tm, a, &hp, tied != 0, err))) goto done;
    const uint64_t n = get64(h + 152);
    const size_t nb = tm->n_params * sizeof(float);
    if (n != tm->n_params || mf.size != HDR + 3 * nb) {
        s = ks_err_set(err, KS_ERR_TRUNCATED, "%s: %zu bytes, the header's shape needs %zu", path, mf.size,
                       HDR + 3 * nb);
        goto done;
    }
    memcpy(tm->params, h + HDR, nb), memcpy(tm->m, h + HDR + nb, nb), memcpy(tm->v, h + HDR + 2 * nb, nb);
    if (checksum(tm) != get64(h + 160)) {
        s = ks_err_set(err, KS_ERR_FORMAT, "%s: checksum mismatch: the checkpoint is damaged", path);
        goto done;
    }
    st->step = (int64_t)get64(h + 128), st->rng = get64(h + 136), st->data_pos = get64(h + 144);
done:
    ks_mapfile_close(&mf);
    if (s) ks_train_model_free(tm);
    return s;
}
