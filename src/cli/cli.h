/* cli.h - subcommands and the shared option parser. Only the CLI prints and exits. */
#ifndef KS_CLI_H
#define KS_CLI_H
#include <stdio.h>

#include "kestrel.h" /* the CLI uses the public API only (tests/e2e/test_api_header.py checks) */

int cli_generate(int argc, char **argv);
int cli_chat(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_logits(int argc, char **argv);
int cli_perplexity(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_convert(int argc, char **argv);

/* the options each command accepts (keys of args.c's table), shared with fuzz/fuzz_args.c */
#define CLI_OPTS_LOAD "m,tokenizer,no-mmap,no-repack,f16-exact"
#define CLI_OPTS_CACHE ",ctk,ctv,fa"
#define CLI_OPTS_SAMPLING "temp,top-k,top-p,min-p,repeat-penalty,repeat-last-n,presence-penalty,frequency-penalty,seed"
#define CLI_OPTS_GENERATE CLI_OPTS_LOAD CLI_OPTS_CACHE ",p,f,n,c,t,no-bos,ignore-eos,max-input," CLI_OPTS_SAMPLING
#define CLI_OPTS_CHAT CLI_OPTS_LOAD CLI_OPTS_CACHE ",system,n,c,t,max-input,parse-special," CLI_OPTS_SAMPLING
#define CLI_OPTS_BENCH CLI_OPTS_LOAD CLI_OPTS_CACHE ",pp,ng,t,r,json,d,parallel,kvu"
#define CLI_OPTS_PERPLEXITY CLI_OPTS_LOAD ",f,c,b,t,chunks,max-input"
#define CLI_OPTS_TOKENIZE "m,tokenizer,p,f,no-bos,parse-special,pieces,max-input"

#define CLI_UNSET INT64_MIN /* an integer option not given */

typedef struct cli_opts {
    const char *model, *tokenizer, *prompt, *file, *system, *ids, *out;
    const char *cache_type_k, *cache_type_v, *parallel; /* -ctk, -ctv, bench --parallel; NULL when not given */
    int64_t n_depth;   /* bench -d: 0 when not given */
    bool flash_attn;   /* -fa */
    bool kv_unified;   /* bench -kvu */
    int64_t n_predict; /* CLI_UNSET, -1 (until the context is full), or >= 0 */
    int64_t n_prompt;  /* bench -p: CLI_UNSET or >= 0 */
    int64_t n_ctx, n_batch, n_chunks, reps, max_input; /* 0 (or -1 for chunks) when not given */
    int threads;                                       /* 0: all cores */
    ks_sampler_params sp;
    bool seed_random; /* no --seed, or --seed -1: cli_parse drew sp.seed at random */
    bool no_bos, parse_special, pieces, ignore_eos, json, help, no_mmap, no_repack, f16_exact;
} cli_opts;

/* Parses argv into o (defaults first) without printing or any I/O. allowed: the
 * option names this command accepts, e.g. "m,p,n,temp". Returns 0 (o->help set
 * for -h/--help), or 2 with a one-line message in msg (cap bytes). */
int cli_parse_opts(int argc, char **argv, const char *allowed, cli_opts *o, char *msg, size_t msg_cap);
/* cli_parse_opts, then: prints the error ("kestrel CMD: ...", returns 2) or the
 * usage for --help, and draws a random seed unless one was given. */
int cli_parse(int argc, char **argv, const char *cmd, const char *allowed, cli_opts *o);
/* Usage line and one line per option of the command, with its range. */
void cli_print_usage(FILE *f, const char *cmd, const char *allowed);
/* Parses a list of token ids ("1 2,3") into *ids (malloc'ed, caller frees; *n_ids >= 1).
 * Returns 0, or 2 with a one-line message (not a number, negative, above 2^31 - 1, empty list). */
int cli_parse_ids(const char *s, int32_t **ids, size_t *n_ids, char *msg, size_t msg_cap);
/* A random seed in [0, 2^32 - 1) from /dev/urandom (else the clock). */
uint64_t cli_random_seed(void);

/* Writes n bytes with control characters, DEL, C1 controls and invalid UTF-8
 * escaped as \xNN, so that text from a file cannot drive the terminal. */
void cli_print_escaped(FILE *f, const char *s, size_t n);
/* Prints "kestrel CMD: <msg>" on stderr (one line, escaped): a usage error. */
void cli_print_error(const char *cmd, const char *msg);
/* Prints "kestrel: <msg>" on stderr (one line, escaped) and returns 1. */
int cli_fail(const ks_err *err);
/* cli_fail for an error reading user input: a size-limit error gets the hint
 * "; raise it with --max-input-bytes N". */
int cli_fail_input(const ks_err *err);

/* Prints the one-line summary of a Hugging Face conversion (cmd_convert.c). */
void cli_report_convert(const char *dir, const char *out, const ks_convert_stats *st);
/* Fits sampler options to a context of n_ctx tokens: a --repeat-last-n window
 * longer than the context means the context (the sampler allocates the window). */
void cli_fit_sampler(ks_sampler_params *sp, int64_t n_ctx);
/* For commands that write files: SIGINT/SIGTERM/SIGHUP remove the temporary outputs
 * (base/outfile.h) before the process ends by the signal; SIGXFSZ is ignored (signals.c). */
void cli_trap_signals(void);
/* Applies -t, -ctk, -ctv and -fa to cp. KS_ERR_INVALID_ARG for a cache type other than f32, f16, q8_0. */
ks_status cli_context_params(const cli_opts *o, ks_context_params *cp, ks_err *err);
/* Progress callback (ks_progress_fn) of long work: "LABEL: 42%" on stderr when it is a
 * terminal (label: a string); never cancels. */
bool cli_progress(float p, void *label);
/* ks_tokenizer_tokenize into a malloc'ed array (*ids, caller frees). */
ks_status cli_tokenize_text(const ks_tokenizer *tok, const char *text, size_t len, bool add_special, bool parse_special,
                            int32_t **ids, size_t *n_ids, ks_err *err);
/* Loads the model named by o (prints the error itself; NULL on failure). */
ks_model *cli_load_model(const cli_opts *o);
#endif
