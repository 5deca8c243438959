/* hf_vocab.c - tokenizer.json (+ tokenizer_config.json, chat_template.jinja,
 * config.json's token ids) to GGUF tokenizer.* keys, following llama.cpp's
 * convert_hf_to_gguf.py (_set_vocab_gpt2, get_vocab_base) and gguf-py's
 * SpecialVocab.
 *
 * Only byte-level BPE ("model": {"type": "BPE"} with a ByteLevel pre-tokenizer
 * or decoder, no byte_fallback) is converted; SentencePiece-style tokenizers are
 * KS_ERR_UNSUPPORTED.
 *
 * The pre-tokenizer name (tokenizer.ggml.pre): llama.cpp hashes the token ids
 * of a probe text and looks the hash up in a table of known models, which needs
 * the reference tokenizer itself. Kestrel reads the pre_tokenizer section of
 * tokenizer.json instead and recognises the shapes of the known families (table
 * below: GPT-2's ByteLevel regex, SmolLM/StarCoder's single digits + ByteLevel,
 * the Llama 3 / Qwen2 / GPT-4o / Tekken split regexes); anything else is written
 * as "default" and reported (hf_vocab_info.pre_default), as the tokenization
 * may then differ from the model's.
 *
 * Ownership: token strings point into the parsed tokenizer.json tree except the
 * ones made here ([PADn], rewritten user-defined tokens, merges), which are
 * owned by the local tables and freed before returning; the GGUF writer copies
 * everything it is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/hf_impl.h"
#include "tokenizer/pretok_re.h"


#define MAX_STEPS 8
#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A pre-tokenizer shape: its splitting steps in order ("bytelevel" = ByteLevel
 * with use_regex, "digits1" = Digits(individual_digits), "split:RE" = Split
 * isolating RE); ByteLevel without a regex only maps bytes and is not a step.
 * ignore_merges: 1 / 0 to require tokenizer.json's model.ignore_merges, -1 any. */
static const struct {
    const char *name; /* as llama.cpp names the reference model's pre-tokenizer */
    const char *const *steps;
    int ignore_merges;
} pre_shapes[] = {
    {"gpt-2", LIST("bytelevel"), -1},
    {"smollm", LIST("digits1", "bytelevel"), -1},
    {"llama-bpe", LIST("split:" RE_LLAMA3), 1},
    {"smaug-bpe", LIST("split:" RE_LLAMA3), 0},
    {"qwen2", LIST("split:" RE_QWEN2), -1},
    {"gpt-4o", LIST("split:" RE_GPT4O), -1},
    {"tekken", LIST("split:" RE_TEKKEN), -1},
};

/* appends the splitting steps of pre-tokenizer p (flattening Sequence); false if
 * a step is not one the table knows (the caller then writes "default") */
static bool pre_steps(const cJSON *p, char **steps, int *n, int depth) {
    const char *type = hf_json_str(p, "type");
    if (!type || depth > 4) return false;
    if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        if (!cJSON_IsArray(list)) return false;
        for (const cJSON *c = list->child; c; c = c->next)
            if (!pre_steps(c, steps, n, depth + 1)) return false;
        return true;
    }
    if (*n == MAX_STEPS) return false;
    const char *step = NULL;
    char *owned = NULL;
    if (!strcmp(type, "ByteLevel")) {
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
        if (cJSON_IsFalse(re)) return true; /* byte mapping only */
        step = "bytelevel";
    } else if (!strcmp(type, "Digits")) {
        step = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "individual_digits")) ? "digits1" : "digits";
    } else if (!strcmp(type, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const char *re = pat ? hf_json_str(pat, "Regex") : NULL, *beh = hf_json_str(p, "behavior");
        if (!re || !beh || strcmp(beh, "Isolated") || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "invert")))
            return false;
        owned = malloc(strlen(re) + 7);
        if (!owned) return false;
        memcpy(owned, "split:", 6);
        memcpy(owned + 6, re, strlen(re) + 1);
    } else {
        return false;
    }
    steps[(*n)++] = owned ? owned : strdup(step);
    return steps[*n - 1] != NULL;
}

