/* test_chat.c - chat templates: ks_chat_render against jinja2 goldens
 * (tests/oracle/make_chat_goldens.py), detection, default system messages,
 * and the edges: unknown templates, NULL content, very long messages. */
#include <stdint.h>
#include <string.h>

#include "generate/chat.h"
#include "ks_test.h"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static char *template_file(const char *src, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/chat_templates/%s", src, name);
    char *t = read_file(path, NULL);
    CHECK(t != NULL, "cannot read %s", path);
    return t;
}

/* ---- golden file reader: "key len\n" + len bytes + "\n" ---- */

typedef struct reader {
    const char *p, *end;
} reader;

static bool read_line(reader *r, char *line, size_t cap) {
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    if (!nl || (size_t)(nl - r->p) >= cap) return false;
    memcpy(line, r->p, (size_t)(nl - r->p));
    line[nl - r->p] = '\0';
    r->p = nl + 1;
    return true;
}

/* reads "<key> <len>\n<payload>\n"; returns a malloc'ed payload or NULL */
static char *read_field(reader *r, char *key, size_t *len) {
    char line[256];
    unsigned long n;
    if (!read_line(r, line, sizeof line) || sscanf(line, "%31s %lu", key, &n) != 2) return NULL;
    if (n + 1 > (size_t)(r->end - r->p) || r->p[n] != '\n') return NULL;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n + 1;
    *len = n;
    return s;
}

static void report_mismatch(const char *what, const char *got, const char *want) {
    size_t i = 0;
    while (got[i] && got[i] == want[i]) i++;
    size_t from = i > 20 ? i - 20 : 0;
    fprintf(stderr, "  %s: first difference at byte %zu\n  got:  \"%.60s\"\n  want: \"%.60s\"\n", what, i, got + from,
            want + from);
}

static void test_goldens(const char *src) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/chat_goldens.txt", src);
    size_t size = 0;
    char *data = read_file(path, &size);
    CHECK(data != NULL, "cannot read %s (set KS_SRC_DIR to the repo root)", path);
    if (!data) return;
    reader r = {data, data + size};
    char line[256];
    int n_cases = 0, n_exact = 0, n_lenient = 0;
    read_line(&r, line, sizeof line); /* header comment */
    while (r.p < r.end) {
        char name[64], tfile[64];
        int add_gen, n_msgs;
        if (!read_line(&r, line, sizeof line) || sscanf(line, "case %63s %63s %d %d", name, tfile, &add_gen, &n_msgs) != 4 ||
            n_msgs < 0 || n_msgs > 64) {
            CHECK(0, "malformed golden line \"%s\"", line);
            break;
        }
        ks_chat_msg msgs[64];
        char *owned[129] = {0};
        int n_owned = 0;
        bool ok = true;
        for (int i = 0; i < n_msgs && ok; i++) {
            char k1[32], k2[32];
            size_t l;
            char *role = read_field(&r, k1, &l), *content = role ? read_field(&r, k2, &l) : NULL;
            owned[n_owned++] = role, owned[n_owned++] = content;
            ok = role && content && !strcmp(k1, "role") && !strcmp(k2, "content");
            msgs[i] = (ks_chat_msg){role, content};
        }
        char key[32];
        size_t want_len = 0;
        char *want = ok ? read_field(&r, key, &want_len) : NULL;
        owned[n_owned++] = want;
        if (!want) {
            CHECK(0, "malformed golden case %s/%s", tfile, name);
            for (int i = 0; i < n_owned; i++) free(owned[i]);
            break;
        }
        char *tmpl = template_file(src, tfile);
        char *out = NULL;
        ks_err err = {0};
        ks_status st = ks_chat_render(tmpl, msgs, (size_t)n_msgs, add_gen != 0, &out, &err);
        if (!strcmp(key, "expect")) {
            bool same = st == KS_OK && out && strlen(out) == want_len && memcmp(out, want, want_len) == 0;
            CHECK(same, "%s %s add_gen=%d: render differs from jinja2 (%s)", tfile, name, add_gen,
                  st ? err.msg : "mismatch");
            if (!same && out) report_mismatch(name, out, want);
            n_exact += same;
        } else { /* jinja raised; we render leniently and must not fail */
            CHECK(st == KS_OK && out, "%s %s: lenient render failed: %s", tfile, name, err.msg);
            n_lenient++;
        }
        n_cases++;
        free(out);
        free(tmpl);
        for (int i = 0; i < n_owned; i++) free(owned[i]);
    }
    fprintf(stderr, "goldens: %d cases, %d byte-exact, %d where jinja raises\n", n_cases, n_exact, n_lenient);
    CHECK(n_cases >= 100, "only %d golden cases read", n_cases);
    free(data);
}

