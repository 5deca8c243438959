/* test_hf_convert.c - the Hugging Face folder converter on small synthetic
 * folders written here: tensor names, shapes, types and the LLaMA q/k row
 * permutation (checked value by value), F16/BF16/F32 sources, untied lm_head,
 * Q8_0 fallback, vocabulary keys (PAD fill, token types, pair merges with
 * spaces, special ids, add_bos, chat template); then every class of bad
 * folder (missing/bad config keys, bad JSON, unknown architecture, missing,
 * misshapen, unmappable or integer tensors, broken shard index, truncated
 * shard, unsupported tokenizers) gives its status and a clear message, and
 * leaves no output file behind. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "formats/hf.h"
#include "ks_test.h"
#include "model/model.h"
#include "tensor/dtype.h"

/* hidden 8, 1 layer, 2 heads of 4, 1 kv head, ff 16, vocab 12 */
#define E 8
#define FF 16
#define V 12

static char dir[256], out[300];

static void put_file(const char *name, const char *text, size_t len) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) return;
    fwrite(text, 1, len, f);
    fclose(f);
}
static void put_text(const char *name, const char *text) { put_file(name, text, strlen(text)); }
static void rm_file(const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    remove(p);
}

typedef struct tdesc {
    const char *name, *dtype;
    int64_t rows, cols; /* cols 0: a vector */
} tdesc;

/* value of element (r, c) of tensor i: distinct per row and column */
static float value(int i, int64_t r, int64_t c) { return (float)(i + 1) + (float)r * 0.25f + (float)c / 64.0f; }

static size_t dsize(const char *dt) { return !strcmp(dt, "F32") ? 4 : !strcmp(dt, "I64") ? 8 : 2; }

/* writes a safetensors file of the n tensors (values from value()) */
static void put_safetensors(const char *name, const tdesc *t, int n) {
    char hdr[8192];
    size_t h = 0, off = 0;
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (int i = 0; i < n; i++) {
        const size_t bytes = (size_t)(t[i].rows * (t[i].cols ? t[i].cols : 1)) * dsize(t[i].dtype);
        if (t[i].cols)
            h += (size_t)snprintf(hdr + h, sizeof hdr - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld,%lld],\"data_offsets\":[%zu,%zu]}",
                                  t[i].name, t[i].dtype, (long long)t[i].rows, (long long)t[i].cols, off, off + bytes);
        else
            h += (size_t)snprintf(hdr + h, sizeof hdr - h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%lld],\"data_offsets\":[%zu,%zu]}",
                                  t[i].name, t[i].dtype, (long long)t[i].rows, off, off + bytes);
        off += bytes;
    }
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "}");
    uint8_t *buf = malloc(8 + h + off);
    for (int k = 0; k < 8; k++) buf[k] = (uint8_t)((uint64_t)h >> (8 * k));
    memcpy(buf + 8, hdr, h);
    uint8_t *d = buf + 8 + h;
    for (int i = 0; i < n; i++) {
        const int64_t cols = t[i].cols ? t[i].cols : 1;
        for (int64_t r = 0; r < t[i].rows; r++)
            for (int64_t c = 0; c < cols; c++) {
                const float f = value(i, r, c);
                if (!strcmp(t[i].dtype, "F32")) memcpy(d, &f, 4);
                else if (!strcmp(t[i].dtype, "F16")) {
                    uint16_t u = ks_fp32_to_fp16(f);
                    memcpy(d, &u, 2);
                } else if (!strcmp(t[i].dtype, "BF16")) {
                    uint16_t u = ks_fp32_to_bf16(f);
                    memcpy(d, &u, 2);
                } else {
                    int64_t v = (int64_t)f;
                    memcpy(d, &v, 8);
                }
                d += dsize(t[i].dtype);
            }
    }
    put_file(name, (const char *)buf, 8 + h + off);
    free(buf);
}

