/* pretok.c - pre-tokenizer: splits text into words with a sequence of PCRE2
 * regexes chosen by the GGUF key tokenizer.ggml.pre.
 *
 * The table mirrors llama.cpp's pre-type table (llama-vocab.cpp): each name
 * maps to a list of regexes applied in order; every regex refines each piece
 * left by the previous one, and text between matches is kept as its own piece
 * (HF tokenizers' Split with behavior "Isolated"). Where llama.cpp adapted a
 * regex for std::regex we use the original from the model's tokenizer.json,
 * since PCRE2 handles it (\p{..}, (?i:..), lookahead) like the HF oniguruma
 * engine does.
 *
 * Text may be invalid UTF-8: patterns are compiled with PCRE2_MATCH_INVALID_UTF,
 * so invalid bytes never match and end up in the between-match pieces; no
 * byte outside [0, len) is read.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "base/checked.h"
#include "tokenizer/pretok_re.h"
#include "tokenizer/tok_impl.h"

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_CJK_DEEPSEEK "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+"
#define RE_BLOOM " ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"

typedef struct pre_desc {
    const char *const *names;
    const char *const *regexes;
    tok_pre_flags flags;
} pre_desc;

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

static const pre_desc pre_table[] = {
    {LIST("default"), LIST("[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"), {0}},
    {LIST("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"),
     LIST(RE_LLAMA3), {.ignore_merges = true, .add_bos = true}},
    {LIST("dbrx", "smaug-bpe"), LIST(RE_LLAMA3), {0}},
    {LIST("glm4", "chatglm-bpe"), LIST(RE_LLAMA3), {.no_bos = true}},
    {LIST("gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
          "modern-bert", "mpt", "olmo", "jais", "trillion", "granite-docling", "exaone4", "jina-v1-en",
          "jina-v2-code", "roberta-bpe"),
     LIST(RE_GPT2), {0}},
    {LIST("falcon"), LIST("[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"), {0}},
    {LIST("starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"),
     LIST("\\p{N}", RE_GPT2), {0}},
    {LIST("qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"), LIST(RE_QWEN2), {0}},
    {LIST("deepseek-llm"),
     LIST("[\r\n]",
          "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf\xc7\x84-\xca\x93"
          "\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd\xcd\xbf\xce\x86\xce\x88-\xce\x8a"
          "\xce\x8c\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-\xd2\x81\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96"
          "\xe1\x82\xa0-\xe1\x83\x85\xe1\x8e\xa0-\xe1\x8f\xb5\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba"
          "\xe1\xb2\xbd-\xe1\xb2\xbf\xe1\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a"
          "\xe1\xb8\x80-\xe1\xbc\x95\xe1\xbc\x98-\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85\xe1\xbd\x88-\xe1\xbd\x8d"
          "\xe1\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99\xe1\xbd\x9b\xe1\xbd\x9d\xe1\xbd\x9f-\xe1\xbd\xbd"
          "\xe1\xbe\x80-\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe\xe1\xbf\x82-\xe1\xbf\x84"
          "\xe1\xbf\x86-\xe1\xbf\x8c\xe1\xbf\x90-\xe1\xbf\x93\xe1\xbf\x96-\xe1\xbf\x9b\xe1\xbf\xa0-\xe1\xbf\xac"
          "\xe1\xbf\xb2-\xe1\xbf\xb4\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87\xe2\x84\x8a-\xe2\x84\x93"
          "\xe2\x84\x95\xe2\x84\x99-\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6\xe2\x84\xa8\xe2\x84\xaa-\xe2\x84\xad"
          "\xe2\x84\xaf-\xe2\x84\xb4\xe2\x84\xb9\xe2\x84\xbc-\xe2\x84\xbf\xe2\x85\x85-\xe2\x85\x89\xe2\x85\x8e"
          "\xe2\x86\x83\xe2\x86\x84\xe2\xb0\x80-\xe2\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4\xe2\xb3\xab-\xe2\xb3\xae"
          "\xe2\xb3\xb2\xe2\xb3\xb3\xea\x99\x80-\xea\x99\xad\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf"
          "\xea\x9d\xb1-\xea\x9e\x87\xea\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86"
          "\xef\xac\x93-\xef\xac\x97\xef\xbc\xa1-\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a"
          "\xf0\x90\x90\x80-\xf0\x90\x91\x8f\xf0\x90\x92\xb0-\xf0\x90\x93\x93\xf0\x90\x93\x98-\xf0\x90\x93\xbb"
          "\xf0\x90\xb2\x80-\xf0\x90\xb2\xb2\xf0\x90\xb3\x80-\xf0\x90\xb3\xb2\xf0\x91\xa2\xa0-\xf0\x91\xa3\x9f"
          "\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+",
          "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f"
          "\xe3\x80\x80-\xe3\x80\x82]+",
          "\\s+$", RE_CJK_DEEPSEEK, "\\p{N}+"),
     {0}},
    {LIST("deepseek-coder"), LIST("[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK_DEEPSEEK, "\\p{N}"), {0}},
    {LIST("poro-chat", "bloom", "gpt3-finnish"), LIST(RE_BLOOM), {0}},
    {LIST("viking"), LIST(RE_BLOOM, "\\p{N}"), {0}},
    {LIST("gpt-4o", "llama4"), LIST(RE_GPT4O), {0}},
    {LIST("tekken"), LIST(RE_TEKKEN), {.ignore_merges = true, .add_bos = true}},
};

/* White_Space as oniguruma (HF tokenizers) and llama.cpp define \s. PCRE2's
 * UCP \s also takes U+180E, so \s and \S are rewritten to this class. */
