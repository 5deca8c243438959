/* cli.h - subcommands and the shared option parser. Only the CLI prints and exits. */
#ifndef KS_CLI_H
#define KS_CLI_H
#include "generate/sampler.h"
#include "kestrel.h"
#include "model/model.h"

int cli_generate(int argc, char **argv);
int cli_chat(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_logits(int argc, char **argv);
int cli_perplexity(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_convert(int argc, char **argv);

typedef struct cli_opts {
    const char *model, *tokenizer, *prompt, *file, *system, *ids, *out;
    int64_t n_predict, n_ctx, n_batch, n_chunks, n_prompt, reps;
    int threads;
    ks_sampler_params sp;
    bool seed_set;
    bool no_bos, parse_special, pieces, ignore_eos, json, help, no_mmap, no_repack, f16_exact;
} cli_opts;

/* Parses argv into o (defaults first). allowed: the option names this command
 * accepts, e.g. "m,p,n,temp". Returns 0, or prints a one-line error and returns 2. */
int cli_parse(int argc, char **argv, const char *cmd, const char *allowed, cli_opts *o);
/* Prints "kestrel: <msg>" on stderr (one line) and returns 1. */
int cli_fail(const ks_err *err);
struct ks_hf_convert_stats;
/* Prints the one-line summary of a Hugging Face conversion (cmd_convert.c). */
void cli_report_convert(const char *dir, const char *out, const struct ks_hf_convert_stats *st);
/* For commands that write files: SIGINT/SIGTERM/SIGHUP remove the temporary outputs
 * (base/outfile.h) before the process ends by the signal; SIGXFSZ is ignored (signals.c). */
void cli_trap_signals(void);
/* Loads the model named by o (prints the error itself; NULL on failure). */
ks_model *cli_load_model(const cli_opts *o);
#endif