/* the valid model's tensors; index 3 is q_proj (F32), 4 k_proj (F32) */
static tdesc tensors[] = {
    {"lm_head.weight", "F16", V, E},
    {"model.embed_tokens.weight", "BF16", V, E},
    {"model.layers.0.input_layernorm.weight", "BF16", E, 0},
    {"model.layers.0.self_attn.q_proj.weight", "F32", E, E},
    {"model.layers.0.self_attn.k_proj.weight", "F32", 4, E},
    {"model.layers.0.self_attn.v_proj.weight", "F16", 4, E},
    {"model.layers.0.self_attn.o_proj.weight", "F16", E, E},
    {"model.layers.0.post_attention_layernorm.weight", "F32", E, 0},
    {"model.layers.0.mlp.gate_proj.weight", "BF16", FF, E},
    {"model.layers.0.mlp.up_proj.weight", "BF16", FF, E},
    {"model.layers.0.mlp.down_proj.weight", "BF16", E, FF},
    {"model.norm.weight", "F32", E, 0},
    {"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", 2, 0},
};
#define N_TENSORS ((int)(sizeof tensors / sizeof tensors[0]))

static const char *config_ok =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
    "\"num_key_value_heads\":1,\"intermediate_size\":16,\"vocab_size\":12,\"max_position_embeddings\":64,"
    "\"rms_norm_eps\":1e-06,\"rope_theta\":500000.0,\"tie_word_embeddings\":false,\"bos_token_id\":9,\"eos_token_id\":[10,11]}";

/* vocab of 10 (ids 10, 11 are PAD fill), merges in the pair format, one with a space */
static const char *tokenizer_ok =
    "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":8,\"content\":\"<|im_end|>\",\"special\":true,\"normalized\":false},"
    "{\"id\":9,\"content\":\"<s>\",\"special\":false,\"normalized\":false},"
    "{\"id\":7,\"content\":\"x\xe2\x96\x81y\",\"special\":false,\"normalized\":false}],"
    "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{}},"
    "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"byte_fallback\":false,\"ignore_merges\":false,"
    "\"vocab\":{\"a\":0,\"b\":1,\"c\":2,\"\xc4\xa0\":3,\"ab\":4,\"\xc4\xa0" "a\":5,\"a b\":6,\"<|im_end|>\":8,\"<s>\":9},"
    "\"merges\":[[\"a\",\"b\"],[\"\xc4\xa0\",\"a\"],[\"a \",\"b\"]]}}";

static const char *tokenizer_config_ok =
    "{\"bos_token\":\"<s>\",\"eos_token\":{\"content\":\"<|im_end|>\"},\"add_bos_token\":false,"
    "\"chat_template\":\"{{ messages }}\"}";

static void write_valid(void) {
    put_text("config.json", config_ok);
    put_text("tokenizer.json", tokenizer_ok);
    put_text("tokenizer_config.json", tokenizer_config_ok);
    rm_file("model.safetensors.index.json");
    rm_file("model-00001-of-00002.safetensors");
    rm_file("model-00002-of-00002.safetensors");
    put_safetensors("model.safetensors", tensors, N_TENSORS);
}

static bool exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* a temporary file of the output (".NAME.XXXXXX" beside it, base/outfile.h) left behind */
static bool tmp_left(void) {
    const char *slash = strrchr(out, '/');
    char folder[300], prefix[300];
    snprintf(folder, sizeof folder, "%.*s", (int)(slash - out), out);
    snprintf(prefix, sizeof prefix, ".%s.", slash + 1);
    DIR *d = opendir(folder);
    bool left = false;
    for (struct dirent *e; d && (e = readdir(d));) left |= !strncmp(e->d_name, prefix, strlen(prefix));
    if (d) closedir(d);
    return left;
}

static const gguf_tensor_info *tensor(const gguf_ctx *g, const char *name) {
    const int64_t i = gguf_find_tensor(g, name);
    return i < 0 ? NULL : &g->tensors[i];
}

static float get_f(const gguf_tensor_info *t, int64_t i) {
    float f;
    if (t->type == KS_DTYPE_F32) {
        memcpy(&f, (const uint8_t *)t->data + 4 * i, 4);
        return f;
    }
    uint16_t u;
    memcpy(&u, (const uint8_t *)t->data + 2 * i, 2);
    return t->type == KS_DTYPE_F16 ? ks_fp16_to_fp32(u) : ks_bf16_to_fp32(u);
}

