/* hf_impl.h - internals of the Hugging Face converter (formats/hf.h): JSON file
 * helpers, the parsed config.json, and the vocabulary writer. */
#ifndef KS_HF_IMPL_H
#define KS_HF_IMPL_H
#include <cjson/cJSON.h>

#include "formats/gguf.h"
#include "formats/hf.h"

#define HF_MAX_JSON_BYTES ((size_t)1 << 30) /* tokenizer.json of the largest vocabularies is ~30 MB */
#define HF_MAX_DIM (1 << 26)

/* "dir/name" in an owned buffer (free), NULL on OOM. */
char *hf_path(const char *dir, const char *name);
/* true if dir/name is a regular file */
bool hf_file_exists(const char *dir, const char *name);
/* Reads dir/name whole into an owned NUL-terminated buffer (free). A missing
 * file is KS_ERR_NOT_FOUND; bigger than HF_MAX_JSON_BYTES, KS_ERR_LIMIT. */
ks_status hf_read_text(const char *dir, const char *name, char **out, size_t *len, ks_err *err);
/* Parses dir/name as JSON into an owned tree (cJSON_Delete). Missing file:
 * KS_ERR_NOT_FOUND if required, else KS_OK with *out = NULL. Bad JSON:
 * KS_ERR_FORMAT naming the file and byte offset. */
ks_status hf_json_load(const char *dir, const char *name, bool required, cJSON **out, ks_err *err);

/* value of key if it is a JSON integer of magnitude below 2^53 (exact in a double) */
bool hf_json_int(const cJSON *obj, const char *key, int64_t *out);
/* a string value (borrowed), or NULL */
const char *hf_json_str(const cJSON *obj, const char *key);

/* One supported HF architecture: what config.json and the GGUF keys need beyond the
 * family's descriptor (model/arch.h: its HF class names, tensor table and transforms). */
typedef struct hf_family {
    const char *model_type;      /* config.json "model_type" (used when architectures is absent) */
    const char *gguf_arch;       /* general.architecture: the registry's family of that name */
    bool llama_keys;             /* also vocab_size and rope.dimension_count (LlamaModel) */
    bool ln_keys;                /* LayerNorm epsilon; n_ff defaults to 4 n_embd (GPT-2, Falcon) */
    bool gemma3_keys;            /* sliding window, its RoPE base, final logit soft-cap (Gemma 3) */
} hf_family;

struct ks_arch;
/* config.json, validated. Absent optional values: has_* false. */
typedef struct hf_config {
    const hf_family *fam;
    const struct ks_arch *arch; /* the registry's descriptor of fam->gguf_arch */
    char hf_arch[64];
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx, head_dim;
    int64_t n_swa; /* sliding_window (Mistral, Gemma 3), 0 if none or null */
    double ln_eps, rope_theta_swa, softcap; /* layer_norm_epsilon; Gemma 3's sliding layers' base, soft-cap */
    bool has_ln_eps, has_rope_theta_swa, has_softcap;
    bool has_n_head_kv, has_n_ctx, has_head_dim; /* head_dim key present in config.json */
    double rms_eps, rope_theta;
    bool has_rms_eps, has_rope_theta, tie_embd;
    /* rope scaling ("rope_parameters" or "rope_scaling"): rope_type "" if none */
    char rope_type[24];
    double rope_factor, rope_low_freq, rope_high_freq, rope_ext_factor, rope_attn_factor, rope_beta_fast,
        rope_beta_slow;
    int64_t rope_orig_ctx;
    bool has_rope_factor, has_rope_orig_ctx, has_rope_ext_factor, has_rope_attn_factor, has_rope_beta_fast,
        has_rope_beta_slow;
    cJSON *json; /* owned: the whole config.json (special token ids are read from it) */
} hf_config;

/* Loads and validates dir/config.json. On failure cfg is safe to free. */
ks_status hf_config_load(const char *dir, hf_config *cfg, ks_err *err);
void hf_config_free(hf_config *cfg);
/* Writes the hyperparameter keys (llama.block_count, ...) in convert_hf_to_gguf's order. */
ks_status hf_config_write_gguf(const hf_config *cfg, gguf_writer *w, uint32_t file_type, ks_err *err);

/* What the vocabulary writer decided (for stats and the CLI's message). */
typedef struct hf_vocab_info {
    char pre[32];
    bool pre_default;
} hf_vocab_info;

/* Reads tokenizer.json (+ tokenizer_config.json, chat_template.jinja / .json)
 * from dir and writes the tokenizer.* keys (model "gpt2": tokens, token types,
 * merges, pre-tokenizer name, special token ids, add_bos/add_eos, chat
 * template) as convert_hf_to_gguf's _set_vocab_gpt2 + SpecialVocab do. */
ks_status hf_vocab_write_gguf(const char *dir, const hf_config *cfg, gguf_writer *w, hf_vocab_info *info, ks_err *err);
#endif
