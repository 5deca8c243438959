/* chat.c - chat template detection and native rendering (see chat.h).
 *
 * Each family is one row of a table: name, the BOS/EOS texts its reference
 * template receives as bos_token/eos_token, and a render function that writes
 * into a growable buffer. The buffer records allocation failure and size
 * overflow once; ks_chat_render checks it at the end, so render functions
 * are straight-line code that mirrors the Jinja they stand for.
 */
#include "generate/chat.h"

#include "base/checked.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

/* ---- output buffer: text, and the spans saying which bytes are message data ---- */

typedef struct sbuf {
    char *data;
    size_t len, cap;
    ks_chat_span *spans; /* runs of one kind covering data[0, len) in order */
    size_t n_spans, cap_spans;
    ks_status failed; /* KS_OK, KS_ERR_NOMEM or KS_ERR_LIMIT */
} sbuf;

/* Appends n bytes of s; content: message data (never control tokens) rather than template markup. */
static void put_n(sbuf *b, const char *s, size_t n, bool content) {
    if (b->failed || n == 0) return;
    if (n > SIZE_MAX / 4 - 1 - b->len) {
        b->failed = KS_ERR_LIMIT;
        return;
    }
    if (!b->n_spans || b->spans[b->n_spans - 1].content != content) {
        if (!KS_RESERVE(b->spans, b->cap_spans, b->n_spans, 1)) {
            b->failed = KS_ERR_NOMEM;
            return;
        }
        b->spans[b->n_spans++] = (ks_chat_span){b->len, 0, content};
    }
    if (!KS_RESERVE(b->data, b->cap, b->len, n + 1)) { /* n + 1 + len fits: checked above */
        b->failed = KS_ERR_NOMEM;
        return;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    b->spans[b->n_spans - 1].len += n;
}

static void put(sbuf *b, const char *s) { put_n(b, s, strlen(s), false); }     /* template markup */
static void put_data(sbuf *b, const char *s) { put_n(b, s, strlen(s), true); } /* message data */

/* A role is written as markup when it is a plain name (letters, digits, '_', '-': no token text of
 * any family's markup), so "<|" + "user" + "|>" stays one special token; any other role is data. */
static void put_role(sbuf *b, const char *role) {
    size_t n = strlen(role), plain = strspn(role, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
    put_n(b, role, n, plain != n);
}

/* Appends src's bytes [lo, hi) with their span kinds. */
static void put_sbuf(sbuf *b, const sbuf *src, size_t lo, size_t hi) {
    if (src->failed) b->failed = src->failed;
    for (size_t i = 0; i < src->n_spans; i++) {
        const ks_chat_span *sp = &src->spans[i];
        size_t s0 = sp->off > lo ? sp->off : lo, s1 = sp->off + sp->len < hi ? sp->off + sp->len : hi;
        if (s0 < s1) put_n(b, src->data + s0, s1 - s0, sp->content);
    }
}

static void sbuf_clear(sbuf *b) { b->len = b->n_spans = 0; }
static void sbuf_free(sbuf *b) {
    free(b->data);
    free(b->spans);
}

/* ---- Python str.strip(): Unicode whitespace at both ends ---- */

static bool py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

/* Decodes the well-formed UTF-8 character at s[0..n); returns its length, 0 if malformed. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (s[0] < 0x80) return *cp = s[0], 1;
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (!len || len > n || (s[0] >= 0xf0 && len != 4)) return 0;
    uint32_t c = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return *cp = c, len;
}

/* [*lo, *hi): s[0, n) without Python-whitespace at both ends. */
static void strip_range(const char *s, size_t n, size_t *lo, size_t *hi) {
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;
    *lo = 0, *hi = n;
    for (size_t k; *lo < n && (k = utf8_decode(p + *lo, n - *lo, &c)) && py_space(c);) *lo += k;
    while (*hi > *lo) { /* step back to the start of the last character */
        size_t st = *hi - 1;
        while (st > *lo && *hi - st < 4 && (p[st] & 0xc0) == 0x80) st--;
        size_t k = utf8_decode(p + st, *hi - st, &c);
        if (k != *hi - st || !py_space(c)) break;
        *hi = st;
    }
}

/* message data, strip()ped */
static void put_trimmed(sbuf *b, const char *s) {
    size_t lo, hi;
    strip_range(s, strlen(s), &lo, &hi);
    put_n(b, s + lo, hi - lo, true);
}

/* ---- families ---- */

typedef struct render_in {
    const char *tmpl;
    const ks_chat_msg *msgs;
    size_t n;
    bool add_ass;
    const char *bos, *eos;
} render_in;

static const char *content_of(const ks_chat_msg *m) { return m->content ? m->content : ""; }
static bool role_is(const ks_chat_msg *m, const char *r) { return strcmp(m->role, r) == 0; }

static void render_chatml(const render_in *in, sbuf *b) {
    if (in->n > 0 && !role_is(&in->msgs[0], "system")) {
        char *sys = ks_chat_default_system(in->tmpl); /* the template's own text: markup */
        if (sys) {
            put(b, "<|im_start|>system\n"), put(b, sys), put(b, "<|im_end|>\n");
            free(sys);
        }
    }
    for (size_t i = 0; i < in->n; i++)
        put(b, "<|im_start|>"), put_role(b, in->msgs[i].role), put(b, "\n"), put_data(b, content_of(&in->msgs[i])),
            put(b, "<|im_end|>\n");
    if (in->add_ass) put(b, "<|im_start|>assistant\n");
}

static void render_phi4(const render_in *in, sbuf *b) {
    for (size_t i = 0; i < in->n; i++)
        put(b, "<|im_start|>"), put_role(b, in->msgs[i].role), put(b, "<|im_sep|>"),
            put_data(b, content_of(&in->msgs[i])), put(b, "<|im_end|>");
    if (in->add_ass) put(b, "<|im_start|>assistant<|im_sep|>");
}

/* meta-llama/Llama-2-*-chat-hf: a leading system message is folded into the
 * first turn, and each turn's whole content is strip()ped. */
static void render_llama2(const render_in *in, sbuf *b) {
    size_t first = 0;
    const char *sys = NULL;
    if (in->n > 0 && role_is(&in->msgs[0], "system")) sys = content_of(&in->msgs[0]), first = 1;
    for (size_t i = first; i < in->n; i++) {
        const ks_chat_msg *m = &in->msgs[i];
        bool user = role_is(m, "user"), ass = role_is(m, "assistant");
        if (!user && !ass) continue;
        put(b, user ? in->bos : " ");
        if (user) put(b, "[INST] ");
        if (i == first && sys) { /* "<<SYS>>\n" + sys + ... + content, then strip(): sys keeps its spaces */
            sbuf tmp = {0};
            put(&tmp, "<<SYS>>\n"), put_data(&tmp, sys), put(&tmp, "\n<</SYS>>\n\n"), put_data(&tmp, content_of(m));
            size_t lo = 0, hi = 0;
            if (!tmp.failed) strip_range(tmp.data, tmp.len, &lo, &hi);
            put_sbuf(b, &tmp, lo, hi);
            sbuf_free(&tmp);
        } else {
            put_trimmed(b, content_of(m));
        }
        if (user) put(b, " [/INST]");
        else put(b, " "), put(b, in->eos);
    }
}

/* mistralai/Mistral-7B-Instruct-v0.1/v0.2 (no system role: merged, lenient) */
static void render_mistral(const render_in *in, sbuf *b) {
    put(b, in->bos);
    sbuf sys = {0};
    for (size_t i = 0; i < in->n; i++) {
        const ks_chat_msg *m = &in->msgs[i];
        if (role_is(m, "system")) {
            put_data(&sys, content_of(m)), put(&sys, "\n\n");
        } else if (role_is(m, "user")) {
            put(b, "[INST] ");
            put_sbuf(b, &sys, 0, sys.len), sbuf_clear(&sys);
            put_data(b, content_of(m)), put(b, " [/INST]");
        } else if (role_is(m, "assistant")) {
            put_data(b, content_of(m)), put(b, in->eos);
        }
    }
    if (sys.failed) b->failed = sys.failed;
    sbuf_free(&sys);
}

static void render_mistral_v7(const render_in *in, sbuf *b) {
    put(b, in->bos);
    for (size_t i = 0; i < in->n; i++) {
        const ks_chat_msg *m = &in->msgs[i];
        if (role_is(m, "system")) put(b, "[SYSTEM_PROMPT] "), put_data(b, content_of(m)), put(b, "[/SYSTEM_PROMPT]");
        else if (role_is(m, "user")) put(b, "[INST] "), put_data(b, content_of(m)), put(b, "[/INST]");
        else put(b, " "), put_data(b, content_of(m)), put(b, in->eos);
    }
}

static void render_llama3(const render_in *in, sbuf *b) {
    if (in->n > 0) put(b, in->bos);
    for (size_t i = 0; i < in->n; i++) {
        put(b, "<|start_header_id|>"), put_role(b, in->msgs[i].role), put(b, "<|end_header_id|>\n\n");
        put_trimmed(b, content_of(&in->msgs[i])), put(b, "<|eot_id|>");
    }
    if (in->add_ass) put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* HuggingFaceH4/zephyr-7b-beta: the generation prompt is emitted inside the
 * loop (loop.last), so an empty conversation gets none. */
static void render_zephyr(const render_in *in, sbuf *b) {
    for (size_t i = 0; i < in->n; i++) {
        const ks_chat_msg *m = &in->msgs[i];
        if (role_is(m, "user") || role_is(m, "system") || role_is(m, "assistant"))
            put(b, "<|"), put(b, m->role), put(b, "|>\n"), put_data(b, content_of(m)), put(b, in->eos), put(b, "\n");
        if (i + 1 == in->n && in->add_ass) put(b, "<|assistant|>\n");
    }
}

/* google/gemma-*-it. Gemma 3's template prefixes a leading system message,
 * untrimmed, to the first turn; Gemma 1/2 reject system messages, and we
 * prefix them trimmed to the next user turn as llama.cpp does. */
static void render_gemma(const render_in *in, sbuf *b) {
    const bool gemma3 = in->tmpl && strstr(in->tmpl, "first_user_prefix");
    sbuf sys = {0};
    put(b, in->bos);
    for (size_t i = 0; i < in->n; i++) {
        const ks_chat_msg *m = &in->msgs[i];
        if (role_is(m, "system") && (!gemma3 || i == 0)) {
            if (gemma3) put_data(&sys, content_of(m));
            else put_trimmed(&sys, content_of(m));
            continue;
        }
        const bool ass = role_is(m, "assistant");
        put(b, "<start_of_turn>");
        if (ass) put(b, "model");
        else put_role(b, m->role);
        put(b, "\n");
        if (sys.len && (gemma3 || !ass)) put_sbuf(b, &sys, 0, sys.len), put(b, "\n\n"), sbuf_clear(&sys);
        put_trimmed(b, content_of(m)), put(b, "<end_of_turn>\n");
    }
    if (in->add_ass) put(b, "<start_of_turn>model\n");
    if (sys.failed) b->failed = sys.failed;
    sbuf_free(&sys);
}

static void render_phi3(const render_in *in, sbuf *b) {
    for (size_t i = 0; i < in->n; i++)
        put(b, "<|"), put_role(b, in->msgs[i].role), put(b, "|>\n"), put_data(b, content_of(&in->msgs[i])),
            put(b, "<|end|>\n");
    if (in->add_ass) put(b, "<|assistant|>\n");
}

typedef struct chat_family {
    const char *name;
    const char *bos, *eos; /* the bos_token/eos_token texts of the family's models */
    void (*render)(const render_in *in, sbuf *b);
} chat_family;

static const chat_family families[KS_CHAT_COUNT] = {
    [KS_CHAT_UNKNOWN] = {"unknown", "", "", NULL},
    [KS_CHAT_CHATML] = {"chatml", "", "<|im_end|>", render_chatml},
    [KS_CHAT_LLAMA2] = {"llama2", "<s>", "</s>", render_llama2},
    [KS_CHAT_LLAMA3] = {"llama3", "<|begin_of_text|>", "<|eot_id|>", render_llama3},
    [KS_CHAT_ZEPHYR] = {"zephyr", "<s>", "</s>", render_zephyr},
    [KS_CHAT_GEMMA] = {"gemma", "<bos>", "<eos>", render_gemma},
    [KS_CHAT_MISTRAL_V7] = {"mistral-v7", "<s>", "</s>", render_mistral_v7},
    [KS_CHAT_PHI3] = {"phi3", "", "<|endoftext|>", render_phi3},
    [KS_CHAT_MISTRAL] = {"mistral", "<s>", "</s>", render_mistral},
    [KS_CHAT_PHI4] = {"phi4", "", "<|im_end|>", render_phi4},
};

const char *ks_chat_format_name(ks_chat_format f) {
    return f > KS_CHAT_UNKNOWN && f < KS_CHAT_COUNT ? families[f].name : "unknown";
}

/* ---- detection (llama.cpp llm_chat_detect_template order, for our families) ---- */

ks_chat_format ks_chat_detect(const char *t) {
    if (!t || !*t) return KS_CHAT_UNKNOWN;
    for (int f = KS_CHAT_UNKNOWN + 1; f < KS_CHAT_COUNT; f++)
        if (strcmp(t, families[f].name) == 0) return (ks_chat_format)f;
#define HAS(s) (strstr(t, (s)) != NULL)
    if (HAS("<|im_start|>")) {
        if (HAS("<|im_sep|>")) return KS_CHAT_PHI4;
        if (HAS("<end_of_utterance>")) return KS_CHAT_UNKNOWN; /* SmolVLM: <|im_start|> as BOS, not ChatML */
        return KS_CHAT_CHATML;
    }
    if (strncmp(t, "mistral", 7) == 0 || HAS("[INST]")) {
        if (HAS("[SYSTEM_PROMPT]")) return KS_CHAT_MISTRAL_V7;
        if (HAS("<<SYS>>")) return KS_CHAT_LLAMA2;
        if (HAS("[AVAILABLE_TOOLS]") || HAS("' [INST] ' + system_message")) return KS_CHAT_UNKNOWN; /* v1/v3 */
        return KS_CHAT_MISTRAL;
    }
    if (HAS("<|assistant|>") && HAS("<|end|>")) return KS_CHAT_PHI3;
    if (HAS("<|user|>") && HAS("<|assistant|>") && (HAS("eos_token") || HAS("<|endoftext|>")) && !HAS("[gMASK]"))
        return KS_CHAT_ZEPHYR;
    if (HAS("<start_of_turn>")) return KS_CHAT_GEMMA;
    if (HAS("<|start_header_id|>") && HAS("<|end_header_id|>")) return KS_CHAT_LLAMA3;
#undef HAS
    return KS_CHAT_UNKNOWN;
}

/* ---- default system message ---- */

/* Unescapes a Jinja string-literal span s[0..n) into a new string; NULL if
 * the span is not a plain literal (quotes, expressions) or on OOM. */
static char *literal_text(const char *s, size_t n) {
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\'' || c == '"' || (c == '{' && i + 1 < n && (s[i + 1] == '{' || s[i + 1] == '%'))) {
            free(out);
            return NULL;
        }
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        out[m++] = c;
    }
    out[m] = '\0';
    return out;
}

/* Linear in the template's size: a span must end before the next "<|im_start|>",
 * so the spans tried are disjoint and each byte is scanned a bounded number of
 * times (a tail search per candidate to the end of the text made a 4 MB template
 * of repeated heads take 37 s). */
/* First occurrence of needle[0, n) in [p, end), or NULL. Scans with memchr, whose
 * cost is the bytes it passes: strstr and memmem may look at the whole rest of
 * the text on every call (sanitizer interceptors do), which in a loop over
 * occurrences is quadratic. */
static const char *find(const char *p, const char *end, const char *needle, size_t n) {
    while (p < end && (size_t)(end - p) >= n) {
        const char *c = memchr(p, needle[0], (size_t)(end - p) - n + 1);
        if (!c || !memcmp(c, needle, n)) return c;
        p = c + 1;
    }
    return NULL;
}

char *ks_chat_default_system(const char *tmpl) {
    static const char start[] = "<|im_start|>", head[] = "<|im_start|>system", tail[] = "<|im_end|>";
    if (!tmpl) return NULL;
    const char *end = tmpl + strlen(tmpl);
    for (const char *p = find(tmpl, end, start, sizeof start - 1), *next; p; p = next) {
        next = find(p + 1, end, start, sizeof start - 1);
        const char *lim = next ? next : end, *q = p + sizeof head - 1;
        if (strncmp(p, head, sizeof head - 1) != 0) continue;
        if (*q == '\n') q++;
        else if (q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        if (q > lim) continue;
        const char *e = find(q, lim, tail, sizeof tail - 1);
        if (!e || e == q) continue;
        char *s = literal_text(q, (size_t)(e - q));
        if (s) return s;
    }
    return NULL;
}

/* ---- entry points ---- */

ks_status ks_chat_render_spans(const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs, bool add_assistant,
                               char **out, ks_chat_span **spans, size_t *n_spans, ks_err *err) {
    if (!out) return ks_err_set(err, KS_ERR_INVALID_ARG, "chat: out is NULL");
    *out = NULL;
    if (spans) *spans = NULL;
    if (n_spans) *n_spans = 0;
    if (n_msgs > 0 && !msgs) return ks_err_set(err, KS_ERR_INVALID_ARG, "chat: %zu messages but msgs is NULL", n_msgs);
    for (size_t i = 0; i < n_msgs; i++)
        if (!msgs[i].role) return ks_err_set(err, KS_ERR_INVALID_ARG, "chat: message %zu has no role", i);
    const ks_chat_format f = ks_chat_detect(tmpl);
    if (f == KS_CHAT_UNKNOWN) {
        if (!tmpl || !*tmpl) return ks_err_set(err, KS_ERR_UNSUPPORTED, "chat: the model has no chat template");
        return ks_err_set(err, KS_ERR_UNSUPPORTED,
                          "chat: unsupported chat template (%zu bytes, starts \"%.40s\"); known families: chatml, "
                          "llama2, llama3, zephyr, gemma, mistral, mistral-v7, phi3, phi4",
                          strlen(tmpl), tmpl);
    }
    const chat_family *fam = &families[f];
    render_in in = {tmpl, msgs, n_msgs, add_assistant, fam->bos, fam->eos};
    sbuf b = {0};
    fam->render(&in, &b);
    if (!b.failed && !b.data) {
        b.data = malloc(1);
        if (b.data) b.data[0] = '\0';
        else b.failed = KS_ERR_NOMEM;
    }
    if (b.failed) {
        sbuf_free(&b);
        return ks_err_set(err, b.failed, "chat: %s rendering %zu messages",
                          b.failed == KS_ERR_NOMEM ? "out of memory" : "output too large", n_msgs);
    }
    *out = b.data;
    if (spans) *spans = b.spans;
    else free(b.spans);
    if (n_spans) *n_spans = b.n_spans;
    return KS_OK;
}

ks_status ks_chat_render(const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs, bool add_assistant, char **out,
                         ks_err *err) {
    return ks_chat_render_spans(tmpl, msgs, n_msgs, add_assistant, out, NULL, NULL, err);
}

ks_status ks_chat_tokenize(const struct ks_tokenizer *tok, const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs,
                           bool add_assistant, bool parse_special_content, int32_t **ids, size_t *n_ids,
                           ks_err *err) {
    *ids = NULL;
    *n_ids = 0;
    if (!tok) return ks_err_set(err, KS_ERR_INVALID_ARG, "chat: NULL tokenizer");
    char *text = NULL;
    ks_chat_span *spans = NULL;
    size_t n_spans = 0;
    ks_status st = ks_chat_render_spans(tmpl, msgs, n_msgs, add_assistant, &text, &spans, &n_spans, err);
    if (st) return st;
    ks_tok_segment *segs = malloc((n_spans ? n_spans : 1) * sizeof *segs);
    if (!segs) {
        st = ks_err_set(err, KS_ERR_NOMEM, "chat: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_spans; i++)
        segs[i] = (ks_tok_segment){spans[i].off, spans[i].len, !spans[i].content || parse_special_content};
    /* templates that emit the BOS text themselves (Llama-2/3, Gemma) must not get a second BOS */
    bool add_bos = ks_tokenizer_add_bos(tok);
    size_t bl = 0;
    const char *bt = add_bos ? ks_token_text(tok, ks_tokenizer_bos(tok), &bl) : NULL;
    if (bt && bl && n_spans && !spans[0].content && spans[0].len >= bl && !memcmp(text, bt, bl)) add_bos = false;
    /* never EOS, whatever the vocabulary's add_eos_token: the model is to continue the prompt */
    st = ks_tokenize_segments(tok, text, strlen(text), segs, n_spans, add_bos, false, ids, n_ids, err);
done:
    free(segs);
    free(spans);
    free(text);
    return st;
}