static void check_valid(int out_type) {
    write_valid();
    ks_err err = {0};
    ks_hf_convert_stats st;
    ks_status s = ks_hf_convert(dir, out, out_type, &st, &err);
    CHECK(s == KS_OK, "convert (type %d): %s", out_type, err.msg);
    if (s) return;
    gguf_ctx *g = NULL;
    s = gguf_open_file(out, &g, &err);
    CHECK(s == KS_OK, "reopen: %s", err.msg);
    if (s) return;
    const int w = out_type == KS_HF_OUT_AUTO ? KS_DTYPE_F16 : out_type; /* first 2-D source (lm_head) is F16 */
    CHECK(st.out_type == w && st.n_tensors == 12 && !st.pre_default && !strcmp(st.pre, "gpt-2"), "stats %d %lld %s", st.out_type,
          (long long)st.n_tensors, st.pre);
    CHECK(g->n_tensors == 12, "12 tensors (inv_freq dropped), got %llu", (unsigned long long)g->n_tensors);
    const gguf_tensor_info *q = tensor(g, "blk.0.attn_q.weight"), *k = tensor(g, "blk.0.attn_k.weight");
    const gguf_tensor_info *o = tensor(g, "output.weight"), *n = tensor(g, "blk.0.attn_norm.weight");
    const gguf_tensor_info *up = tensor(g, "blk.0.ffn_up.weight");
    CHECK(q && k && o && n && up && tensor(g, "token_embd.weight") && tensor(g, "output_norm.weight"), "names");
    if (!q || !k || !o || !n || !up) goto done;
    CHECK(q->ne[0] == E && q->ne[1] == E && k->ne[0] == E && k->ne[1] == 4 && up->ne[0] == E && up->ne[1] == FF, "shapes");
    CHECK(n->type == KS_DTYPE_F32 && n->n_dims == 1, "norm F32 1-D");
    if (w == KS_DTYPE_Q8_0) {
        CHECK(q->type == KS_DTYPE_F16, "Q8_0 falls back to F16 for rows of 8, got %u", q->type);
    } else {
        CHECK(q->type == (uint32_t)w && up->type == (uint32_t)w, "weight type %u", q->type);
        /* GGUF row h*4 + 2i + j = HF row h*4 + j*2 + i */
        static const int perm_q[E] = {0, 2, 1, 3, 4, 6, 5, 7}, perm_k[4] = {0, 2, 1, 3};
        float worst = 0;
        for (int r = 0; r < E; r++)
            for (int c = 0; c < E; c++) {
                worst = fmaxf(worst, fabsf(get_f(q, r * E + c) - value(3, perm_q[r], c)));
                if (r < 4) worst = fmaxf(worst, fabsf(get_f(k, r * E + c) - value(4, perm_k[r], c)));
            }
        CHECK(worst <= (w == KS_DTYPE_F32 ? 0.0f : 0.02f), "q/k permutation: max error %g", worst);
        CHECK(get_f(n, 5) == value(2, 5, 0) && get_f(up, 3 * E + 2) == ks_bf16_to_fp32(ks_fp32_to_bf16(value(9, 3, 2))),
              "values carried");
    }
    uint64_t u;
    double d;
    bool b;
    gguf_str s1;
    const gguf_value *arr;
    CHECK(!gguf_get_u64(g, "llama.context_length", &u, NULL) && u == 64, "context_length");
    CHECK(!gguf_get_u64(g, "llama.attention.head_count_kv", &u, NULL) && u == 1, "head_count_kv");
    CHECK(!gguf_get_f64(g, "llama.rope.freq_base", &d, NULL) && d == 500000.0, "rope theta");
    CHECK(!gguf_get_u64(g, "llama.rope.dimension_count", &u, NULL) && u == 4, "rope dims");
    CHECK(!gguf_get_u64(g, "general.file_type", &u, NULL) && u == (w == KS_DTYPE_F32 ? 0u : w == KS_DTYPE_F16 ? 1u : w == KS_DTYPE_Q8_0 ? 7u : 32u), "file_type %llu", (unsigned long long)u);
    CHECK(!gguf_get_str(g, "tokenizer.ggml.model", &s1, NULL) && gguf_str_eq(s1, "gpt2"), "model gpt2");
    CHECK(!gguf_get_str(g, "general.name", &s1, NULL), "general.name present");
    CHECK(!gguf_get_arr(g, "tokenizer.ggml.tokens", &arr, NULL) && arr->v.arr.n == V, "12 tokens");
    if (!gguf_get_arr(g, "tokenizer.ggml.tokens", &arr, NULL) && arr->v.arr.n == V) {
        CHECK(gguf_str_eq(gguf_arr_str(arr, 10), "[PAD10]") && gguf_str_eq(gguf_arr_str(arr, 7), "x y") &&
                  gguf_str_eq(gguf_arr_str(arr, 5), "\xc4\xa0" "a"),
              "token texts");
    }
    if (!gguf_get_arr(g, "tokenizer.ggml.token_type", &arr, NULL) && arr->v.arr.n == V)
        CHECK(gguf_arr_int(arr, 0) == 1 && gguf_arr_int(arr, 8) == 3 && gguf_arr_int(arr, 9) == 4 && gguf_arr_int(arr, 7) == 4 &&
                  gguf_arr_int(arr, 11) == 5,
              "token types");
    if (!gguf_get_arr(g, "tokenizer.ggml.merges", &arr, NULL) && arr->v.arr.n == 3)
        CHECK(gguf_str_eq(gguf_arr_str(arr, 0), "a b") && gguf_str_eq(gguf_arr_str(arr, 2), "a\xc4\xa0 b"), "merges");
    else CHECK(0, "3 merges");
    CHECK(!gguf_get_u64(g, "tokenizer.ggml.bos_token_id", &u, NULL) && u == 9, "bos from tokenizer_config");
    CHECK(!gguf_get_u64(g, "tokenizer.ggml.eos_token_id", &u, NULL) && u == 8, "eos from the {content} form");
    CHECK(!gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, NULL) && b, "add_bos from TemplateProcessing");
    CHECK(!gguf_get_str(g, "tokenizer.chat_template", &s1, NULL) && gguf_str_eq(s1, "{{ messages }}"), "chat template");