/* tokenizer.ggml.pre for tokenizer.json's pre_tokenizer */
static void detect_pre(const cJSON *tj, hf_vocab_info *info) {
    char *steps[MAX_STEPS];
    int n = 0;
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(tj, "pre_tokenizer");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(tj, "model");
    const int im = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    const bool ok = cJSON_IsObject(pre) && pre_steps(pre, steps, &n, 0);
    snprintf(info->pre, sizeof info->pre, "default");
    info->pre_default = true;
    for (size_t i = 0; ok && i < sizeof pre_shapes / sizeof pre_shapes[0]; i++) {
        int k = 0;
        while (k < n && pre_shapes[i].steps[k] && !strcmp(pre_shapes[i].steps[k], steps[k])) k++;
        if (k == n && !pre_shapes[i].steps[k] && (pre_shapes[i].ignore_merges < 0 || pre_shapes[i].ignore_merges == im)) {
            snprintf(info->pre, sizeof info->pre, "%s", pre_shapes[i].name);
            info->pre_default = false;
            break;
        }
    }
    for (int k = 0; k < n; k++) free(steps[k]);
}

/* true if tokenizer.json is byte-level BPE (else err says why) */
static ks_status check_kind(const cJSON *tj, ks_err *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(tj, "model");
    const char *type = cJSON_IsObject(model) ? hf_json_str(model, "type") : NULL;
    if (!type) return ks_err_set(err, KS_ERR_FORMAT, "tokenizer.json: no \"model\" object with a \"type\"");
    if (strcmp(type, "BPE"))
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "tokenizer.json: model type '%.32s' is not supported (byte-level BPE only)",
                          type);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")))
        return ks_err_set(err, KS_ERR_UNSUPPORTED,
                          "tokenizer.json: SentencePiece-style BPE (byte_fallback) is not supported (byte-level BPE only)");
    const char *a = hf_json_str(cJSON_GetObjectItemCaseSensitive(tj, "decoder"), "type");
    bool byte_level = a && !strcmp(a, "ByteLevel");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(tj, "pre_tokenizer");
    const char *pt = cJSON_IsObject(pre) ? hf_json_str(pre, "type") : NULL;
    if (pt && !strcmp(pt, "ByteLevel")) byte_level = true;
    if (pt && !strcmp(pt, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
        for (const cJSON *c = cJSON_IsArray(list) ? list->child : NULL; c; c = c->next) {
            const char *t = hf_json_str(c, "type");
            if (t && !strcmp(t, "ByteLevel")) byte_level = true;
        }
    }
    if (!byte_level)
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "tokenizer.json: BPE without a ByteLevel pre-tokenizer or decoder is not supported");
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(model, "vocab")))
        return ks_err_set(err, KS_ERR_FORMAT, "tokenizer.json: model.vocab is not an object");
    return KS_OK;
}

/* ---- the token table ---- */

typedef struct vocab {
    int64_t n;
    const char **text; /* n entries: borrowed from the JSON tree or from owned[] */
    int32_t *type;
    const cJSON **added; /* the added_tokens entry of each id, or NULL */
    char **owned;        /* n entries, NULL unless made here */
} vocab;

static void vocab_free(vocab *v) {
    for (int64_t i = 0; v->owned && i < v->n; i++) free(v->owned[i]);
    free(v->text), free(v->type), free(v->added), free(v->owned);
}