static char *render(const char *tmpl, const ks_chat_msg *msgs, size_t n, bool add) {
    char *out = NULL;
    ks_err err = {0};
    ks_status st = ks_chat_render(tmpl, msgs, n, add, &out, &err);
    CHECK(st == KS_OK && out, "render failed: %s", err.msg);
    return out;
}

static void test_detect(const char *src) {
    static const struct {
        const char *file;
        ks_chat_format f;
    } files[] = {{"smollm2.jinja", KS_CHAT_CHATML},
                 {"llama3.jinja", KS_CHAT_LLAMA3},
                 {"llama2.jinja", KS_CHAT_LLAMA2},
                 {"zephyr.jinja", KS_CHAT_ZEPHYR},
                 {"gemma.jinja", KS_CHAT_GEMMA}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *t = template_file(src, files[i].file);
        ks_chat_format f = ks_chat_detect(t);
        CHECK(f == files[i].f, "%s detected as %s", files[i].file, ks_chat_format_name(f));
        free(t);
    }
    CHECK(ks_chat_detect(NULL) == KS_CHAT_UNKNOWN && ks_chat_detect("") == KS_CHAT_UNKNOWN, "NULL/empty unknown");
    CHECK(ks_chat_detect("{{ messages }}") == KS_CHAT_UNKNOWN, "unrecognized template unknown");
    for (int f = KS_CHAT_UNKNOWN + 1; f < KS_CHAT_COUNT; f++)
        CHECK((int)ks_chat_detect(ks_chat_format_name((ks_chat_format)f)) == f, "name %s round-trips",
              ks_chat_format_name((ks_chat_format)f));
    CHECK(!strcmp(ks_chat_format_name((ks_chat_format)99), "unknown"), "out-of-range name");
    CHECK(ks_chat_detect("{% for m in messages %}<|im_start|>{{ m.content }}<|im_sep|>{% endfor %}") == KS_CHAT_PHI4,
          "phi4");
    CHECK(ks_chat_detect("{{'<|user|>\\n' + c + '<|end|>\\n<|assistant|>\\n'}}") == KS_CHAT_PHI3, "phi3");
    CHECK(ks_chat_detect("{{ '[SYSTEM_PROMPT]' }}{{ '[INST]' }}") == KS_CHAT_MISTRAL_V7, "mistral v7");
    CHECK(ks_chat_detect("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}") == KS_CHAT_MISTRAL,
          "mistral instruct");
    CHECK(ks_chat_detect("<|im_start|>User:<end_of_utterance>") == KS_CHAT_UNKNOWN, "SmolVLM is not ChatML");
}