done:
    gguf_close(g);
}

/* replaces one tensor description (by index) and rewrites model.safetensors */
static void with_tensor(int i, tdesc t) {
    tdesc copy[N_TENSORS];
    memcpy(copy, tensors, sizeof copy);
    copy[i] = t;
    put_safetensors("model.safetensors", copy, N_TENSORS);
}

static void expect_fail(const char *what, ks_status want, const char *word) {
    ks_err err = {0};
    remove(out);
    ks_status s = ks_hf_convert(dir, out, KS_DTYPE_F32, NULL, &err);
    CHECK(s == want && strstr(err.msg, word), "%s: status %d (want %d), msg '%s'", what, s, want, err.msg);
    CHECK(!exists(out) && !tmp_left(), "%s: output left behind", what);
    write_valid();
}

static void check_bad(void) {
    write_valid();
    put_text("config.json", "{\"architectures\":[\"LlamaForCausalLM\"],\"num_hidden_layers\":1}");
    expect_fail("missing hidden_size", KS_ERR_NOT_FOUND, "'hidden_size'");
    put_text("config.json", "{\"architectures\":[\"LlamaForCausalLM\"], hidden_size: 8}");
    expect_fail("bad JSON", KS_ERR_FORMAT, "config.json: not valid JSON");
    put_text("config.json", "[1]");
    expect_fail("config not an object", KS_ERR_FORMAT, "not a JSON object");
    rm_file("config.json");
    expect_fail("no config", KS_ERR_NOT_FOUND, "config.json");
    put_text("config.json", "{\"architectures\":[\"MambaForCausalLM\"]}");
    expect_fail("architecture", KS_ERR_UNSUPPORTED, "MambaForCausalLM");
    put_text("config.json", "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"num_hidden_layers\":1,"
                            "\"num_attention_heads\":3,\"num_key_value_heads\":2,\"intermediate_size\":16,\"vocab_size\":12}");
    expect_fail("heads not dividing", KS_ERR_FORMAT, "inconsistent attention");
    put_text("config.json", "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":-8,\"num_hidden_layers\":1,"
                            "\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":12}");
    expect_fail("negative size", KS_ERR_FORMAT, "'hidden_size' must be an integer");
    put_text("config.json", "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"num_hidden_layers\":1,"
                            "\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":12,\"rms_norm_eps\":\"x\"}");
    expect_fail("eps not a number", KS_ERR_FORMAT, "rms_norm_eps");
    put_text("config.json", "{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":8,\"num_hidden_layers\":1,"
                            "\"num_attention_heads\":2,\"intermediate_size\":16,\"vocab_size\":12,\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}");
    expect_fail("yarn without original context", KS_ERR_NOT_FOUND, "original_max_position_embeddings");

    with_tensor(9, (tdesc){"model.layers.0.mlp.up_proj.weightx", "BF16", FF, E});
    expect_fail("unmappable name", KS_ERR_UNSUPPORTED, "cannot map tensor");
    with_tensor(9, (tdesc){"model.layers.0.mlp.sideways.weight", "BF16", FF, E});
    expect_fail("unknown layer tensor", KS_ERR_UNSUPPORTED, "cannot map tensor");
    with_tensor(12, (tdesc){"model.layers.0.mlp.gate.weight", "F32", 2, 0});
    expect_fail("unknown tensor", KS_ERR_UNSUPPORTED, "model.layers.0.mlp.gate.weight");
    with_tensor(9, (tdesc){"model.layers.1.mlp.up_proj.weight", "BF16", FF, E});
    expect_fail("layer beyond config", KS_ERR_FORMAT, "layer 1 but config.json has 1");
    with_tensor(12, (tdesc){"model.layers.00.mlp.up_proj.weight", "BF16", FF, E});
    expect_fail("leading zero layer", KS_ERR_UNSUPPORTED, "cannot map");
    with_tensor(8, (tdesc){"model.layers.0.mlp.gate_proj.weight", "BF16", FF, E + 1});
    expect_fail("wrong shape", KS_ERR_FORMAT, "has shape [16, 9], config.json implies [16, 8]");
    with_tensor(2, (tdesc){"model.layers.0.input_layernorm.weight", "BF16", E, 1});
    expect_fail("norm 2-D", KS_ERR_FORMAT, "config.json implies [8]");
    with_tensor(1, (tdesc){"model.embed_tokens.weight", "I64", V, E});
    expect_fail("integer weights", KS_ERR_UNSUPPORTED, "dtype I64");
    with_tensor(9, (tdesc){"model.layers.0.attention.masked_bias", "F32", 2, 0}); /* dropped, as the Python */
    expect_fail("missing tensor", KS_ERR_NOT_FOUND, "missing tensor 'model.layers.0.mlp.up_proj.weight'");
    with_tensor(11, (tdesc){"model.layers.0.attention.bias", "F32", 2, 0});
    expect_fail("missing norm", KS_ERR_NOT_FOUND, "missing tensor 'model.norm.weight'");

    { /* truncated shard */
        char p[512];
        snprintf(p, sizeof p, "%s/model.safetensors", dir);
        struct stat sb;
        if (stat(p, &sb) == 0 && truncate(p, sb.st_size - 10) == 0) expect_fail("truncated shard", KS_ERR_TRUNCATED, "past the end");
        else CHECK(0, "truncate");
    }
    rm_file("model.safetensors");
    expect_fail("no weights", KS_ERR_NOT_FOUND, "no model*.safetensors");
    rm_file("model.safetensors");
    put_text("pytorch_model.bin", "x");
    expect_fail("pytorch weights", KS_ERR_UNSUPPORTED, "PyTorch");
    rm_file("pytorch_model.bin");

    /* sharded: the index must name the shards' tensors */
    rm_file("model.safetensors");
    put_safetensors("model-00001-of-00002.safetensors", tensors, 6);
    put_safetensors("model-00002-of-00002.safetensors", tensors + 6, N_TENSORS - 6);
    char idx[4096];
    size_t o = (size_t)snprintf(idx, sizeof idx, "{\"metadata\":{},\"weight_map\":{");
    for (int i = 0; i < N_TENSORS; i++)
        o += (size_t)snprintf(idx + o, sizeof idx - o, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "",
                              tensors[i].name, i < 6 ? 1 : 2);
    snprintf(idx + o, sizeof idx - o, "}}");
    put_text("model.safetensors.index.json", idx);
    ks_err err = {0};
    CHECK(ks_hf_convert(dir, out, KS_DTYPE_F32, NULL, &err) == KS_OK, "sharded: %s", err.msg);
    put_text("model.safetensors.index.json", "{\"weight_map\":{\"model.norm.weight\":\"../model-00001-of-00002.safetensors\"}}");
    expect_fail("shard outside the folder", KS_ERR_FORMAT, "not a file name");
    put_safetensors("model-00001-of-00002.safetensors", tensors, 6);
    put_safetensors("model-00002-of-00002.safetensors", tensors + 6, N_TENSORS - 6);
    put_text("model.safetensors.index.json", "{\"weight_map\":{\"model.norm.weight\":\"model-00001-of-00002.safetensors\"}}");
    expect_fail("index names a tensor elsewhere", KS_ERR_FORMAT, "is not in model-00001");
    put_safetensors("model-00001-of-00002.safetensors", tensors, 6);
    put_safetensors("model-00002-of-00002.safetensors", tensors + 6, N_TENSORS - 6);
    put_text("model.safetensors.index.json", "{\"weight_map\":{\"model.norm.weight\":\"model-00003-of-00002.safetensors\"}}");
    expect_fail("index names a missing shard", KS_ERR_IO, "model-00003-of-00002.safetensors");
    put_safetensors("model-00001-of-00002.safetensors", tensors, 6);
    put_safetensors("model-00002-of-00002.safetensors", tensors + 6, N_TENSORS - 6);
    put_text("model.safetensors.index.json", "{\"weight_map\":{\"model.norm.weight\":\"model-00002-of-00002.safetensors\"}}");
    expect_fail("index incomplete", KS_ERR_FORMAT, "lists 1 tensors but the shards hold");

    /* tokenizers */
    put_text("tokenizer.json", "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{},\"merges\":[]}}");
    expect_fail("byte_fallback", KS_ERR_UNSUPPORTED, "byte_fallback");
    put_text("tokenizer.json", "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}");
    expect_fail("WordPiece", KS_ERR_UNSUPPORTED, "WordPiece");
    put_text("tokenizer.json", "{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}");
    expect_fail("not byte-level", KS_ERR_UNSUPPORTED, "ByteLevel");
    put_text("tokenizer.json", "{\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":12},\"merges\":[\"a a\"]}}");
    expect_fail("token id beyond vocab_size", KS_ERR_FORMAT, "outside [0, 12)");
    put_text("tokenizer.json", "{\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1},\"merges\":[[\"a\"]]}}");
    expect_fail("bad merge", KS_ERR_FORMAT, "merge 0");
    put_text("tokenizer.json", "{\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1},\"merges\":[\"a a\"]},"
                               "\"added_tokens\":[{\"id\":\"3\",\"content\":\"z\"}]}");
    expect_fail("added token without integer id", KS_ERR_FORMAT, "added_tokens");
    put_text("tokenizer.json", "{\"decoder\":");
    expect_fail("tokenizer bad JSON", KS_ERR_FORMAT, "tokenizer.json: not valid JSON");
    rm_file("tokenizer.json");
    put_text("tokenizer.model", "x");
    expect_fail("sentencepiece only", KS_ERR_UNSUPPORTED, "tokenizer.model");
    rm_file("tokenizer.model");
    rm_file("tokenizer.json");
    expect_fail("no tokenizer", KS_ERR_NOT_FOUND, "tokenizer.json");

    /* general.name from _name_or_path, in gguf-py's id_to_title form */
    static const char *const names[][2] = {{"org/smollm2-v2beta-135m", "Smollm2 V2Beta 135m"},
                                           {"my-Model-v1.5-x", "My Model v1.5 X"},
                                           {"/abs/path/llama3b-v2", NULL /* the folder name */}};
    for (int i = 0; i < 3; i++) {
        write_valid();
        char cfg[1024];
        snprintf(cfg, sizeof cfg, "{\"_name_or_path\":\"%s\",%s", names[i][0], config_ok + 1);
        put_text("config.json", cfg);
        gguf_ctx *g = NULL;
        gguf_str nm = {0};
        CHECK(ks_hf_convert(dir, out, KS_DTYPE_F32, NULL, &err) == KS_OK && gguf_open_file(out, &g, &err) == KS_OK &&
                  gguf_get_str(g, "general.name", &nm, NULL) == KS_OK,
              "name case %d: %s", i, err.msg);
        if (names[i][1])
            CHECK(nm.ptr && gguf_str_eq(nm, names[i][1]), "name case %d: '%.*s', want '%s'", i, (int)nm.len,
                  nm.ptr ? nm.ptr : "", names[i][1]);
        else /* a path, not a hub id: the folder's name (ks_hf_XXXXXX, title-cased or not) */
            CHECK(nm.ptr && nm.len > 6 && (!memcmp(nm.ptr, "Ks_Hf_", 6) || !memcmp(nm.ptr, "ks_hf_", 6)), "name case %d: '%.*s'", i,
                  (int)nm.len, nm.ptr ? nm.ptr : "");
        gguf_close(g);
    }
    { /* generation_config.json: general.sampling.* as gguf-py's Metadata writes them, read back by the model */
        write_valid();
        put_text("generation_config.json", "{\"temperature\": 0.7, \"top_p\": 0.9, \"top_k\": 40, "
                                            "\"repetition_penalty\": 1.1, \"eos_token_id\": [1, 2]}");
        ks_model *m = NULL;
        CHECK(ks_hf_convert(dir, out, KS_DTYPE_F32, NULL, &err) == KS_OK && ks_model_load(out, NULL, &m, &err) == KS_OK,
              "generation_config: %s", err.msg);
        const ks_gen_defaults *gd = m ? ks_model_gen_defaults(m) : NULL;
        CHECK(gd && gd->has_temp && fabsf(gd->temp - 0.7f) < 1e-6f && gd->has_top_p && fabsf(gd->top_p - 0.9f) < 1e-6f &&
                  gd->has_top_k && gd->top_k == 40 && gd->has_repeat_penalty && fabsf(gd->repeat_penalty - 1.1f) < 1e-6f &&
                  !gd->has_min_p && !gd->has_repeat_last_n,
              "generation_config defaults not read back");
        ks_model_free(m);
        put_text("generation_config.json", "{\"top_k\": 4.5}");
        CHECK(ks_hf_convert(dir, out, KS_DTYPE_F32, NULL, &err) == KS_ERR_FORMAT && strstr(err.msg, "top_k"),
              "a fractional top_k: %s", err.msg);
        rm_file("generation_config.json");
    }
    write_valid();
    { /* the output must not be an input file */
        char p[512];
        snprintf(p, sizeof p, "%s/tokenizer.json", dir);
        CHECK(ks_hf_convert(dir, p, KS_DTYPE_F32, NULL, &err) == KS_ERR_INVALID_ARG && strstr(err.msg, "same file as the input"),
              "output onto an input: %s", err.msg);
    }

    /* arguments and output */
    CHECK(ks_hf_convert("/nonexistent-dir", out, KS_DTYPE_F32, NULL, &err) == KS_ERR_NOT_FOUND, "no folder: %s", err.msg);
    CHECK(ks_hf_convert(dir, out, KS_DTYPE_Q4_0, NULL, &err) == KS_ERR_INVALID_ARG, "Q4_0 out type: %s", err.msg);
    CHECK(ks_hf_convert(dir, "/nonexistent-dir/x.gguf", KS_DTYPE_F32, NULL, &err) == KS_ERR_IO &&
              strstr(err.msg, "cannot create /nonexistent-dir/x.gguf: No such file or directory"),
          "unwritable output: %s", err.msg);
    CHECK(ks_hf_outtype_from_name("Q8_0") == KS_DTYPE_Q8_0 && ks_hf_outtype_from_name("auto") == KS_HF_OUT_AUTO &&
              ks_hf_outtype_from_name("q4_0") == -2,
          "outtype names");
}

int main(void) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/ks_hf_XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    snprintf(out, sizeof out, "%s.gguf", dir);
    check_valid(KS_DTYPE_F32);
    check_valid(KS_DTYPE_F16);
    check_valid(KS_DTYPE_BF16);
    check_valid(KS_DTYPE_Q8_0);
    check_valid(KS_HF_OUT_AUTO);
    check_bad();
    static const char *files[] = {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors",
                                  "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                  "model-00002-of-00002.safetensors", "pytorch_model.bin", "tokenizer.model"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) rm_file(files[i]);
    rmdir(dir);
    remove(out);
    TEST_DONE();
}