static bool looks_special(const char *t) {
    const size_t n = strlen(t);
    if (!strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") || !strcmp(t, "[@BOS@]")) return true;
    if (n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>")) return true;
    if (n >= 8 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>")) return true; /* <｜ ... ｜> */
    return n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>';
}

/* copy of s with every U+2581 replaced by a space */
static char *unescape_spaces(const char *s) {
    char *o = malloc(strlen(s) + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (const char *p = s; *p;) {
        if (!strncmp(p, "\xe2\x96\x81", 3)) o[k++] = ' ', p += 3;
        else o[k++] = *p++;
    }
    o[k] = '\0';
    return o;
}

static ks_status vocab_build(const cJSON *tj, int64_t n_vocab, vocab *v, ks_err *err) {
    v->n = n_vocab;
    v->text = calloc((size_t)n_vocab, sizeof *v->text);
    v->type = calloc((size_t)n_vocab, sizeof *v->type);
    v->added = calloc((size_t)n_vocab, sizeof *v->added);
    v->owned = calloc((size_t)n_vocab, sizeof *v->owned);
    if (!v->text || !v->type || !v->added || !v->owned) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(tj, "model");
    for (const cJSON *c = cJSON_GetObjectItemCaseSensitive(model, "vocab")->child; c; c = c->next) {
        const double id = cJSON_IsNumber(c) ? c->valuedouble : -1;
        if (!(id >= 0 && id < (double)n_vocab) || (double)(int64_t)id != id)
            return ks_err_set(err, KS_ERR_FORMAT, "tokenizer.json: token '%.64s' has id %g, outside [0, %lld) (config.json vocab_size)",
                              c->string, id, (long long)n_vocab);
        v->text[(int64_t)id] = c->string;
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a; a = a->next) {
        int64_t id;
        const char *content = hf_json_str(a, "content");
        if (!hf_json_int(a, "id", &id) || !content)
            return ks_err_set(err, KS_ERR_FORMAT, "tokenizer.json: an added_tokens entry lacks an integer id or a content string");
        if (id < 0 || id >= n_vocab)
            return ks_err_set(err, KS_ERR_FORMAT, "tokenizer.json: added token '%.64s' has id %lld, outside [0, %lld)", content,
                              (long long)id, (long long)n_vocab);
        v->text[id] = content;
        v->added[id] = a;
    }
    for (int64_t i = 0; i < n_vocab; i++) {
        if (!v->text[i]) {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
            if (!(v->text[i] = v->owned[i] = strdup(pad))) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
            v->type[i] = 5; /* UNUSED */
        } else if (v->added[i]) {
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v->added[i], "special")) || looks_special(v->text[i])) {
                v->type[i] = 3; /* CONTROL */
            } else {
                v->type[i] = 4; /* USER_DEFINED, with SentencePiece spaces pre-normalised */
                if (!(v->text[i] = v->owned[i] = unescape_spaces(v->text[i])))
                    return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
            }
        } else {
            v->type[i] = 1; /* NORMAL */
        }
    }
    return KS_OK;
}

/* copies part to o with each space written as U+0120; returns the bytes written */
static size_t put_merge_part(char *o, const char *part) {
    size_t k = 0;
    for (; *part; part++) {
        if (*part == ' ') o[k++] = '\xc4', o[k++] = '\xa0';
        else o[k++] = *part;
    }
    return k;
}

/* model.merges as "a b" strings: old format (strings) kept, pair format joined
 * with spaces inside a part written as U+0120 (as SpecialVocab does) */
static ks_status write_merges(const cJSON *tj, gguf_writer *w, ks_err *err) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tj, "model"), "merges");
    if (!cJSON_IsArray(m) || !m->child) return ks_err_set(err, KS_ERR_FORMAT, "tokenizer.json: model.merges missing or empty");
    size_t n = 0;
    for (const cJSON *c = m->child; c; c = c->next) n++;
    char **s = calloc(n, sizeof *s);
    if (!s) return ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    ks_status st = KS_OK;
    size_t i = 0;
    for (const cJSON *c = m->child; c && !st; c = c->next, i++) {
        if (cJSON_IsString(c)) {
            if (!(s[i] = strdup(c->valuestring))) st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
            continue;
        }
        const cJSON *a = cJSON_IsArray(c) ? c->child : NULL, *b = a ? a->next : NULL;
        if (!cJSON_IsString(a) || !cJSON_IsString(b) || b->next) {
            st = ks_err_set(err, KS_ERR_FORMAT, "tokenizer.json: merge %zu is neither \"a b\" nor [\"a\", \"b\"]", i);
            break;
        }
        char *o = s[i] = malloc(2 * (strlen(a->valuestring) + strlen(b->valuestring)) + 2);
        if (!o) {
            st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
            break;
        }
        const size_t k = put_merge_part(o, a->valuestring);
        o[k] = ' ';
        o[k + 1 + put_merge_part(o + k + 1, b->valuestring)] = '\0';
    }
    if (!st && gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)s, n))
        st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) free(s[k]);
    free(s);
    return st;
}