static void test_default_system(const char *src) {
    char *t = template_file(src, "smollm2.jinja");
    char *sys = ks_chat_default_system(t);
    CHECK(sys && !strcmp(sys, "You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
          "SmolLM2 default system: %s", sys ? sys : "(null)");
    free(sys);
    free(t);
    t = template_file(src, "llama3.jinja");
    CHECK(ks_chat_default_system(t) == NULL, "llama3 has no default system");
    free(t);
    CHECK(ks_chat_default_system(NULL) == NULL, "NULL template");
    /* Qwen2.5 style: the first span is computed, the literal one comes later, with escapes */
    const char *qwen = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + "
                       "'<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba "
                       "Cloud. You\\'re helpful.<|im_end|>\\n' }}{%- endif %}";
    sys = ks_chat_default_system(qwen);
    CHECK(sys && !strcmp(sys, "You are Qwen, created by Alibaba Cloud. You're helpful."), "qwen default system: %s",
          sys ? sys : "(null)");
    free(sys);
    CHECK(ks_chat_default_system("<|im_start|>system\n{{ sys }}<|im_end|>") == NULL, "computed system is not literal");
    CHECK(ks_chat_default_system("'<|im_start|>system\\nunterminated") == NULL, "unterminated span");
    ks_chat_msg m = {"user", "Hi"};
    char *out = render(qwen, &m, 1, true);
    CHECK(out && !strcmp(out, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You're helpful.<|im_end|>\n"
                              "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"),
          "qwen renders its default system: %s", out);
    free(out);
}

static void test_edges(const char *src) {
    ks_chat_msg msgs[3] = {{"system", NULL}, {"user", NULL}, {"assistant", "ok"}};
    ks_chat_msg empty[3] = {{"system", ""}, {"user", ""}, {"assistant", "ok"}};
    const char *names[] = {"chatml", "llama2", "llama3", "zephyr", "gemma", "mistral", "mistral-v7", "phi3", "phi4"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *a = render(names[i], msgs, 3, true), *b = render(names[i], empty, 3, true);
        CHECK(a && b && !strcmp(a, b), "%s: NULL content renders as empty", names[i]);
        free(a);
        free(b);
        char *z = render(names[i], NULL, 0, false);
        CHECK(z != NULL, "%s: empty conversation", names[i]);
        free(z);
    }
    /* Gemma 1 has no system role (jinja raises): merged into the first user turn, as llama.cpp does */
    char *t = template_file(src, "gemma.jinja");
    ks_chat_msg sys_user[2] = {{"system", " Be brief. "}, {"user", "What is 2+2?"}};
    char *out = render(t, sys_user, 2, true);
    CHECK(out && !strcmp(out, "<bos><start_of_turn>user\nBe brief.\n\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n"),
          "gemma system merge: %s", out);
    free(out);
    free(t);

    /* unknown template: a clear error, nothing allocated */
    out = (char *)"sentinel";
    ks_err err = {0};
    ks_status st = ks_chat_render("{% for m in messages %}{{ m.content }}{% endfor %}", sys_user, 2, true, &out, &err);
    CHECK(st == KS_ERR_UNSUPPORTED && out == NULL && strstr(err.msg, "unsupported chat template"),
          "unknown template: %d %s", (int)st, err.msg);
    st = ks_chat_render(NULL, sys_user, 2, true, &out, &err);
    CHECK(st == KS_ERR_UNSUPPORTED && strstr(err.msg, "no chat template"), "NULL template: %s", err.msg);
    st = ks_chat_render("chatml", NULL, 2, true, &out, &err);
    CHECK(st == KS_ERR_INVALID_ARG, "NULL msgs with n > 0");
    ks_chat_msg norole = {NULL, "x"};
    st = ks_chat_render("chatml", &norole, 1, true, &out, &err);
    CHECK(st == KS_ERR_INVALID_ARG && out == NULL, "NULL role");
    CHECK(ks_chat_render("chatml", sys_user, 2, true, NULL, &err) == KS_ERR_INVALID_ARG, "NULL out");
    CHECK(ks_chat_render("chatml", sys_user, 2, true, &out, NULL) == KS_OK, "NULL err is fine");
    free(out);

    /* very long messages: 8 MB of content, trimmed on both ends */
    const size_t big = (size_t)8 << 20;
    char *content = malloc(big + 1);
    CHECK(content != NULL, "malloc");
    if (!content) return;
    memset(content, ' ', big);
    for (size_t i = 100; i < big - 100; i++) content[i] = (char)('a' + i % 26);
    content[big] = '\0';
    ks_chat_msg longm[2] = {{"user", content}, {"assistant", content}};
    out = render("llama3", longm, 2, true);
    const size_t want = strlen("<|begin_of_text|>") + 2 * (strlen("<|start_header_id|>user<|end_header_id|>\n\n") +
                                                            (big - 200) + strlen("<|eot_id|>")) +
                        strlen("<|start_header_id|>assistant<|end_header_id|>\n\n") + 5;
    CHECK(out && strlen(out) == want, "long llama3 render: %zu bytes, want %zu", out ? strlen(out) : 0, want);
    free(out);
    out = render("chatml", longm, 2, false);
    CHECK(out && strlen(out) == 2 * big + 2 * strlen("<|im_start|>\n<|im_end|>\n") + strlen("user") +
                                      strlen("assistant"),
          "long chatml render");
    free(out);
    free(content);

    /* Python strip() trims Unicode whitespace but never splits or eats other characters */
    ks_chat_msg u = {"user", "\xc2\xa0\xe3\x80\x80x\xe2\x80\x83\xe2\x80\x8b\xc2"}; /* nbsp ideo x emsp zwsp bad */
    out = render("llama3", &u, 1, false);
    CHECK(out && !strcmp(out, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx\xe2\x80\x83\xe2\x80\x8b\xc2"
                              "<|eot_id|>"),
          "zero-width space is not whitespace; a stray byte stops trimming");
    free(out);
}

int main(void) {
    const char *src = ks_test_env("KS_SRC_DIR", ".");
    test_goldens(src);
    test_detect(src);
    test_default_system(src);
    test_edges(src);
    TEST_DONE();
}
