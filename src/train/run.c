/* run.c - a training run (kestrel_train.h ks_train_run): shards, model (fresh or from a
 * checkpoint), then per update: accumulate micro-batches, clip, AdamW; validation, checkpoints,
 * one metrics.jsonl line and the progress callback. Every value that the next update depends on
 * (weights, moments, step, random state, data position) is in the checkpoint, and every kernel
 * sums in a fixed order, so a resumed run is bit-identical to one that never stopped.
 */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/outfile.h"
#include "kestrel_train.h"
#include "train/train.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct run {
    const ks_train_config *c;
    ks_hparams hp;
    ks_train_opt opt;
    ks_train_model tm;
    ks_train_acts a;
    ks_train_state st;
    ks_shard train, val;
    int32_t *tokens, *targets;
    FILE *metrics;
} run;

/* mean loss over eval_batches micro-batches of the validation shard, from its start */
static ks_status evaluate(run *r, double *out, ks_err *err) {
    uint64_t pos = 0;
    double sum = 0;
    int64_t n_all = 0;
    for (int64_t i = 0; i < r->c->eval_batches; i++) {
        float loss = 0;
        int64_t n = 0;
        ks_status s = ks_shard_batch(&r->val, &pos, r->a.B, r->a.T, r->hp.n_vocab, r->tokens, r->targets, err);
        if (!s) s = ks_train_forward(&r->tm, &r->a, r->tokens, r->targets, &loss, &n, err);
        if (s) return s;
        sum += (double)loss * (double)n, n_all += n;
    }
    *out = n_all ? sum / (double)n_all : 0.0;
    return KS_OK;
}

/* one update: accum micro-batches, clip, AdamW; *loss the mean of the micro-batch means */
static ks_status update(run *r, double *loss, double *norm, double *lr, ks_err *err) {
    const int64_t accum = r->c->accum;
    ks_train_zero_grad(&r->tm);
    *loss = 0;
    for (int64_t k = 0; k < accum; k++) {
        float l = 0;
        int64_t n = 0;
        ks_status s = ks_shard_batch(&r->train, &r->st.data_pos, r->a.B, r->a.T, r->hp.n_vocab, r->tokens, r->targets,
                                     err);
        if (!s) s = ks_train_forward(&r->tm, &r->a, r->tokens, r->targets, &l, &n, err);
        if (s) return s;
        ks_train_backward(&r->tm, &r->a, r->tokens, r->targets, 1.0f / (float)(n * accum));
        *loss += (double)l / (double)accum;
    }
    *norm = ks_train_grad_norm(&r->tm);
    if (!isfinite(*loss) || !isfinite(*norm))
        return ks_err_set(err, KS_ERR_LIMIT, "training stopped at update %lld: the loss is %s and the gradient norm "
                          "%s; the last checkpoint is kept as it was (lower lr, raise warmup or clip)",
                          (long long)r->st.step + 1, isnan(*loss) ? "NaN" : isinf(*loss) ? "infinite" : "finite",
                          isnan(*norm) ? "NaN" : isinf(*norm) ? "infinite" : "finite");
    ks_train_clip(&r->tm, *norm, r->opt.clip);
    *lr = ks_train_lr(&r->opt, r->st.step);
    ks_train_adamw(&r->tm, &r->opt, r->st.step + 1, *lr);
    r->st.step++;
    return KS_OK;
}

/* on resume: drops the metrics lines of updates after the checkpoint (a killed run logged them) */
static ks_status trim_metrics(const char *path, int64_t step, ks_err *err) {
    FILE *in = fopen(path, "r");
    if (!in) return KS_OK;
    ks_outfile of;
    ks_status s = ks_outfile_open(&of, path, NULL, 0, err);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (!s && (len = getline(&line, &cap, in)) > 0) {
        long long st = -1;
        if (sscanf(line, "{\"step\": %lld", &st) == 1 && st <= step) s = ks_outfile_write(&of, line, (size_t)len, err);
    }
    free(line);
    fclose(in);
    if (s) ks_outfile_discard(&of);
    return s ? s : ks_outfile_commit(&of, err);
}