/* ---- special tokens (gguf-py SpecialVocab) ---- */

enum { SP_BOS, SP_EOS, SP_UNK, SP_SEP, SP_PAD, SP_CLS, SP_MASK, SP_EOT, SP_EOM, SP_COUNT };
static const char *const sp_name[SP_COUNT] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask", "eot", "eom"};
static const char *const sp_id_key[SP_COUNT] = {
    "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",        "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", NULL /* gguf-py has no cls key */,
    "tokenizer.ggml.mask_token_id", "tokenizer.ggml.eot_token_id",       "tokenizer.ggml.eom_token_id"};

typedef struct specials {
    const char *tc_tok[SP_COUNT]; /* tokenizer_config "<typ>_token" contents (borrowed) */
    bool active[SP_COUNT];        /* the 7 standard types, plus eot/eom when added */
    int64_t id[SP_COUNT];         /* -1: unset */
    int id_order[SP_COUNT], n_id; /* insertion order, as the Python dict */
    int add[SP_COUNT];            /* -1 unset, 0/1 */
    int add_order[SP_COUNT], n_add;
} specials;

static void set_id(specials *s, int typ, int64_t id, int64_t n_vocab) {
    if (id < 0 || id >= n_vocab || s->id[typ] >= 0) return; /* out of range: skipped (llama.cpp warns) */
    s->id[typ] = id;
    s->id_order[s->n_id++] = typ;
}

static void set_add(specials *s, int typ, bool v, bool overwrite) {
    if (s->add[typ] < 0) s->add_order[s->n_add++] = typ;
    else if (!overwrite) return;
    s->add[typ] = v;
}

/* "<typ>_token" of tokenizer_config: a string or {"content": ...} */
static const char *tc_token(const cJSON *tc, const char *typ) {
    char key[32];
    snprintf(key, sizeof key, "%s_token", typ);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(tc, key);
    if (cJSON_IsString(e)) return e->valuestring;
    return cJSON_IsObject(e) ? hf_json_str(e, "content") : NULL;
}

static const char *special_token_id(const cJSON *item) {
    return hf_json_str(cJSON_GetObjectItemCaseSensitive(item, "SpecialToken"), "id");
}

