/* tokenizer.h - text <-> token ids.
 *
 * Two algorithms, one vocabulary type:
 *  - KS_TOK_BPE: byte-level BPE (GGUF tokenizer.ggml.model "gpt2"): bytes are
 *    mapped to printable unicode as in GPT-2, text is split by the pre-tokenizer
 *    regexes the file declares (tokenizer.ggml.pre, via PCRE2), pieces merged by
 *    merge rank.
 *  - KS_TOK_SPM: SentencePiece-style BPE (model "llama"): spaces become U+2581,
 *    optional leading-space prefix, pairs merged by score, unknown bytes become
 *    <0xXX> byte tokens. The llama2.c tokenizer.bin uses the same algorithm with
 *    plain spaces instead of U+2581.
 * Special/control tokens are matched in the text only when parse_special.
 */
#ifndef KS_TOKENIZER_H
#define KS_TOKENIZER_H
#include "kestrel.h"

struct gguf_ctx;

typedef struct ks_tokenizer ks_tokenizer;

/* ks_tok_type, KS_TOKATTR_*: kestrel.h */

/* Builds a tokenizer from GGUF metadata (tokenizer.ggml.*). The tokenizer owns
 * copies of everything it needs (the gguf context may be closed afterwards).
 * KS_ERR_UNSUPPORTED for an unknown model or pre-tokenizer name. */
ks_status ks_tokenizer_from_gguf(const struct gguf_ctx *g, ks_tokenizer **out, ks_err *err);
/* Loads a llama2.c tokenizer.bin (int32 max_len; per token: f32 score, int32 len, bytes).
 * vocab_size comes from the model header. */
ks_status ks_tokenizer_from_llama2c(const char *path, int32_t vocab_size, ks_tokenizer **out, ks_err *err);
/* Same from a caller-owned buffer (copied; name is used in messages). */
ks_status ks_tokenizer_from_llama2c_memory(const void *data, size_t size, int32_t vocab_size, const char *name,
                                           ks_tokenizer **out, ks_err *err);
void ks_tokenizer_free(ks_tokenizer *tok);

/* Encodes len bytes of text (need not be valid UTF-8: invalid bytes are
 * tokenized as bytes, never read past len). add_special: add BOS/EOS as the
 * model declares. parse_special: control/user-defined token text in the input
 * becomes those tokens. On success *ids is malloc'ed (caller frees) with *n_ids entries. */
ks_status ks_tokenize(const ks_tokenizer *tok, const char *text, size_t len, bool add_special,
                      bool parse_special, int32_t **ids, size_t *n_ids, ks_err *err);

/* A byte range of the text to tokenize and whether control/unknown token text
 * may be matched inside it (user-defined tokens always are). */
typedef struct ks_tok_segment {
    size_t off, len;
    bool parse_special;
} ks_tok_segment;
/* ks_tokenize with parse_special decided per segment; segs[0..n_segs) must
 * cover text[0, len) in order (else KS_ERR_INVALID_ARG). A special token is
 * matched only inside one segment, never across a boundary; raw text running
 * across boundaries is tokenized as one piece, so the ids equal ks_tokenize's
 * with parse_special whenever no control-token text lies in, or straddles into,
 * a segment without parse_special. Chat uses it to keep message content from
 * becoming control tokens (ks_chat_tokenize). add_bos / add_eos add BOS / EOS
 * where the vocabulary asks for them (ks_tokenizer_add_bos/_eos), as
 * ks_tokenize's add_special does for both: a chat prompt takes BOS but never EOS. */
ks_status ks_tokenize_segments(const ks_tokenizer *tok, const char *text, size_t len, const ks_tok_segment *segs,
                               size_t n_segs, bool add_bos, bool add_eos, int32_t **ids, size_t *n_ids, ks_err *err);

/* Bytes of one token as it appears in decoded text (byte tokens give their byte,
 * U+2581 becomes space, byte-level BPE is unmapped; control tokens give "" unless
 * render_special, which gives their text). Returns a borrowed pointer valid
 * until ks_tokenizer_free, or NULL for an out-of-range id; *len set. */
const char *ks_token_to_piece(const ks_tokenizer *tok, int32_t id, bool render_special, size_t *len);
/* The token's vocabulary string as stored (e.g. "Ġhello", "▁the", "<0x0A>"). */
const char *ks_token_text(const ks_tokenizer *tok, int32_t id, size_t *len);

int32_t ks_tokenizer_n_vocab(const ks_tokenizer *tok);
ks_tok_type ks_tokenizer_type(const ks_tokenizer *tok);
int32_t ks_tokenizer_bos(const ks_tokenizer *tok); /* -1 if none */
int32_t ks_tokenizer_eos(const ks_tokenizer *tok); /* -1 if none */
bool ks_tokenizer_add_bos(const ks_tokenizer *tok);
bool ks_tokenizer_add_eos(const ks_tokenizer *tok);
/* True for every end-of-generation token: EOS, EOT, and end-of-turn control
 * tokens such as <|im_end|>, <|eot_id|>, <|end_of_text|>, <end_of_turn>. */
bool ks_token_is_eog(const ks_tokenizer *tok, int32_t id);
int32_t ks_token_attr(const ks_tokenizer *tok, int32_t id);
/* Id of the token whose text is exactly s, or -1. */
int32_t ks_tokenizer_find(const ks_tokenizer *tok, const char *s, size_t len);

/* Streaming detokenizer: holds back bytes of an incomplete UTF-8 character so
 * that every chunk it returns is whole characters. Invalid sequences are passed
 * through byte for byte once it is certain they cannot complete. */
/* ks_detok_stream: kestrel.h */
void ks_detok_stream_init(ks_detok_stream *s);
/* Appends the piece of id to out (cap bytes). Returns the number of bytes
 * written (complete characters only), or -1 if cap is too small (needs <= 64 + piece length). */
int64_t ks_detok_stream_push(ks_detok_stream *s, const ks_tokenizer *tok, int32_t id, char *out, size_t cap);
/* Length of the longest piece (render_special or not): ks_detok_stream_push never
 * needs more than this + sizeof pending bytes of out. */
size_t ks_tokenizer_max_piece_len(const ks_tokenizer *tok);
/* Flushes held-back bytes at the end of generation. */
int64_t ks_detok_stream_flush(ks_detok_stream *s, char *out, size_t cap);
#endif
