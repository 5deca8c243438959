/* kestrel_train.h - public C API of Kestrel's trainer: configure, run (with checkpoints and
 * resume), export. Same conventions as kestrel.h: a ks_status return, a nullable ks_err last,
 * nothing printed; progress goes to a callback. docs/TRAINING.md documents the keys and the
 * file formats (token shards, checkpoints).
 */
#ifndef KESTREL_TRAIN_H
#define KESTREL_TRAIN_H
#include "kestrel.h"

#ifndef KS_API
#define KS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Everything a run needs; every field is a key of the JSON config and a --flag of `kestrel
 * train` (ks_train_config_key lists them). Strings are owned copies (ks_train_config_free). */
typedef struct ks_train_config {
    char *family;                     /* "llama" (a family of the registry the trainer implements) */
    int64_t vocab, dim, layers, heads, kv_heads, ff; /* shape; kv_heads 0 = heads */
    double norm_eps, rope_theta;
    bool tied;                        /* output head tied to the token embedding */
    int64_t batch, seq_len, accum;    /* micro-batch B x T, micro-batches per update */
    int64_t steps, warmup;            /* updates; linear warmup updates (cosine decay after) */
    double lr, lr_min, beta1, beta2, eps, weight_decay, clip, init_std;
    int64_t eval_every, eval_batches; /* validation every N updates (0 = never) over M micro-batches */
    int64_t ckpt_every;               /* checkpoint every N updates (0 = only at the end) */
    int threads;                      /* 0 = all cores */
    uint64_t seed;
    int64_t max_memory_mb;            /* 0 = the memory the system has available */
    char *train_data, *val_data;      /* token shards (kestrel prepare-data); val_data may be NULL */
    char *out_dir;                    /* checkpoint.bin, metrics.jsonl, config.json */
    char *precision;                  /* "fp32" (the only one today) */
} ks_train_config;

/* defaults (a 15M-parameter-class LLaMA shape, see docs/TRAINING.md); c owns no strings yet */
KS_API void ks_train_config_default(ks_train_config *c);
KS_API void ks_train_config_free(ks_train_config *c);
/* sets one key from its text (the JSON key, also the flag name without "--"): KS_ERR_INVALID_ARG
 * for an unknown key or a value that does not parse or is out of range */
KS_API ks_status ks_train_config_set(ks_train_config *c, const char *key, const char *value, ks_err *err);
/* reads a JSON object of keys (numbers, booleans, strings) over c; unknown keys are refused */
KS_API ks_status ks_train_config_load(ks_train_config *c, const char *path, ks_err *err);
/* the i-th key name and a one-line help; NULL past the end */
KS_API const char *ks_train_config_key(size_t i, const char **help);
/* checks the whole config (shape, ranges, files named) and computes the bytes training needs
 * (parameters, gradients, two moments, activations); KS_ERR_LIMIT when that exceeds
 * max_memory_mb or the memory available, naming both */
KS_API ks_status ks_train_config_check(const ks_train_config *c, uint64_t *bytes_needed, ks_err *err);

typedef struct ks_train_progress {
    int64_t step, steps;        /* updates done, total */
    double loss, lr, grad_norm; /* of the last update (loss averaged over its micro-batches) */
    double tok_per_s, eta_s;    /* tokens a second since this run started, seconds left */
    double val_loss;            /* NaN unless this update ended with a validation */
    bool checkpoint;            /* a checkpoint was written after this update */
} ks_train_progress;
/* called after every update; return false to stop (a checkpoint is written first) */
typedef bool (*ks_train_progress_fn)(void *user, const ks_train_progress *p);

/* Trains per c. resume_dir: NULL to start from random weights, else a folder holding a
 * checkpoint.bin of the same family and shape (KS_ERR_INVALID_ARG otherwise), which the run
 * continues exactly as if it had not stopped. Writes out_dir/checkpoint.bin atomically every
 * ckpt_every updates and at the end, out_dir/metrics.jsonl (a line per update, with val_loss and
 * val_ppl on evaluations) and out_dir/loss.svg (the losses and the learning rate, at evaluations
 * and at the end). A loss that is not finite stops the run with KS_ERR_LIMIT before
 * anything is written: the last checkpoint stays as it was. */
KS_API ks_status ks_train_run(const ks_train_config *c, const char *resume_dir, ks_train_progress_fn cb, void *user,
                              ks_err *err);
/* Writes the weights of ckpt_dir/checkpoint.bin as an F32 GGUF (the family's tensor names and
 * hyperparameter keys) that Kestrel loads, with the tokenizer of the GGUF tokenizer (nullable: the
 * one the shards were made with; its vocabulary must fit the model's); written atomically. */
KS_API ks_status ks_train_export_gguf(const char *ckpt_dir, const char *out_path, const char *tokenizer,
                                      ks_err *err);

/* ---- data preparation: text or JSONL to token shards (docs/TRAINING.md) ---- */
typedef struct ks_prepare_params {
    const char *tokenizer;            /* a GGUF whose tokenizer is used (a model or a vocabulary-only file) */
    const char *const *inputs;        /* text files (one document each) or .jsonl files (a document per line, */
    size_t n_inputs;                  /*   its "text" string) */
    const char *out_prefix;           /* writes OUT_PREFIX.train.bin and OUT_PREFIX.val.bin */
    double val_fraction;              /* share of chunks sent to validation, 0 to 0.5 */
} ks_prepare_params;
typedef struct ks_prepare_stats {
    uint64_t bytes_in, docs, tokens_train, tokens_val;
} ks_prepare_stats;
/* called every few MB and at the end; return false to stop (nothing is written then) */
typedef bool (*ks_prepare_progress_fn)(void *user, const ks_prepare_stats *s);
/* Tokenizes the inputs in order, streaming (memory flat in the corpus size), an EOS after each
 * document, and writes two shards atomically. Text is cut into chunks of about 16 KB at line
 * starts that begin a pre-token (a line starting with a non-space); every val_fraction-th chunk
 * goes to validation. KS_ERR_INVALID_ARG for an empty corpus or a tokenizer without EOS;
 * KS_ERR_FORMAT naming file and line for a JSONL line without a "text" string. */
KS_API ks_status ks_prepare_data(const ks_prepare_params *p, ks_prepare_progress_fn cb, void *user,
                                 ks_prepare_stats *stats, ks_err *err);

/* ---- byte-level BPE training: the tokenizer HF tokenizers' ByteLevelBPETokenizer().train() makes ---- */
typedef struct ks_bpe_train_params {
    const char *const *inputs;        /* text files, read line by line (each line with its newline) */
    size_t n_inputs;
    int64_t vocab_size;               /* including the special tokens and the 256 byte symbols */
    int64_t min_frequency;            /* a pair seen fewer times is never merged (HF's default 2) */
    const char *const *special;       /* special tokens, ids 0.. in this order */
    size_t n_special;
    const char *pretok;               /* "gpt-2" (GPT-2's regex, HF's ByteLevel default) or "llama3" */
    const char *out_path;             /* tokenizer.json, or NAME.gguf: a vocabulary-only GGUF (the first special
                                         token its EOS) for prepare-data -m and train-export --tokenizer */
} ks_bpe_train_params;
typedef struct ks_bpe_train_stats {
    uint64_t bytes_in, lines, words, distinct_words, merges;
} ks_bpe_train_stats;
typedef bool (*ks_bpe_train_progress_fn)(void *user, const ks_bpe_train_stats *s);
/* Trains byte-level BPE exactly as HF tokenizers' BpeTrainer (vocabulary and merges identical for
 * the same files and settings) and writes a tokenizer.json HF tokenizers loads. KS_ERR_INVALID_ARG
 * for a vocabulary smaller than the specials plus 256 bytes, an empty corpus or an unknown pretok. */
KS_API ks_status ks_train_tokenizer(const ks_bpe_train_params *p, ks_bpe_train_progress_fn cb, void *user,
                                    ks_bpe_train_stats *stats, ks_err *err);

#ifdef __cplusplus
}
#endif
#endif /* KESTREL_TRAIN_H */
