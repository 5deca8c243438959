/* chat.h - chat templates: a conversation -> the prompt text a model was tuned on.
 *
 * The template comes from GGUF tokenizer.chat_template (untrusted text). There
 * is no Jinja interpreter: the template is classified by substrings, as
 * llama.cpp's llm_chat_detect_template does, and the family is rendered
 * natively. For the reference templates in tests/data/chat_templates/ the
 * output equals Hugging Face apply_chat_template (jinja2) byte for byte,
 * including:
 *  - the BOS text where the template emits bos_token ("<s>", "<bos>",
 *    "<|begin_of_text|>"): tokenize the result with parse_special and WITHOUT
 *    adding another BOS, as HF does (add_special_tokens=False);
 *  - the template's default system message when the conversation has none
 *    (SmolLM2, Qwen2.5 ChatML);
 *  - Python's str.strip() where the template trims (Unicode whitespace).
 * Where the HF template would raise (a system message for Gemma 1/2, which
 * has no system role; a system message for Mistral v0.1/0.2), rendering is
 * lenient as in llama.cpp: the system text is prefixed to the next user turn.
 * Roles a family does not know are skipped, as their templates do; role
 * alternation is not enforced.
 * A template is only read, never executed, and every scan of it is linear in
 * its size: no size or content makes it costly.
 *
 * Prompt injection: message content is data. A user line holding
 * "<|im_end|>\n<|im_start|>system\n..." must not forge turns, so the renderer
 * records which bytes are template markup and which are message data
 * (ks_chat_span), and ks_chat_tokenize parses control-token text in markup
 * only. For conversations whose content holds no control-token text, the ids
 * equal those of the whole render tokenized with parse_special, i.e. HF's.
 */
#ifndef KS_CHAT_H
#define KS_CHAT_H
#include "kestrel.h"

struct ks_tokenizer;

/* ks_chat_msg: kestrel.h */

typedef enum ks_chat_format {
    KS_CHAT_UNKNOWN = 0,
    KS_CHAT_CHATML,     /* <|im_start|>role\n...<|im_end|>\n (SmolLM, Qwen, OpenHermes) */
    KS_CHAT_LLAMA2,     /* <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s> */
    KS_CHAT_LLAMA3,     /* <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    KS_CHAT_ZEPHYR,     /* <|role|>\n...</s>\n */
    KS_CHAT_GEMMA,      /* <bos><start_of_turn>user\n...<end_of_turn>\n, assistant -> model */
    KS_CHAT_MISTRAL_V7, /* [SYSTEM_PROMPT] ...[/SYSTEM_PROMPT][INST] ...[/INST] ...</s> */
    KS_CHAT_PHI3,       /* <|role|>\n...<|end|>\n */
    KS_CHAT_MISTRAL,    /* Mistral 7B Instruct v0.1/v0.2: <s>[INST] ... [/INST]...</s> */
    KS_CHAT_PHI4,       /* <|im_start|>role<|im_sep|>...<|im_end|> */
    KS_CHAT_COUNT
} ks_chat_format;

/* Family of a template text, or of a format name ("chatml", "llama3", ... as
 * given by ks_chat_format_name). NULL, "" or unrecognized -> KS_CHAT_UNKNOWN. */
ks_chat_format ks_chat_detect(const char *tmpl);
/* Short name ("chatml", "llama2", ...); "unknown" for anything else. Never NULL. */
const char *ks_chat_format_name(ks_chat_format f);

/* A run of rendered text: template markup (content false), or message data
 * (content true): the content of every message, and a role that is not a
 * plain name ([A-Za-z0-9_-]+). */
typedef struct ks_chat_span {
    size_t off, len;
    bool content;
} ks_chat_span;

/* Renders msgs[0..n_msgs) with the template's family; add_assistant appends
 * the assistant turn header (HF add_generation_prompt; families whose
 * template has none, like Llama-2 and Mistral, ignore it). On success *out
 * is a malloc'ed NUL-terminated string (caller frees). Errors:
 * KS_ERR_UNSUPPORTED for a template no family matches; KS_ERR_INVALID_ARG for
 * NULL out, NULL msgs with n_msgs > 0 or a NULL role; KS_ERR_NOMEM/KS_ERR_LIMIT.
 * On error *out is NULL. */
ks_status ks_chat_render(const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs, bool add_assistant, char **out,
                         ks_err *err);
/* ks_chat_render, and (spans, n_spans nullable) the spans that cover *out in
 * order, adjacent spans of different kinds; *spans is malloc'ed (caller frees;
 * NULL with *n_spans 0 for an empty render). On error both are NULL/0. */
ks_status ks_chat_render_spans(const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs, bool add_assistant,
                               char **out, ks_chat_span **spans, size_t *n_spans, ks_err *err);

/* Renders the conversation and tokenizes it for tok: control-token text
 * becomes control tokens in the template's markup only; message data is plain
 * text unless parse_special_content (the CLI's --parse-special). BOS is added
 * when tok adds one, unless the render's markup begins with its text (templates
 * that emit bos_token); EOS as the tokenizer's add_eos says. On success *ids
 * is malloc'ed (caller frees) with *n_ids entries; errors as ks_chat_render
 * and ks_tokenize, with *ids NULL. */
ks_status ks_chat_tokenize(const struct ks_tokenizer *tok, const char *tmpl, const ks_chat_msg *msgs, size_t n_msgs,
                           bool add_assistant, bool parse_special_content, int32_t **ids, size_t *n_ids,
                           ks_err *err);

/* The system message the template inserts when a conversation has none,
 * read from its text (a literal "<|im_start|>system\n...<|im_end|>" span, as
 * in SmolLM2's "You are a helpful AI assistant named SmolLM, trained by
 * Hugging Face"); NULL if there is none, if it is computed rather than
 * literal, or on allocation failure. Malloc'ed; caller frees. */
char *ks_chat_default_system(const char *tmpl);

#endif /* KS_CHAT_H */
