/* chart.c - out_dir/loss.svg from out_dir/metrics.jsonl: training loss (per update), validation
 * loss (per evaluation) on a common axis, and the learning rate on its own axis to the right.
 * Rewritten whole (atomically) at every evaluation; plain SVG 1.1, no script, no external files.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/outfile.h"
#include "train/train.h"

#define W 720
#define H 360
#define L 60 /* plot area: x in [L, W - R], y in [T, H - B] */
#define R 70
#define T 30
#define B 40

typedef struct series {
    double *x, *y;
    size_t n, cap;
} series;

static void push(series *s, double x, double y) {
    if (s->n == s->cap) {
        const size_t cap = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, cap * sizeof *nx), *ny = nx ? realloc(s->y, cap * sizeof *ny) : NULL;
        if (nx) s->x = nx;
        if (!nx || !ny) return;
        s->y = ny, s->cap = cap;
    }
    s->x[s->n] = x, s->y[s->n++] = y;
}

static void polyline(FILE *f, const series *s, double x1, double y0, double y1, const char *color) {
    if (!s->n) return;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
    for (size_t i = 0; i < s->n; i++)
        fprintf(f, "%.1f,%.1f ", L + (W - L - R) * s->x[i] / x1, H - B - (H - T - B) * (s->y[i] - y0) / (y1 - y0));
    fprintf(f, "\"/>\n");
}

static void range(const series *s, double *lo, double *hi) {
    for (size_t i = 0; i < s->n; i++) *lo = fmin(*lo, s->y[i]), *hi = fmax(*hi, s->y[i]);
}

ks_status ks_train_chart(const char *out_dir, ks_err *err) {
    char path[4096], svg[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", out_dir);
    snprintf(svg, sizeof svg, "%s/loss.svg", out_dir);
    FILE *in = fopen(path, "r");
    if (!in) return ks_err_set(err, KS_ERR_IO, "cannot read %s", path);
    series loss = {0}, val = {0}, lr = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *st = cJSON_GetObjectItem(o, "step"), *l = cJSON_GetObjectItem(o, "loss");
        const cJSON *v = cJSON_GetObjectItem(o, "val_loss"), *r = cJSON_GetObjectItem(o, "lr");
        if (cJSON_IsNumber(st) && cJSON_IsNumber(l)) push(&loss, st->valuedouble, l->valuedouble);
        if (cJSON_IsNumber(st) && cJSON_IsNumber(v)) push(&val, st->valuedouble, v->valuedouble);
        if (cJSON_IsNumber(st) && cJSON_IsNumber(r)) push(&lr, st->valuedouble, r->valuedouble);
        cJSON_Delete(o);
    }
    free(line);
    fclose(in);
    ks_status s = KS_OK;
    double x1 = loss.n ? loss.x[loss.n - 1] : 1, y0 = INFINITY, y1 = -INFINITY, r0 = 0, r1 = -INFINITY, dummy = 0;
    range(&loss, &y0, &y1), range(&val, &y0, &y1), range(&lr, &dummy, &r1);
    if (!(y1 > y0)) y0 = 0, y1 = 1;
    if (!(r1 > r0)) r1 = 1;
    if (!(x1 > 0)) x1 = 1;
    ks_outfile of;
    if ((s = ks_outfile_open(&of, svg, NULL, 0, err))) goto done;
    FILE *f = of.f;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
               "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", L, T, W - L - R,
            H - T - B);
    for (int i = 0; i <= 4; i++) { /* axis labels: loss left, lr right, updates below */
        const double fy = H - B - (H - T - B) * i / 4.0;
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 4, fy + 4, y0 + (y1 - y0) * i / 4);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" fill=\"#999\">%.1e</text>\n", W - R + 4, fy + 4, r1 * i / 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", L + (W - L - R) * i / 4.0, H - B + 16,
                x1 * i / 4);
    }
    polyline(f, &lr, x1, r0, r1, "#bbb");
    polyline(f, &loss, x1, y0, y1, "#1f77b4");
    polyline(f, &val, x1, y0, y1, "#d62728");
    fprintf(f, "<text x=\"%d\" y=\"18\"><tspan fill=\"#1f77b4\">training loss</tspan>  <tspan fill=\"#d62728\">"
               "validation loss</tspan>  <tspan fill=\"#999\">learning rate (right)</tspan>  (x: updates)</text>\n</svg>\n",
            L);
    s = ks_outfile_commit(&of, err);
done:
    free(loss.x), free(loss.y), free(val.x), free(val.y), free(lr.x), free(lr.y);
    return s;
}