static ks_status setup(run *r, const char *resume_dir, ks_err *err) {
    const ks_train_config *c = r->c;
    const ks_arch *arch = ks_arch_find(c->family ? c->family : "llama");
    ks_status s = ks_shard_open(&r->train, c->train_data, r->hp.n_vocab, (uint64_t)c->seq_len + 1, err);
    if (!s && c->val_data && *c->val_data && c->eval_every)
        s = ks_shard_open(&r->val, c->val_data, r->hp.n_vocab, (uint64_t)c->seq_len + 1, err);
    if (s) return s;
    if (resume_dir) {
        s = ks_checkpoint_load(resume_dir, &r->tm, &r->st, arch, &r->hp, c->tied, err);
    } else {
        s = ks_train_model_init(&r->tm, arch, &r->hp, c->tied, err);
        if (!s) ks_train_model_init_weights(&r->tm, (float)c->init_std, c->seed);
        r->st = (ks_train_state){0, c->seed ^ 0x6B657374726C2121ull, 0};
    }
    if (!s) s = ks_train_acts_init(&r->a, &r->tm, c->batch, c->seq_len, err);
    if (s) return s;
    const size_t bt = (size_t)(c->batch * c->seq_len);
    r->tokens = malloc(bt * sizeof(int32_t)), r->targets = malloc(bt * sizeof(int32_t));
    if (!r->tokens || !r->targets) return ks_err_set(err, KS_ERR_NOMEM, "training: out of memory");
    if (mkdir(c->out_dir, 0777) && errno != EEXIST)
        return ks_err_set(err, KS_ERR_IO, "cannot create %s: %s", c->out_dir, strerror(errno));
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/metrics.jsonl", c->out_dir) >= sizeof path)
        return ks_err_set(err, KS_ERR_INVALID_ARG, "out_dir name too long");
    if (resume_dir && (s = trim_metrics(path, r->st.step, err))) return s;
    r->metrics = fopen(path, resume_dir ? "a" : "w");
    if (!r->metrics) return ks_err_set(err, KS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    return KS_OK;
}

static void teardown(run *r) {
    if (r->metrics) fclose(r->metrics);
    free(r->tokens), free(r->targets);
    ks_train_acts_free(&r->a);
    ks_train_model_free(&r->tm);
    ks_shard_close(&r->train), ks_shard_close(&r->val);
}

ks_status ks_train_run(const ks_train_config *c, const char *resume_dir, ks_train_progress_fn cb, void *user,
                       ks_err *err) {
    ks_status s = ks_train_config_check(c, NULL, err);
    if (s) return s;
    run r = {.c = c};
    ks_train_config_hparams(c, &r.hp);
    ks_train_config_opt(c, &r.opt);
    if (c->threads) omp_set_num_threads(c->threads);
    if ((s = setup(&r, resume_dir, err))) goto done;
    const double t0 = now_s();
    const int64_t step0 = r.st.step, tok_per_update = c->batch * c->seq_len * c->accum;
    while (r.st.step < c->steps) {
        ks_train_progress p = {.steps = c->steps, .val_loss = NAN};
        if ((s = update(&r, &p.loss, &p.grad_norm, &p.lr, err))) break;
        p.step = r.st.step;
        const double el = now_s() - t0;
        p.tok_per_s = el > 0 ? (double)((p.step - step0) * tok_per_update) / el : 0;
        p.eta_s = p.tok_per_s > 0 ? (double)((c->steps - p.step) * tok_per_update) / p.tok_per_s : 0;
        if (r.val.n && (p.step % c->eval_every == 0 || p.step == c->steps) && (s = evaluate(&r, &p.val_loss, err)))
            break;
        fprintf(r.metrics, "{\"step\": %lld, \"loss\": %.6f, \"lr\": %.6g, \"grad_norm\": %.6f, \"tok_per_s\": %.1f",
                (long long)p.step, p.loss, p.lr, p.grad_norm, p.tok_per_s);
        if (!isnan(p.val_loss)) fprintf(r.metrics, ", \"val_loss\": %.6f, \"val_ppl\": %.4f", p.val_loss, exp(p.val_loss));
        fprintf(r.metrics, "}\n");
        fflush(r.metrics);
        if ((!isnan(p.val_loss) || p.step == c->steps) && (s = ks_train_chart(c->out_dir, err))) break;
        p.checkpoint = (c->ckpt_every && p.step % c->ckpt_every == 0) || p.step == c->steps;
        if (p.checkpoint && (s = ks_checkpoint_save(c->out_dir, &r.tm, &r.st, err))) break;
        if (cb && !cb(user, &p)) {
            if (!p.checkpoint) s = ks_checkpoint_save(c->out_dir, &r.tm, &r.st, err);
            break;
        }
    }
done:
    teardown(&r);
    return s;
}
