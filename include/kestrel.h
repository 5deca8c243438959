/* kestrel.h - the public C API of the Kestrel LLM engine (libkestrel).
 *
 * The one interface of the library: the kestrel CLI, the examples and the Python
 * bindings use this header and nothing else. It compiles as C99 and as C++.
 *
 * Conventions
 *  - Status + message: a function that can fail returns a ks_status (KS_OK == 0,
 *    errors negative) and takes a nullable ks_err * last, filled with a one-line
 *    message naming what went wrong (what, where, expected versus found). Nothing
 *    in the library prints, exits or aborts on bad input.
 *  - Ownership: every object made by a _new/_init/_load function is freed by its
 *    _free function, which accepts NULL. A returned pointer is either owned (the
 *    prototype names its destructor) or borrowed (the prototype says until when).
 *    Variable-size results go into caller buffers: the function takes (buf, cap)
 *    and reports the size needed, returning KS_ERR_LIMIT when cap is too small
 *    (the Python bindings call twice).
 *  - Arguments: object handles must be valid (non-NULL) unless a prototype says NULL is
 *    accepted (every _free accepts NULL; "nullable" marks the others).
 *  - Thread safety: a ks_model is immutable once loaded and may be shared by any
 *    number of threads and contexts (its tokenizer too). A ks_context, ks_batch or
 *    ks_sampler is used by one thread at a time. Functions without an object
 *    argument are thread-safe unless the prototype says otherwise.
 *  - Sizes are int64_t/size_t, token ids int32_t, sequence ids int32_t in
 *    [0, KS_MAX_SEQ), positions int32_t >= 0. Plain structs, no varargs in the core
 *    calls: every function can be called through a C FFI (ctypes ABI mode).
 *  - Every public declaration carries KS_API: libkestrel.so exports exactly these.
 */
#ifndef KESTREL_H
#define KESTREL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define KS_API __attribute__((visibility("default")))
#else
#define KS_API
#endif

#define KS_VERSION_MAJOR 0
#define KS_VERSION_MINOR 1
#define KS_VERSION_PATCH 0
#define KS_VERSION_STRING "0.1.0"

#define KS_MAX_SEQ 64      /* sequence ids 0..63 */
#define KS_MAX_THREADS 512 /* as ggml's GGML_MAX_N_THREADS */

/* ======================================================================== */
/* Status and errors                                                         */
/* ======================================================================== */

typedef enum ks_status {
    KS_OK = 0,
    KS_ERR_IO = -1,          /* open/read/write/mmap failed */
    KS_ERR_FORMAT = -2,      /* malformed file contents (bad magic, bad value) */
    KS_ERR_TRUNCATED = -3,   /* file ends before the data it declares */
    KS_ERR_UNSUPPORTED = -4, /* valid but not implemented (type, arch, version) */
    KS_ERR_NOMEM = -5,       /* allocation failed */
    KS_ERR_INVALID_ARG = -6, /* caller passed a bad argument */
    KS_ERR_LIMIT = -7,       /* a count or size exceeds a limit (also: a caller buffer is too small) */
    KS_ERR_NOT_FOUND = -8,   /* a required key, tensor or file is missing */
    KS_ERR_NO_KV_SLOT = -9,  /* the KV cache has no room for a batch (nothing was changed) */
    KS_ERR_ABORTED = -10     /* an abort or progress callback asked to stop */
} ks_status;

/* Error details: filled by the function that fails; msg is always NUL-terminated. */
typedef struct ks_err {
    ks_status code;
    char msg[512];
} ks_err;