static bool same(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static const char *sequence_id(const cJSON *item) {
    return hf_json_str(cJSON_GetObjectItemCaseSensitive(item, "Sequence"), "id");
}

/* element i of a JSON array (negative: from the end), or NULL */
static const cJSON *at(const cJSON *arr, int i, int n) { return i < 0 ? cJSON_GetArrayItem(arr, n + i) : cJSON_GetArrayItem(arr, i); }

/* TemplateProcessing, parsed as crudely as SpecialVocab does: a special token
 * first in <single> means add_bos, last means add_eos (the previous EOS becomes
 * EOT, or EOM); <pair> = [first] A sep... B [last] decides add_sep */
static void template_processing(const cJSON *it, const cJSON *tc, specials *s) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(it, "single"), *pair = cJSON_GetObjectItemCaseSensitive(it, "pair");
    const int ns = cJSON_IsArray(single) ? cJSON_GetArraySize(single) : 0;
    const char *first = NULL, *last = NULL;
    if (ns > 1) {
        first = special_token_id(at(single, 0, ns)), last = special_token_id(at(single, -1, ns));
        if (first && !*first) first = NULL;
        if (last && !*last) last = NULL;
        if (first) {
            if (tc && !same(first, s->tc_tok[SP_BOS]) && !same(first, s->tc_tok[SP_CLS])) {
                if (!s->tc_tok[SP_BOS]) s->tc_tok[SP_BOS] = first;
                if (!s->tc_tok[SP_CLS]) s->tc_tok[SP_CLS] = first;
            }
            set_add(s, SP_BOS, !tc || same(first, s->tc_tok[SP_BOS]) || same(first, s->tc_tok[SP_CLS]), true);
        }
        if (last) {
            if (tc && !same(last, s->tc_tok[SP_EOS])) {
                const int alt = !s->active[SP_EOT] ? SP_EOT : !s->active[SP_EOM] ? SP_EOM : -1;
                if (alt >= 0) s->active[alt] = true, s->tc_tok[alt] = s->tc_tok[SP_EOS];
                s->tc_tok[SP_EOS] = last;
            }
            set_add(s, SP_EOS, true, true);
        }
    }
    int n = cJSON_IsArray(pair) ? cJSON_GetArraySize(pair) : 0, lo = 0;
    if (!n) return;
    if (first && same(special_token_id(at(pair, 0, n)), first)) lo = 1;
    if (last && same(special_token_id(at(pair, -1, n)), last)) n--;
    if (n - lo < 1 || !same(sequence_id(at(pair, lo, n)), "A") || !same(sequence_id(at(pair, n - 1, n)), "B") || n - lo < 3)
        return; /* no A ... B with something between */
    const char *sep = s->tc_tok[SP_SEP], *eos = s->tc_tok[SP_EOS], *e1 = special_token_id(at(pair, lo + 1, n));
    bool add_sep = e1 && *e1 && (same(e1, sep) || same(e1, eos)) && !last;
    if (n - lo - 2 == 2) {
        const char *e2 = special_token_id(at(pair, lo + 2, n));
        if (e2 && *e2 && (same(e2, sep) || same(e2, eos))) add_sep = true;
    }
    set_add(s, SP_SEP, add_sep, true);
    if (add_sep && !sep && tc) s->tc_tok[SP_SEP] = eos;
}

/* post_processor: ByteLevel, RobertaProcessing, TemplateProcessing (SpecialVocab's reading) */
static void post_processor(const cJSON *pp, const cJSON *tc, specials *s) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
    const cJSON *it = cJSON_IsArray(list) ? list->child : pp;
    for (; it; it = cJSON_IsArray(list) ? it->next : NULL) {
        const char *type = hf_json_str(it, "type");
        if (!type) continue;
        if (!strcmp(type, "ByteLevel")) {
            if (s->add[SP_BOS] < 0) set_add(s, SP_BOS, false, false);
            if (s->add[SP_EOS] < 0) set_add(s, SP_EOS, false, false);
        } else if (!strcmp(type, "RobertaProcessing")) {
            set_add(s, SP_BOS, true, true), set_add(s, SP_EOS, true, true), set_add(s, SP_SEP, true, true);
        } else if (!strcmp(type, "TemplateProcessing")) {
            template_processing(it, tc, s);
        }
    }
}

/* the id of the first added token whose content is text, or -1 */
static int64_t added_id(const cJSON *tj, const char *text) {
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    for (const cJSON *a = cJSON_IsArray(added) ? added->child : NULL; a && text; a = a->next) {
        int64_t id;
        if (same(hf_json_str(a, "content"), text) && hf_json_int(a, "id", &id)) return id;
    }
    return -1;
}