#define WS_CLASS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* Returns a malloc'ed copy of re with \s -> [WS] (WS inside a class) and
 * \S -> [^WS] outside classes, or NULL on OOM. */
static char *ws_rewrite(const char *re) {
    size_t n = strlen(re), wl = strlen(WS_CLASS), o = 0;
    char *out = malloc(n * (wl + 3) + 1);
    if (!out) return NULL;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char e = re[++i];
            if (e == 's' || (e == 'S' && !in_class)) {
                if (!in_class) out[o++] = '[';
                if (e == 'S') out[o++] = '^';
                memcpy(out + o, WS_CLASS, wl);
                o += wl;
                if (!in_class) out[o++] = ']';
            } else {
                out[o++] = c;
                out[o++] = e;
            }
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            out[o++] = c;
            if (i + 1 < n && re[i + 1] == '^') out[o++] = re[++i];
            if (i + 1 < n && re[i + 1] == ']') out[o++] = re[++i]; /* literal ] first in a class */
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

struct tok_pretok {
    pcre2_code *re[8];
    size_t n_re;
};

void pretok_free(tok_pretok *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_re; i++) pcre2_code_free(p->re[i]);
    free(p);
}

static const pre_desc *pre_lookup(const char *name, size_t len) {
    if (!name || len == 0) {
        name = "default";
        len = 7;
    }
    for (size_t i = 0; i < sizeof pre_table / sizeof pre_table[0]; i++)
        for (const char *const *n = pre_table[i].names; *n; n++)
            if (strlen(*n) == len && memcmp(*n, name, len) == 0) return &pre_table[i];
    return NULL;
}

ks_status pretok_create(const char *name, size_t name_len, tok_pretok **out, tok_pre_flags *flags, ks_err *err) {
    *out = NULL;
    const pre_desc *d = pre_lookup(name, name_len);
    if (!d)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "tokenizer: unknown pre-tokenizer '%.*s'",
                          (int)(name_len > 100 ? 100 : name_len), name);
    tok_pretok *p = calloc(1, sizeof *p);
    if (!p) return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory");
    for (const char *const *r = d->regexes; *r && p->n_re < 8; r++) {
        int ec;
        PCRE2_SIZE eoff;
        uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY;
        char *pat = ws_rewrite(*r);
        if (!pat) {
            pretok_free(p);
            return ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory");
        }
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eoff, NULL);
        free(pat);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            pretok_free(p);
            return ks_err_set(err, KS_ERR_UNSUPPORTED, "tokenizer: pre-tokenizer '%.*s': regex %zu at %zu: %s",
                              (int)name_len, name, (size_t)(r - d->regexes), (size_t)eoff, (const char *)msg);
        }
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
        p->re[p->n_re++] = re;
    }
    *flags = d->flags;
    *out = p;
    return KS_OK;
}

ks_status spans_push(tok_spans *s, size_t off, size_t len) {
    if (!KS_RESERVE(s->v, s->cap, s->n, 1)) return KS_ERR_NOMEM;
    s->v[s->n++] = (tok_span){off, len};
    return KS_OK;
}

/* One regex over one piece text[off, off+len): appends matches and gaps. */
static ks_status split_piece(const pcre2_code *re, pcre2_match_data *md, const char *text, size_t off, size_t len,
                             tok_spans *out, ks_err *err) {
    const PCRE2_SPTR subj = (PCRE2_SPTR)(text + off);
    size_t pos = 0, last = 0;
    ks_status st = KS_OK;
    while (pos <= len && !st) {
        int rc = pcre2_match(re, subj, len, pos, 0, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) rc = pcre2_match(re, subj, len, pos, PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return ks_err_set(err, KS_ERR_LIMIT, "tokenizer: pre-tokenizer regex failed at byte %zu: %s", off + pos,
                              (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me < ms || me > len) break; /* \K tricks; not used by our patterns */
        if (me == ms) { /* empty match: step over one character */
            pos = ms + 1;
            while (pos < len && ((uint8_t)text[off + pos] & 0xC0) == 0x80) pos++;
            continue;
        }
        if (ms > last) st = spans_push(out, off + last, ms - last);
        if (!st) st = spans_push(out, off + ms, me - ms);
        last = pos = me;
    }
    if (!st && last < len) st = spans_push(out, off + last, len - last);
    if (st) return ks_err_set(err, st, "tokenizer: out of memory splitting text");
    return KS_OK;
}

ks_status pretok_split(const tok_pretok *p, const char *text, size_t len, tok_spans *out, ks_err *err) {
    tok_spans a = {0}, b = {0};
    ks_status st = KS_OK;
    pcre2_match_data *md = NULL;
    if (len == 0) return KS_OK;
    if ((st = spans_push(&a, 0, len))) goto nomem;
    for (size_t r = 0; r < p->n_re; r++) {
        md = pcre2_match_data_create_from_pattern(p->re[r], NULL);
        if (!md) goto nomem;
        b.n = 0;
        for (size_t i = 0; i < a.n && !st; i++) st = split_piece(p->re[r], md, text, a.v[i].off, a.v[i].len, &b, err);
        pcre2_match_data_free(md);
        md = NULL;
        if (st) goto done;
        tok_spans t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < a.n && !st; i++) st = spans_push(out, a.v[i].off, a.v[i].len);
    if (st) goto nomem;
    goto done;
nomem:
    st = ks_err_set(err, KS_ERR_NOMEM, "tokenizer: out of memory splitting text");
done:
    free(a.v);
    free(b.v);
    return st;
}
