/* adamw.c - the learning-rate schedule, global-norm clipping and AdamW over the flat arenas
 * (train.h). One loop over each parameter tensor: the arenas share their layout, so the
 * weights, gradients and moments of element i are params[i], grads[i], m[i], v[i].
 * Numerics follow torch.optim.AdamW's single-tensor path (bias corrections in double).
 */
#include <math.h>

#include "train/train.h"

double ks_train_lr(const ks_train_opt *o, int64_t s) {
    if (s < o->warmup) return o->lr_max * (double)(s + 1) / (double)o->warmup;
    if (s >= o->steps) return o->lr_min;
    const double p = (double)(s - o->warmup) / (double)(o->steps - o->warmup);
    return o->lr_min + 0.5 * (o->lr_max - o->lr_min) * (1.0 + cos(M_PI * p));
}

double ks_train_grad_norm(const ks_train_model *tm) {
    const int64_t n = (int64_t)tm->n_params, CH = 4096, n_ch = (n + CH - 1) / CH;
    double total = 0.0;
    /* chunk sums in a fixed order: the same for any thread count (padding between tensors is 0) */
#pragma omp parallel for schedule(static) ordered if (n > 65536)
    for (int64_t c = 0; c < n_ch; c++) {
        double s = 0.0;
        for (int64_t i = c * CH; i < n && i < (c + 1) * CH; i++) s += (double)tm->grads[i] * tm->grads[i];
#pragma omp ordered
        total += s;
    }
    return sqrt(total);
}

void ks_train_clip(ks_train_model *tm, double norm, double clip) {
    if (clip <= 0.0) return;
    double c = clip / (norm + 1e-6);
    if (c >= 1.0) return;
    const float cf = (float)c;
    const int64_t n = (int64_t)tm->n_params;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) tm->grads[i] *= cf;
}

void ks_train_adamw(ks_train_model *tm, const ks_train_opt *o, int64_t t, double lr) {
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    const float step = (float)(lr / (1.0 - pow(o->beta1, (double)t)));
    const float bc2 = (float)sqrt(1.0 - pow(o->beta2, (double)t));
    for (size_t ip = 0; ip < tm->n_p; ip++) {
        const ks_train_param *p = &tm->p[ip];
        const int64_t n = p->ne0 * p->ne1;
        const float keep = p->decay ? (float)(1.0 - lr * o->weight_decay) : 1.0f;
        float *w = tm->params + p->off, *g = tm->grads + p->off, *m = tm->m + p->off, *v = tm->v + p->off;
#pragma omp parallel for schedule(static) if (n > 65536)
        for (int64_t i = 0; i < n; i++) {
            m[i] += (g[i] - m[i]) * (1.0f - b1);
            v[i] = v[i] * b2 + (1.0f - b2) * g[i] * g[i];
            w[i] = w[i] * keep - step * m[i] / (sqrtf(v[i]) / bc2 + eps);
        }
    }
}