/* tokenizer.chat_template: tokenizer_config's, else chat_template.jinja, else chat_template.json */
static ks_status write_chat_template(const char *dir, const cJSON *tc, gguf_writer *w, ks_err *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(tc, "chat_template");
    char *owned = NULL;
    cJSON *ctj = NULL;
    ks_status st = KS_OK;
    if (!t || cJSON_IsNull(t)) {
        if (hf_file_exists(dir, "chat_template.jinja")) {
            if ((st = hf_read_text(dir, "chat_template.jinja", &owned, NULL, err))) return st;
        } else if (hf_file_exists(dir, "chat_template.json")) {
            if ((st = hf_json_load(dir, "chat_template.json", true, &ctj, err))) return st;
            t = cJSON_GetObjectItemCaseSensitive(ctj, "chat_template");
        }
    }
    if (owned) {
        st = gguf_writer_set_str(w, "tokenizer.chat_template", owned);
    } else if (cJSON_IsString(t)) {
        st = gguf_writer_set_str(w, "tokenizer.chat_template", t->valuestring);
    } else if (cJSON_IsArray(t)) { /* [{"name": ..., "template": ...}]: "default" plus named ones */
        const char *names[64];
        char keys[64][96];
        uint64_t n = 0;
        for (const cJSON *c = t->child; c && !st; c = c->next) {
            const char *name = hf_json_str(c, "name"), *tmpl = hf_json_str(c, "template");
            if (!name || !*name || !tmpl) continue;
            if (!strcmp(name, "default")) {
                st = gguf_writer_set_str(w, "tokenizer.chat_template", tmpl);
            } else if (n < 64) {
                char clean[64];
                size_t k = 0;
                for (const char *p = name; *p && k < sizeof clean - 1; p++)
                    clean[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ? *p : '_';
                clean[k] = '\0';
                snprintf(keys[n], sizeof keys[n], "tokenizer.chat_template.%s", clean);
                st = gguf_writer_set_str(w, keys[n], tmpl);
                names[n] = keys[n] + strlen("tokenizer.chat_template.");
                n++;
            }
        }
        if (!st && n) st = gguf_writer_set_arr_str(w, "tokenizer.chat_templates", names, n);
    }
    free(owned);
    cJSON_Delete(ctj);
    return st ? ks_err_set(err, st, "out of memory") : KS_OK;
}

static void normalizer_flags(const cJSON *n, int *lower, int *strip, int depth) {
    const char *type = hf_json_str(n, "type");
    if (!type || depth > 4) return;
    if (!strcmp(type, "Lowercase")) *lower = 1;
    else if (!strcmp(type, "StripAccents")) *strip = 1;
    else if (!strcmp(type, "BertNormalizer")) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(n, "lowercase"), *s = cJSON_GetObjectItemCaseSensitive(n, "strip_accents");
        if (cJSON_IsBool(l)) *lower = cJSON_IsTrue(l);
        if (cJSON_IsBool(s)) *strip = cJSON_IsTrue(s);
    } else if (!strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        for (const cJSON *c = cJSON_IsArray(list) ? list->child : NULL; c; c = c->next) normalizer_flags(c, lower, strip, depth + 1);
    }
}