/* Sets err (if non-NULL) to code and the printf-formatted message; returns code. Thread-safe. */
KS_API ks_status ks_err_set(ks_err *err, ks_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Short name of a status ("truncated", ...). Never NULL; static storage. */
KS_API const char *ks_status_str(ks_status s);

/* ======================================================================== */
/* Library: version, system, logging, time                                   */
/* ======================================================================== */

/* KS_VERSION_STRING of the library actually linked (static storage). */
KS_API const char *ks_version(void);
/* One line of what this machine and build offer: "AVX = 1 | AVX2 = 1 | ... | OPENMP = 1 |
 * KERNELS = avx2" (static storage, computed once; thread-safe). */
KS_API const char *ks_system_info(void);
/* Name of the kernel instruction set chosen at run time for this CPU ("avx512", "avx2",
 * "scalar", ...). Static storage. */
KS_API const char *ks_kernels_isa(void);
/* Monotonic clock in seconds (for timing; arbitrary origin). */
KS_API double ks_time_s(void);

typedef enum ks_log_level { KS_LOG_DEBUG = 0, KS_LOG_INFO = 1, KS_LOG_WARN = 2, KS_LOG_ERROR = 3 } ks_log_level;
/* Receives one NUL-terminated line (without '\n'). May be called from any thread that
 * calls into the library. */
typedef void (*ks_log_fn)(ks_log_level level, const char *text, void *user_data);
/* Installs the log callback (NULL: logging off, the default: the library prints nothing).
 * Not thread-safe: call before other threads use the library. */
KS_API void ks_log_set(ks_log_fn fn, void *user_data);

/* Progress of long work (loading, quantizing, converting): progress in [0, 1], called from
 * the calling thread. Return false to cancel: the function then fails with KS_ERR_ABORTED. */
typedef bool (*ks_progress_fn)(float progress, void *user_data);
/* Polled between micro-batches of a decode: return true to abort it (KS_ERR_ABORTED). */
typedef bool (*ks_abort_fn)(void *user_data);

/* ======================================================================== */
/* Tensor types                                                              */
/* ======================================================================== */

/* Tensor / cache element types, with GGML's numbering (as in GGUF files). */
typedef enum ks_type {
    KS_TYPE_F32 = 0,
    KS_TYPE_F16 = 1,
    KS_TYPE_Q4_0 = 2,
    KS_TYPE_Q4_1 = 3,
    KS_TYPE_Q5_0 = 6,
    KS_TYPE_Q5_1 = 7,
    KS_TYPE_Q8_0 = 8,
    KS_TYPE_Q4_K = 12,
    KS_TYPE_Q6_K = 14,
    KS_TYPE_BF16 = 30
} ks_type;
/* Name of a type ("F32", "Q8_0", ...), or NULL for a code Kestrel does not know. Static storage. */
KS_API const char *ks_type_name(int32_t type);

/* ======================================================================== */
/* Model                                                                     */
/* ======================================================================== */

typedef struct ks_model ks_model;         /* opaque; immutable after load, shareable between threads */
typedef struct ks_tokenizer ks_tokenizer; /* opaque; owned by its model */

typedef struct ks_model_params {
    const char *tokenizer_path; /* llama2.c checkpoints: their tokenizer.bin (required there); else NULL */
    bool no_mmap;   /* copy the weights into owned memory instead of reading the file's mapping */
    bool no_repack; /* keep the file's row layouts: no packed copies for the SIMD kernels */
    bool f16_exact; /* F16 weights: prompt batches in FP32 FMAs as llama.cpp computes them, not BF16 dots */
    ks_progress_fn progress_callback; /* NULL: none. Called with 0 and 1 and as weights are prepared */
    void *progress_data;
} ks_model_params;

/* Defaults: mmap, repack, no tokenizer path, no progress callback. */
KS_API ks_model_params ks_model_default_params(void);

/* Loads a model: a GGUF file (by its magic) or a llama2.c checkpoint (then
 * params->tokenizer_path is required). params NULL: defaults. A GGUF without tensors
 * loads as vocabulary-only (ks_model_has_weights false: usable for tokenization only).
 * On success *out is owned (free with ks_model_free). Errors: KS_ERR_IO, KS_ERR_FORMAT,
 * KS_ERR_TRUNCATED, KS_ERR_UNSUPPORTED (architecture, type), KS_ERR_NOT_FOUND (a tensor or
 * key), KS_ERR_LIMIT (sizes), KS_ERR_NOMEM, KS_ERR_ABORTED (the progress callback said
 * stop), KS_ERR_INVALID_ARG (path or out NULL); *out is then NULL. Thread-safe. */
KS_API ks_status ks_model_load_from_file(const char *path, const ks_model_params *params, ks_model **out,
                                         ks_err *err);
/* Frees the model; accepts NULL. Every context made from it must be freed first. */
KS_API void ks_model_free(ks_model *m);

/* true if the model has weights (false: vocabulary-only GGUF). */
KS_API bool ks_model_has_weights(const ks_model *m);
KS_API int32_t ks_model_n_vocab(const ks_model *m);
KS_API int64_t ks_model_n_ctx_train(const ks_model *m);
KS_API int64_t ks_model_n_embd(const ks_model *m);
KS_API int64_t ks_model_n_layer(const ks_model *m);
KS_API int64_t ks_model_n_head(const ks_model *m);
KS_API int64_t ks_model_n_head_kv(const ks_model *m);
/* Family name as the GGUF writes it ("llama", "qwen2", ...); "" for vocabulary-only.
 * Borrowed: valid until ks_model_free. */
KS_API const char *ks_model_arch(const ks_model *m);
/* tokenizer.chat_template, NUL-terminated, or NULL if the file has none. Borrowed: valid
 * until ks_model_free. */
KS_API const char *ks_model_chat_template(const ks_model *m);
/* The model's tokenizer, or NULL if the file has none. Borrowed: valid until ks_model_free. */
KS_API const ks_tokenizer *ks_model_tokenizer(const ks_model *m);

/* Everything else about a loaded model, filled by ks_model_get_info. Strings are
 * borrowed (NUL-terminated, valid until ks_model_free). New fields are appended. */
typedef struct ks_model_info {
    const char *arch;      /* as ks_model_arch */
    const char *format;    /* "GGUF" or "llama2.c" */
    uint32_t gguf_version; /* 0 for llama2.c */
    bool has_weights, tied_output, has_tokenizer, has_chat_template;
    int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train, head_dim, n_rot;
    float norm_eps, rope_theta;
    int64_t n_tensors;  /* tensors in the file */
    uint64_t n_params;  /* elements in them (llama-bench's params) */
    uint64_t n_bytes;   /* bytes of them in the file (llama-bench's size) */
    int32_t kv_type;    /* the default KV cache type (ks_type) */
} ks_model_info;
/* Fills *out (m and out non-NULL). */
KS_API void ks_model_get_info(const ks_model *m, ks_model_info *out);

/* One tensor of the file (ks_model_tensor_info). name is NOT NUL-terminated: name_len bytes,
 * borrowed until ks_model_free. ne[] is innermost-first (as GGUF), unused dims 1. */
typedef struct ks_tensor_info {
    const char *name;
    size_t name_len;
    int32_t type; /* ks_type */
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t n_bytes;
} ks_tensor_info;
/* Tensor i in [0, info.n_tensors) into *out. KS_ERR_INVALID_ARG for i out of range. */
KS_API ks_status ks_model_tensor_info(const ks_model *m, int64_t i, ks_tensor_info *out, ks_err *err);

/* ---- metadata (GGUF key/value pairs; a llama2.c checkpoint has none) ---- */
/* Number of key/value pairs. */
KS_API int64_t ks_model_meta_count(const ks_model *m);
/* Key i (NUL-terminated) into buf[0..cap); *len (nullable) = its length without the NUL.
 * KS_ERR_LIMIT when cap <= length (*len still set: pass cap = *len + 1);
 * KS_ERR_INVALID_ARG for i out of range. */
KS_API ks_status ks_model_meta_key_by_index(const ks_model *m, int64_t i, char *buf, size_t cap, size_t *len,
                                            ks_err *err);
/* The value of key as text into buf (as ks_model_meta_key_by_index): strings as they are,
 * numbers in decimal, booleans "true"/"false", arrays "[N items of TYPE]" except arrays of
 * at most 16 numbers, which are listed. KS_ERR_NOT_FOUND if there is no such key. */
KS_API ks_status ks_model_meta_val_str(const ks_model *m, const char *key, char *buf, size_t cap, size_t *len,
                                       ks_err *err);

/* ======================================================================== */
/* Tokenizer (borrowed from the model: ks_model_tokenizer)                   */
/* All functions here are thread-safe (the tokenizer is immutable).          */
/* ======================================================================== */

typedef enum ks_tok_type { KS_TOK_BPE = 1, KS_TOK_SPM = 2 } ks_tok_type;
/* token attributes (GGUF tokenizer.ggml.token_type) */
enum {
    KS_TOKATTR_NORMAL = 1,
    KS_TOKATTR_UNKNOWN = 2,
    KS_TOKATTR_CONTROL = 3,
    KS_TOKATTR_USER_DEFINED = 4,
    KS_TOKATTR_UNUSED = 5,
    KS_TOKATTR_BYTE = 6
};

KS_API int32_t ks_tokenizer_n_vocab(const ks_tokenizer *tok);
KS_API ks_tok_type ks_tokenizer_type(const ks_tokenizer *tok);
KS_API int32_t ks_tokenizer_bos(const ks_tokenizer *tok); /* -1 if none */
KS_API int32_t ks_tokenizer_eos(const ks_tokenizer *tok); /* -1 if none */
/* whether tokenizing with add_special adds BOS / EOS */
KS_API bool ks_tokenizer_add_bos(const ks_tokenizer *tok);
KS_API bool ks_tokenizer_add_eos(const ks_tokenizer *tok);
/* True for every end-of-generation token: EOS, EOT and end-of-turn control tokens such
 * as <|im_end|>, <|eot_id|>, <end_of_turn>. False for ids out of range. */
KS_API bool ks_token_is_eog(const ks_tokenizer *tok, int32_t id);
/* KS_TOKATTR_* of a token; 0 for an id out of range. */
KS_API int32_t ks_token_attr(const ks_tokenizer *tok, int32_t id);
/* Id of the token whose vocabulary text is exactly s[0..len), or -1. */
KS_API int32_t ks_tokenizer_find(const ks_tokenizer *tok, const char *s, size_t len);

/* Tokenizes len bytes of text (need not be valid UTF-8 nor NUL-terminated). add_special:
 * BOS/EOS as the model declares; parse_special: control/user-defined token text becomes
 * those tokens. Writes the ids into ids[0..cap) and their count to *n_ids. When cap is too
 * small returns KS_ERR_LIMIT with *n_ids = the count needed (ids may be NULL with cap 0 to
 * ask for it). Other errors: KS_ERR_NOMEM, KS_ERR_INVALID_ARG (NULL tok/text/n_ids). */
KS_API ks_status ks_tokenizer_tokenize(const ks_tokenizer *tok, const char *text, size_t len, bool add_special,
                                       bool parse_special, int32_t *ids, size_t cap, size_t *n_ids, ks_err *err);

/* Bytes of one token as it appears in decoded text (byte tokens give their byte, SPM's
 * U+2581 a space, byte-level BPE is unmapped; control tokens give "" unless render_special).
 * Returns a borrowed pointer valid until ks_model_free, NOT NUL-terminated: *len bytes;
 * NULL for an id out of range. A piece may be part of a UTF-8 character: stream text with
 * ks_detok_stream below. */
KS_API const char *ks_token_to_piece(const ks_tokenizer *tok, int32_t id, bool render_special, size_t *len);
/* The token's vocabulary string as stored ("Ġhello", "▁the", "<0x0A>"); as ks_token_to_piece. */
KS_API const char *ks_token_text(const ks_tokenizer *tok, int32_t id, size_t *len);
/* Length of the longest piece: a ks_detok_stream_push never writes more than this + 8 bytes. */
KS_API size_t ks_tokenizer_max_piece_len(const ks_tokenizer *tok);

/* Text of ids[0..n_ids) into buf[0..cap) (no NUL added): *len = bytes written. Control
 * tokens are rendered only with render_special; SPM's leading space after BOS is dropped as
 * sentencepiece does. KS_ERR_LIMIT with *len = bytes needed when cap is too small;
 * KS_ERR_INVALID_ARG for an id out of range. */
KS_API ks_status ks_tokenizer_detokenize(const ks_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                         bool render_special, char *buf, size_t cap, size_t *len, ks_err *err);

/* Streaming detokenizer: holds back the bytes of an incomplete UTF-8 character so that every
 * chunk it returns is whole characters; invalid sequences pass through byte for byte once
 * they cannot complete. A plain struct the caller owns (no free); one per stream. */
typedef struct ks_detok_stream {
    char pending[8];
    size_t n_pending;
    bool after_bos; /* the previous token was BOS: an SPM piece's leading space is then dropped */
} ks_detok_stream;
KS_API void ks_detok_stream_init(ks_detok_stream *s);
/* Appends the text of token id to out (cap bytes). Returns the bytes written (complete
 * characters only, possibly 0), or -1 if cap is too small (ks_tokenizer_max_piece_len + 8
 * always suffices). Control tokens and ids out of range give no text. */
KS_API int64_t ks_detok_stream_push(ks_detok_stream *s, const ks_tokenizer *tok, int32_t id, char *out, size_t cap);
/* Writes the held-back bytes at the end of a stream (at most 8); -1 if cap is too small. */
KS_API int64_t ks_detok_stream_flush(ks_detok_stream *s, char *out, size_t cap);

/* ======================================================================== */
/* Chat templates                                                            */
/* ======================================================================== */

/* One message; both strings NUL-terminated, borrowed for the call (content NULL = ""). */
typedef struct ks_chat_msg {
    const char *role; /* "system", "user", "assistant", ... */
    const char *content;
} ks_chat_msg;

/* The family Kestrel renders a template text as ("chatml", "llama2", "llama3", "zephyr",
 * "gemma", "mistral-v7", "phi3", "mistral", "phi4", ...), or "unknown" when it renders none
 * (there is no Jinja interpreter: templates are recognised, then rendered natively, equal
 * byte for byte to Hugging Face's apply_chat_template for the reference templates).
 * A family name itself is also accepted as tmpl. Never NULL; static storage. */
KS_API const char *ks_chat_template_family(const char *tmpl);

/* Renders msgs[0..n_msgs) with tmpl (ks_model_chat_template, or a family name);
 * add_assistant appends the assistant turn header (HF add_generation_prompt). Text (NUL-
 * terminated) into buf[0..cap), *len = its length. KS_ERR_LIMIT with *len = the length when
 * cap <= *len; KS_ERR_UNSUPPORTED for a template no family matches; KS_ERR_INVALID_ARG for
 * NULL msgs with n_msgs > 0 or a NULL role; KS_ERR_NOMEM. Tokenize the result with
 * parse_special and without add_special (the render holds the BOS text where the template
 * has it), or better with ks_tokenizer_tokenize_chat. */
KS_API ks_status ks_chat_apply_template(const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs, bool add_assistant,
                                        char *buf, size_t cap, size_t *len, ks_err *err);
/* Renders and tokenizes in one step, safe against prompt injection: control-token text
 * becomes control tokens in the template's markup only; message content is plain text
 * unless parse_special_content. BOS is added when the tokenizer adds one, unless the render
 * begins with it. ids/cap/n_ids as ks_tokenizer_tokenize (KS_ERR_LIMIT with *n_ids = count needed);
 * other errors as ks_chat_apply_template. */
KS_API ks_status ks_tokenizer_tokenize_chat(const ks_tokenizer *tok, const char *tmpl, const ks_chat_msg *msgs,
                                            size_t n_msgs, bool add_assistant, bool parse_special_content,
                                            int32_t *ids, size_t cap, size_t *n_ids, ks_err *err);

/* ======================================================================== */
/* Context: KV cache + scratch for running a model                          */
/* ======================================================================== */

typedef struct ks_context ks_context; /* opaque; one thread at a time */

typedef enum ks_flash_attn_type {
    KS_FLASH_ATTN_AUTO = -1, /* on (as llama.cpp's auto on a CPU) */
    KS_FLASH_ATTN_OFF = 0,   /* F16 cache: llama.cpp's non-flash order, bit for bit. F32/Q8_0 caches use flash always */
    KS_FLASH_ATTN_ON = 1     /* tiled flash attention (FP32 accumulation, llama.cpp -fa's kind of numerics) */
} ks_flash_attn_type;

typedef struct ks_context_params {
    int64_t n_ctx;     /* KV cache cells (positions held across all sequences); 0 = min(n_ctx_train, 4096) */
    int64_t n_batch;   /* largest micro-batch (llama.cpp's n_ubatch); a decode of more tokens is split; 0 = 512 */
    int n_seq_max;     /* sequences used at once (0 = 1, at most KS_MAX_SEQ) */
    int n_threads;     /* threads for single-token decodes (generation); 0 = all cores (OpenMP default) */
    int n_threads_batch; /* threads for decodes of several tokens (prompts); 0 = n_threads */
    int32_t kv_type;   /* K cache type: KS_TYPE_F32, KS_TYPE_F16 or KS_TYPE_Q8_0; -1 = model default (F16 for GGUF) */
    int32_t kv_type_v; /* V cache type; -1 = as kv_type */
    int32_t flash_attn; /* ks_flash_attn_type; default KS_FLASH_ATTN_OFF (the CLI's default: llama.cpp's
                           non-flash results bit for bit); AUTO or ON for speed at long contexts */
    bool kv_unified;   /* true (default): one pool of n_ctx cells shared by all sequences (any sharing pattern
                          works, forks share cells); false: n_ctx split into n_seq_max equal streams, one per
                          sequence (llama.cpp's default): faster many-sequence batches, each sequence limited to
                          n_ctx / n_seq_max cells */
    bool logits_all;   /* reserve logits rows for every token of a micro-batch up front (else grown on demand) */
    bool embeddings;   /* also keep the final hidden state (after the output norm) of every output token */
    ks_abort_fn abort_callback; /* NULL: none; polled between micro-batches */
    void *abort_data;
} ks_context_params;

/* The defaults above. */
KS_API ks_context_params ks_context_default_params(void);

/* Allocates the KV cache and all scratch for model m (which must outlive the context):
 * decoding allocates nothing more (except logits rows beyond n_seq_max, grown once).
 * p NULL: defaults. On success *out is owned (ks_context_free). Errors: KS_ERR_INVALID_ARG
 * (vocabulary-only model, bad field), KS_ERR_LIMIT (n_ctx above the trained context, a cache
 * larger than the memory available, n_threads > KS_MAX_THREADS, n_seq_max > KS_MAX_SEQ),
 * KS_ERR_UNSUPPORTED (cache type not F32/F16/Q8_0), KS_ERR_NOMEM. Thread-safe for
 * different contexts (OpenMP's thread count is per calling thread). */
KS_API ks_status ks_context_new(const ks_model *m, const ks_context_params *p, ks_context **out, ks_err *err);
KS_API void ks_context_free(ks_context *c);
KS_API int64_t ks_context_n_ctx(const ks_context *c);
KS_API int64_t ks_context_n_batch(const ks_context *c);
KS_API int ks_context_n_threads(const ks_context *c); /* threads a generation step uses */
/* The model (borrowed). */
KS_API const ks_model *ks_context_model(const ks_context *c);

/* ---- batches ---- */

/* The tokens of one decode: token i at position pos[i], owned by the sequences in the bitset
 * seq[i] (its KV cell is shared by all of them), attending as sequence seq_first[i]; logits[i]
 * nonzero to keep its logits (an "output"). A plain struct: the arrays are owned, sized by
 * ks_batch_init and freed by ks_batch_free; fill it with ks_batch_add (fields readable). */
typedef struct ks_batch {
    int64_t n_tokens, cap;
    int32_t *token;     /* [cap] token ids */
    int32_t *pos;       /* [cap] positions */
    uint64_t *seq;      /* [cap] owning sequences, bit s = sequence s */
    int32_t *seq_first; /* [cap] the sequence it attends as */
    int8_t *logits;     /* [cap] 1: compute its logits */
} ks_batch;

/* Allocates room for cap tokens into *b (a caller-owned struct). KS_ERR_NOMEM,
 * KS_ERR_INVALID_ARG for cap < 1; on error *b is empty (safe to free). */
KS_API ks_status ks_batch_init(ks_batch *b, int64_t cap, ks_err *err);
/* Frees the arrays (not b itself); accepts an empty or zeroed batch. */
KS_API void ks_batch_free(ks_batch *b);
/* n_tokens = 0. */
KS_API void ks_batch_clear(ks_batch *b);
/* Appends a token owned by seq_ids[0..n_seq) (n_seq >= 1; it attends as seq_ids[0]).
 * KS_ERR_LIMIT when the batch is full, KS_ERR_INVALID_ARG for a sequence id outside
 * [0, KS_MAX_SEQ) or a negative position. */
KS_API ks_status ks_batch_add(ks_batch *b, int32_t token, int32_t pos, const int32_t *seq_ids, int n_seq,
                              bool logits, ks_err *err);
/* The usual case: one sequence. */
KS_API ks_status ks_batch_add1(ks_batch *b, int32_t token, int32_t pos, int32_t seq, bool logits, ks_err *err);

/* ---- decoding ---- */

/* Runs a batch of tokens of any sequences. Each token takes a free KV cell; a token sees its
 * sequence's cells at positions <= its own. Outputs (logits[i] set) are read with
 * ks_context_logits(c, i) until the next decode. Returns:
 *  KS_OK;
 *  KS_ERR_NO_KV_SLOT: the cache has fewer free cells than tokens (for their streams): NOTHING
 *    was changed (free cells with ks_seq_rm or shift, then retry or decode less);
 *  KS_ERR_INVALID_ARG: an empty batch, a token id out of range, a bad position or sequence
 *    (nothing was run);
 *  KS_ERR_ABORTED: the abort callback said stop between micro-batches: the micro-batches run
 *    before it are in the cache (their outputs readable), the rest not;
 *  KS_ERR_NOMEM: growing the logits rows failed (nothing was run). */
KS_API ks_status ks_decode_batch(ks_context *c, const ks_batch *b, ks_err *err);
/* Convenience for one sequence (0): runs tokens[0..n) at positions pos0.., first dropping
 * sequence 0's cells at positions >= pos0. Logits for every token if all_logits, else for the
 * last (ks_context_logits(c, i), i = index in tokens). KS_ERR_LIMIT if pos0 + n > n_ctx; else
 * as ks_decode_batch. */
KS_API ks_status ks_decode(ks_context *c, const int32_t *tokens, int64_t n, int64_t pos0, bool all_logits,
                           ks_err *err);
/* Logits (n_vocab floats) of token i of the last decode (i = -1: the last token that has
 * logits); NULL for a token without logits or i out of range. Borrowed: valid until the next
 * decode or ks_context_free. */
KS_API const float *ks_context_logits(const ks_context *c, int64_t i);
/* The final hidden state (n_embd floats, after the output norm) of token i of the last
 * decode, as ks_context_logits; NULL unless the context was made with embeddings. */
KS_API const float *ks_context_embeddings(const ks_context *c, int64_t i);

/* ---- sequences in the KV cache (seq < 0: every sequence; p0 < 0: from 0; p1 < 0: to the end) ---- */
/* Sequence seq gives up its cells at positions [p0, p1) (a cell is freed when no owner is left). */
KS_API void ks_seq_rm(ks_context *c, int32_t seq, int32_t p0, int32_t p1);
/* dst shares src's cells at positions [p0, p1): a fork, nothing is recomputed or copied. */
KS_API void ks_seq_cp(ks_context *c, int32_t src, int32_t dst, int32_t p0, int32_t p1);
/* Frees every cell seq does not own; the rest belong to seq only. */
KS_API void ks_seq_keep(ks_context *c, int32_t seq);
/* Moves seq's positions in [p0, p1) by delta (keys re-rotated; cells moved below 0 are freed):
 * the context shift. */
KS_API void ks_seq_add(ks_context *c, int32_t seq, int32_t p0, int32_t p1, int32_t delta);
/* Positions in [p0, p1) become pos / d (self-extend); d >= 1. */
KS_API void ks_seq_div(ks_context *c, int32_t seq, int32_t p0, int32_t p1, int32_t d);
/* Largest / smallest position of seq, -1 when it has none. */
KS_API int32_t ks_seq_pos_max(const ks_context *c, int32_t seq);
KS_API int32_t ks_seq_pos_min(const ks_context *c, int32_t seq);
/* Cells in use. */
KS_API int64_t ks_kv_used(const ks_context *c);
/* Frees every cell. */
KS_API void ks_kv_clear(ks_context *c);

/* ---- state: the KV cells of one sequence (seq >= 0) or of all (seq < 0, with the last
 * logits). Layout: magic "KSST", version, shapes, cells, rows; every field is validated
 * when loaded. ---- */
/* Bytes ks_state_save needs now. */
KS_API size_t ks_state_size(const ks_context *c, int32_t seq);
/* Writes the state into buf[0..cap); *len = bytes written. KS_ERR_LIMIT if cap is too small. */
KS_API ks_status ks_state_save(const ks_context *c, int32_t seq, uint8_t *buf, size_t cap, size_t *len,
                               ks_err *err);
/* Loads a state: the whole state (seq < 0) replaces the cache; a sequence's state is added as
 * sequence seq (after ks_seq_rm(c, seq, -1, -1)). KS_ERR_FORMAT (not a state of this model and
 * cache shape), KS_ERR_NO_KV_SLOT (no room); on error the cache is as before. */
KS_API ks_status ks_state_load(ks_context *c, int32_t seq, const uint8_t *buf, size_t len, ks_err *err);
/* ks_state_save into a file (written to a temporary file beside it, then renamed over it:
 * a failure leaves path as it was). KS_ERR_IO, KS_ERR_NOMEM, KS_ERR_INVALID_ARG (path is a
 * folder, a link or not a regular file). */
KS_API ks_status ks_state_save_file(const ks_context *c, int32_t seq, const char *path, ks_err *err);
/* ks_state_load from a file. KS_ERR_IO, KS_ERR_NOMEM and ks_state_load's errors. */
KS_API ks_status ks_state_load_file(ks_context *c, int32_t seq, const char *path, ks_err *err);

/* ---- performance counters (reset at creation and by ks_perf_reset) ---- */
typedef struct ks_perf_data {
    double t_prompt_s;   /* wall time in decodes of more than one token */
    double t_gen_s;      /* wall time in single-token decodes */
    int64_t n_prompt;    /* tokens in those decodes */
    int64_t n_gen;       /* single-token decodes */
    int64_t n_decode;    /* decode calls that succeeded */
} ks_perf_data;
KS_API void ks_perf_get(const ks_context *c, ks_perf_data *out);
KS_API void ks_perf_reset(ks_context *c);

/* ======================================================================== */
/* Samplers: composable next-token selection                                 */
/* ======================================================================== */

/* A candidate token. */
typedef struct ks_token_data {
    int32_t id;
    float logit;
    float p; /* probability, when a sampler has computed it */
} ks_token_data;

/* The candidates a sampler works on (the caller owns data). A sampler may reorder, cut
 * (size shrinks), change logits, or choose (selected = index into data). */
typedef struct ks_token_data_array {
    ks_token_data *data;
    size_t size;
    int64_t selected; /* -1: none yet */
    bool sorted;      /* data is in descending logit order (ties: ascending id) */
} ks_token_data_array;

typedef struct ks_sampler ks_sampler; /* opaque; one thread at a time */

/* A user sampler: a table of functions over its own state ctx. apply is required; the others
 * may be NULL. free_ctx is called by ks_sampler_free. */
typedef struct ks_sampler_iface {
    const char *(*name)(void *ctx);                        /* NULL: "custom" */
    void (*accept)(void *ctx, int32_t token);              /* a token was chosen (or is in the prompt) */
    void (*apply)(void *ctx, ks_token_data_array *cur);    /* transform or choose */
    void (*reset)(void *ctx);                              /* forget history, reseed */
    void (*free_ctx)(void *ctx);
} ks_sampler_iface;

/* Wraps a user sampler. iface must outlive the sampler (a static table); ctx is owned by the
 * sampler from here (freed through iface->free_ctx). KS_ERR_INVALID_ARG without apply,
 * KS_ERR_NOMEM (then free_ctx is not called: ctx stays the caller's). */
KS_API ks_status ks_sampler_new(const ks_sampler_iface *iface, void *ctx, ks_sampler **out, ks_err *err);
/* A chain: applies its samplers in order; accept and reset go to all of them. */
KS_API ks_status ks_sampler_new_chain(ks_sampler **out, ks_err *err);
/* Appends s to chain, which takes ownership of s (also on error, when s is freed).
 * KS_ERR_INVALID_ARG if chain is not a chain or s is NULL; KS_ERR_NOMEM. */
KS_API ks_status ks_sampler_chain_add(ks_sampler *chain, ks_sampler *s, ks_err *err);
/* Samplers in a chain (0 if s is not a chain); sampler i of it (borrowed, NULL out of range). */
KS_API int32_t ks_sampler_chain_n(const ks_sampler *chain);
KS_API ks_sampler *ks_sampler_chain_get(const ks_sampler *chain, int32_t i);

/* The built-in stages, llama.cpp's (common/sampling.cpp) in meaning. Each returns
 * KS_ERR_INVALID_ARG naming a bad value, or KS_ERR_NOMEM. */
KS_API ks_status ks_sampler_new_greedy(ks_sampler **out, ks_err *err);           /* argmax, ties -> lowest id */
KS_API ks_status ks_sampler_new_dist(uint64_t seed, ks_sampler **out, ks_err *err); /* draw from softmax(logits) */
KS_API ks_status ks_sampler_new_top_k(int32_t k, ks_sampler **out, ks_err *err);  /* k <= 0: off */
KS_API ks_status ks_sampler_new_top_p(float p, ks_sampler **out, ks_err *err);    /* p in (0, 1]; 1: off */
KS_API ks_status ks_sampler_new_min_p(float p, ks_sampler **out, ks_err *err);    /* p <= 1; <= 0: off */
KS_API ks_status ks_sampler_new_temp(float t, ks_sampler **out, ks_err *err);     /* logits / t; t <= 0: greedy */
/* Repetition (llama.cpp: logit > 0 ? logit / repeat : logit * repeat), then
 * logit -= count * frequency + presence, over the last last_n accepted tokens (-1: all). */
KS_API ks_status ks_sampler_new_penalties(int32_t n_vocab, int32_t last_n, float repeat, float frequency,
                                          float presence, ks_sampler **out, ks_err *err);
/* Adds bias to the logit of token (-INFINITY bans it). */
typedef struct ks_logit_bias {
    int32_t token;
    float bias;
} ks_logit_bias;
/* biases copied; KS_ERR_INVALID_ARG for a token outside [0, n_vocab). */
KS_API ks_status ks_sampler_new_logit_bias(int32_t n_vocab, const ks_logit_bias *biases, size_t n, ks_sampler **out,
                                           ks_err *err);

/* The whole default chain from one struct, as the CLI's options: penalties -> top_k ->
 * top_p -> min_p -> temperature -> draw (greedy when temp <= 0), llama.cpp's order; top_p and
 * min_p see the distribution at temperature 1; one seed gives one token sequence on every
 * platform. */
typedef struct ks_sampler_params {
    float temp;            /* <= 0: greedy (argmax, ties -> lowest id) */
    int32_t top_k;         /* <= 0 (or >= n_vocab): off */
    float top_p;           /* in (0, 1]; 1: off */
    float min_p;           /* <= 0: off; at most 1. Keeps p >= min_p * p_max */
    float repeat_penalty;  /* > 0; 1: off */
    int32_t repeat_last_n; /* penalty window in tokens: 0 = penalties off, -1 = whole history */
    float presence_penalty;  /* 0: off. logit -= presence * (count > 0)      (OpenAI) */
    float frequency_penalty; /* 0: off. logit -= frequency * count           (OpenAI) */
    uint64_t seed;         /* same seed, same output (0 is an ordinary seed) */
} ks_sampler_params;
/* llama.cpp's common defaults: temp 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1.0,
 * repeat_last_n 64, presence/frequency 0, seed 0. */
KS_API ks_sampler_params ks_sampler_default_params(void);
/* The default chain as one sampler (its own fused code, so the CLI's outputs stay as they
 * were). KS_ERR_INVALID_ARG naming the bad field, KS_ERR_NOMEM. */
KS_API ks_status ks_sampler_init(ks_sampler **out, const ks_sampler_params *p, int32_t n_vocab, ks_err *err);

/* Frees a sampler (a chain frees its samplers); accepts NULL. */
KS_API void ks_sampler_free(ks_sampler *s);
/* "greedy", "dist", "top-k", ..., "chain", "default", or the user name. Borrowed. */
KS_API const char *ks_sampler_name(const ks_sampler *s);
/* Forgets the token history and reseeds. */
KS_API void ks_sampler_reset(ks_sampler *s);
/* Records a token (prompt or generated) for the samplers with history (penalties). */
KS_API void ks_sampler_accept(ks_sampler *s, int32_t token);
/* Runs the sampler (or chain) on cur. */
KS_API void ks_sampler_apply(ks_sampler *s, ks_token_data_array *cur);
/* Picks the next token from n_vocab logits (not modified; NaN counts as -inf): builds the
 * candidates, applies s, returns the selected id (a chain that selects nothing: the first
 * candidate, i.e. the argmax when sorted). Does NOT accept the token: call ks_sampler_accept.
 * Returns an id in [0, n_vocab), or -1 for a NULL argument, n_vocab smaller than
 * ks_sampler_n_vocab(s), or out of memory. */
KS_API int32_t ks_sampler_sample(ks_sampler *s, const float *logits, int32_t n_vocab);
/* The vocabulary size a sampler was made for (ks_sampler_init, penalties, logit bias; a chain:
 * the largest of its members'), 0 if none. */
KS_API int32_t ks_sampler_n_vocab(const ks_sampler *s);
/* ks_sampler_sample on ks_context_logits(c, i); -1 if token i has no logits. */
KS_API int32_t ks_sampler_sample_ctx(ks_sampler *s, const ks_context *c, int64_t i);

/* ======================================================================== */
/* Generation loop (built on the calls above, for convenience)               */
/* ======================================================================== */

/* Receives each chunk of complete UTF-8 text as produced. Return nonzero to stop. */
typedef int (*ks_gen_text_fn)(void *user_data, const char *text, size_t len);

typedef struct ks_gen_params {
    int64_t n_predict;  /* tokens to generate at most; < 0: until the context is full */
    bool ignore_eog;    /* keep going past end-of-generation tokens (benchmarks) */
    bool context_shift; /* a full context drops the oldest half after n_keep and goes on (llama.cpp's
                           context shift): n_predict < 0 then means n_ctx tokens */
    int64_t n_keep;     /* tokens kept at the start (the system prompt) when shifting */
} ks_gen_params;

typedef struct ks_gen_stats {
    int64_t n_prompt;  /* prompt tokens evaluated (excluding those already cached) */
    int64_t n_gen;     /* tokens generated */
    double t_prompt_s; /* wall time of prompt processing */
    double t_gen_s;    /* wall time of generation */
    bool stopped_eog;  /* ended on an end-of-generation token */
    bool stopped_ctx;  /* ended because the context was full (before n_predict tokens) */
    int64_t n_discarded; /* tokens dropped by context shifts: positions [n_keep, n_keep + n_discarded) of the
                            cache as it was, in one block */
} ks_gen_stats;

/* Sequence 0: generates up to gp->n_predict tokens after tokens[0..n_tokens), never more than
 * the context holds (ks_gen_max_tokens). The first n_cached tokens are already in the cache at
 * positions 0.. (a conversation so far); the rest are evaluated as one batch. Samples with smpl
 * (accepting the prompt's and the generated tokens), streams whole UTF-8 text to on_text
 * (nullable; nonzero from it stops), appends generated ids to out_ids (capacity
 * ks_gen_max_tokens(...), nullable), *n_out (nullable) their count. The end-of-generation
 * token is not included and not evaluated. m is ks_context_model(ctx). n_cached is clamped to
 * [0, n_tokens - 1] (the last prompt token is always evaluated, for its logits). Errors: those of
 * ks_decode_batch, KS_ERR_INVALID_ARG (empty prompt), KS_ERR_LIMIT (a prompt longer than the
 * context), KS_ERR_NOMEM. */
KS_API ks_status ks_generate(ks_context *ctx, const ks_model *m, ks_sampler *smpl, const int32_t *tokens,
                             int64_t n_tokens, int64_t n_cached, const ks_gen_params *gp, ks_gen_text_fn on_text,
                             void *user_data, int32_t *out_ids, int64_t *n_out, ks_gen_stats *stats, ks_err *err);
/* Tokens ks_generate produces at most for n_predict (< 0: no limit) after n_tokens prompt
 * tokens in a context of n_ctx; 0 if the prompt does not fit. */
KS_API int64_t ks_gen_max_tokens(int64_t n_predict, int64_t n_ctx, int64_t n_tokens);

/* ======================================================================== */
/* Evaluation                                                                */
/* ======================================================================== */

typedef struct ks_ppl_result {
    int64_t n_chunks; /* chunks scored */
    int64_t n_scored; /* tokens scored */
    double nll, nll2; /* sums of -log p and its square */
    double ppl;       /* exp(nll / n_scored) */
    double ppl_err;   /* llama.cpp's +/- estimate */
} ks_ppl_result;
/* Called after every chunk with the running result. */
typedef void (*ks_ppl_progress_fn)(void *user_data, const ks_ppl_result *running);
/* Perplexity of tokens[0..n_tokens) as llama.cpp's perplexity tool computes it: chunks of
 * n_ctx tokens (BOS first when the model adds BOS), each from an empty cache in decodes of
 * n_batch, the second half of each chunk scored. max_chunks <= 0: all. n_threads 0: all
 * cores. KS_ERR_INVALID_ARG for fewer than 2 * n_ctx tokens, n_ctx < 8 or odd; else as
 * ks_context_new / ks_decode_batch. */
KS_API ks_status ks_perplexity(const ks_model *m, const int32_t *tokens, int64_t n_tokens, int64_t n_ctx,
                               int64_t n_batch, int64_t max_chunks, int n_threads, ks_ppl_progress_fn progress,
                               void *user_data, ks_ppl_result *out, ks_err *err);

/* ======================================================================== */
/* Writing models: quantize, convert                                         */
/* ======================================================================== */

/* Outputs are checked before any work and written safely: refused if the output is one of
 * the inputs (by inode, through links) or exists and is not a regular file or is a symbolic
 * link; written to a temporary file ".NAME.XXXXXX" beside it, renamed over it at the end. A
 * failure leaves the output as it was. */

typedef struct ks_convert_stats {
    char arch[32];     /* GGUF architecture written ("llama", "qwen2") */
    char pre[32];      /* tokenizer.ggml.pre written */
    bool pre_default;  /* the pre-tokenizer was not recognised: "default" written */
    int out_type;      /* ks_type of the 2-D weights (after "auto") */
    int64_t n_tensors; /* tensors written */
    int64_t n_params;  /* elements in them */
    uint64_t bytes_in; /* safetensors bytes read */
} ks_convert_stats;

#define KS_CONVERT_AUTO (-1) /* outtype: BF16 or F16 after the weights (convert_hf_to_gguf's "auto") */

typedef struct ks_convert_params {
    int32_t outtype; /* KS_TYPE_F32, KS_TYPE_F16, KS_TYPE_BF16, KS_TYPE_Q8_0 or KS_CONVERT_AUTO */
    ks_progress_fn progress_callback; /* NULL: none */
    void *progress_data;
} ks_convert_params;
KS_API ks_convert_params ks_convert_default_params(void); /* auto, no callback */
/* Type for "f32", "f16", "bf16", "q8_0" (any case), KS_CONVERT_AUTO for "auto", -2 if unknown. */
KS_API int ks_convert_outtype_from_name(const char *name);
/* A Hugging Face model folder (config.json, *.safetensors, tokenizer.json) to a GGUF file, as
 * llama.cpp's convert_hf_to_gguf.py writes it. stats nullable. Errors: KS_ERR_NOT_FOUND (a
 * file, key or tensor missing), KS_ERR_UNSUPPORTED (architecture, tokenizer, dtype),
 * KS_ERR_FORMAT, KS_ERR_IO, KS_ERR_NOMEM, KS_ERR_INVALID_ARG (a refused output),
 * KS_ERR_ABORTED. */
KS_API ks_status ks_convert_hf(const char *dir, const char *out_path, const ks_convert_params *p,
                               ks_convert_stats *stats, ks_err *err);

typedef struct ks_quantize_stats {
    int64_t n_tensors, n_quantized;
    uint64_t bytes_in, bytes_out;
    bool converted;           /* the input was a Hugging Face folder, converted first */
    ks_convert_stats convert; /* that conversion (to a temporary F32 GGUF) */
} ks_quantize_stats;

typedef struct ks_quantize_params {
    int ftype; /* llama.cpp's llama_ftype, from ks_quantize_type_from_name */
    ks_progress_fn progress_callback; /* NULL: none */
    void *progress_data;
} ks_quantize_params;
/* Target by llama-quantize's name ("Q8_0", "Q6_K", "Q5_0", "Q4_K_M" or "Q4_K", "Q4_1",
 * "Q4_0", "F16", "BF16", "F32", any case): the llama_ftype code; -1 if unknown. */
KS_API int ks_quantize_type_from_name(const char *name);
/* The accepted names, for messages (static storage). */
KS_API const char *ks_quantize_type_names(void);
/* ftype Q8_0, no callback. */
KS_API ks_quantize_params ks_quantize_default_params(void);
/* Rewrites in_path (a GGUF, or a Hugging Face folder: converted first to a temporary F32 GGUF
 * beside out_path, removed afterwards) with its weight matrices in p->ftype, llama.cpp's
 * choice of type per tensor (llama_tensor_get_type) and ggml's reference quantizers. stats
 * nullable. Errors: those of the reader and of ks_convert_hf, KS_ERR_INVALID_ARG (bad ftype,
 * a refused output), KS_ERR_LIMIT (the converted tensors exceed the memory available),
 * KS_ERR_IO, KS_ERR_ABORTED. */
KS_API ks_status ks_quantize(const char *in_path, const char *out_path, const ks_quantize_params *p,
                             ks_quantize_stats *stats, ks_err *err);

/* ---- files ---- */
/* Checks out_path against the output policy above (inputs: the paths the command reads,
 * NULL entries skipped) without writing anything. KS_ERR_INVALID_ARG for a refused output. */
KS_API ks_status ks_output_check(const char *out_path, const char *const *inputs, size_t n_inputs, ks_err *err);
/* Writes data[0..len) to out_path under the output policy (temporary file, fsync, rename).
 * KS_ERR_INVALID_ARG (refused), KS_ERR_IO (with the OS reason). */
KS_API ks_status ks_output_write(const char *out_path, const char *const *inputs, size_t n_inputs, const void *data,
                                 size_t len, ks_err *err);
/* Removes every temporary output file still being written (by any call in progress):
 * async-signal-safe (unlink only), for a SIGINT/SIGTERM handler. */
KS_API void ks_output_cleanup(void);

/* ---- input for programs: size-capped readers (the CLI's -f and chat lines) ---- */
/* Reads the file at path into *data (owned: free with ks_free; a NUL follows the *size bytes).
 * max_bytes 0 means 256 MiB. Pipes and devices are read up to the cap plus one byte; a larger
 * regular file is refused from its size. KS_ERR_LIMIT ("PATH: larger than the limit of N MiB
 * for a text file"), KS_ERR_IO (a folder, a missing or unreadable file), KS_ERR_NOMEM; on
 * error *data is NULL and *size 0. */
KS_API ks_status ks_file_read_max(const char *path, size_t max_bytes, uint8_t **data, size_t *size, ks_err *err);
/* Reads one line of f (name: for messages, e.g. "stdin") without its '\n' or a trailing '\r'
 * into *line (owned, NUL-terminated: ks_free; *len its length, len nullable). At the end of
 * input returns KS_OK with *line NULL. KS_ERR_LIMIT when the line exceeds max_bytes (0: 4 MiB):
 * nothing past the limit is read. */
KS_API ks_status ks_line_read(FILE *f, const char *name, size_t max_bytes, char **line, size_t *len, ks_err *err);
/* Frees memory the library returned as owned by the caller; accepts NULL. */
KS_API void ks_free(void *p);

#ifdef __cplusplus
}
#endif
#endif /* KESTREL_H */