/* special ids, add_* flags, chat template, normalizer flags (SpecialVocab.add_to_gguf order) */
static ks_status write_specials(const char *dir, const cJSON *tj, const cJSON *tc, const hf_config *cfg, gguf_writer *w,
                                ks_err *err) {
    specials s;
    memset(&s, 0, sizeof s);
    for (int t = 0; t < SP_COUNT; t++) s.id[t] = -1, s.add[t] = -1, s.active[t] = t < SP_EOT;
    for (int t = 0; tc && t < SP_COUNT; t++) s.tc_tok[t] = tc_token(tc, sp_name[t]);
    if (tc && !s.tc_tok[SP_BOS] && s.tc_tok[SP_CLS]) s.tc_tok[SP_BOS] = s.tc_tok[SP_CLS];
    if (tc && !s.tc_tok[SP_EOS] && s.tc_tok[SP_SEP]) s.tc_tok[SP_EOS] = s.tc_tok[SP_SEP];
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(tj, "post_processor");
    if (cJSON_IsObject(pp)) post_processor(pp, tc, &s);
    ks_status st = KS_OK;
    if (tc) {
        for (int t = 0; t < SP_COUNT; t++) {
            if (!s.active[t]) continue;
            char key[32];
            snprintf(key, sizeof key, "add_%s_token", sp_name[t]);
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(tc, key);
            if (cJSON_IsBool(a)) set_add(&s, t, cJSON_IsTrue(a), false);
            set_id(&s, t, added_id(tj, s.tc_tok[t]), cfg->n_vocab);
        }
    }
    for (int t = 0; t < SP_COUNT; t++) { /* config.json "<typ>_token_id" (integers only) */
        char key[32];
        int64_t id;
        snprintf(key, sizeof key, "%s_token_id", sp_name[t]);
        if (s.active[t] && hf_json_int(cfg->json, key, &id)) set_id(&s, t, id, cfg->n_vocab);
    }
    if (cfg->fam->llama_keys && cfg->n_vocab == 49152) set_add(&s, SP_BOS, false, true); /* LlamaModel: granite/SmolLM */
    for (int i = 0; !st && i < s.n_id; i++)
        if (sp_id_key[s.id_order[i]]) st = gguf_writer_set_u32(w, sp_id_key[s.id_order[i]], (uint32_t)s.id[s.id_order[i]]);
    for (int i = 0; !st && i < s.n_add; i++) {
        const int t = s.add_order[i];
        char key[48];
        if (t != SP_BOS && t != SP_EOS && t != SP_SEP) continue; /* the writer has no add_<typ> key for the others */
        snprintf(key, sizeof key, "tokenizer.ggml.add_%s_token", sp_name[t]);
        st = gguf_writer_set_bool(w, key, s.add[t] == 1);
    }
    if (st) return ks_err_set(err, st, "out of memory");
    if (tc && (st = write_chat_template(dir, tc, w, err))) return st;
    int lower = -1, strip = -1;
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(tj, "normalizer");
    if (cJSON_IsObject(norm)) normalizer_flags(norm, &lower, &strip, 0);
    if (lower >= 0) st = gguf_writer_set_bool(w, "tokenizer.ggml.normalizer.lowercase", lower);
    if (!st && strip >= 0) st = gguf_writer_set_bool(w, "tokenizer.ggml.normalizer.strip_accents", strip);
    return st ? ks_err_set(err, st, "out of memory") : KS_OK;
}

ks_status hf_vocab_write_gguf(const char *dir, const hf_config *cfg, gguf_writer *w, hf_vocab_info *info, ks_err *err) {
    cJSON *tj = NULL, *tc = NULL;
    vocab v = {0};
    ks_status st;
    if (!hf_file_exists(dir, "tokenizer.json") && hf_file_exists(dir, "tokenizer.model"))
        return ks_err_set(err, KS_ERR_UNSUPPORTED, "%s: only tokenizer.model (SentencePiece), which is not supported: byte-level BPE tokenizer.json only", dir);
    if ((st = hf_json_load(dir, "tokenizer.json", true, &tj, err)) || (st = check_kind(tj, err)) ||
        (st = hf_json_load(dir, "tokenizer_config.json", false, &tc, err)))
        goto done;
    detect_pre(tj, info);
    if (cfg->fam->llama_keys && tc) { /* LlamaModel.set_vocab */
        const cJSON *aps = cJSON_GetObjectItemCaseSensitive(tc, "add_prefix_space");
        if (cJSON_IsBool(aps) && gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix", cJSON_IsTrue(aps))) goto nomem;
    }
    if ((st = vocab_build(tj, cfg->n_vocab, &v, err))) goto done;
    if (gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2") || gguf_writer_set_str(w, "tokenizer.ggml.pre", info->pre) ||
        gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v.text, (uint64_t)v.n) ||
        gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.type, (uint64_t)v.n))
        goto nomem;
    if ((st = write_merges(tj, w, err))) goto done;
    st = write_specials(dir, tj, tc, cfg, w, err);
    goto done;
nomem:
    st = ks_err_set(err, KS_ERR_NOMEM, "out of memory");
done:
    vocab_free(&v);
    cJSON_Delete(tj);
    cJSON_Delete(tc);
    return st;
}
