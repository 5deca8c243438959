/* main.c - kestrel command-line entry point: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_train(int argc, char **argv);        /* cmd_train.c */
int cli_train_export(int argc, char **argv); /* cmd_train.c */
int cli_prepare_data(int argc, char **argv); /* cmd_train.c */
int cli_train_tokenizer(int argc, char **argv); /* cmd_train.c */

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"generate", cli_generate, "generate a continuation of a prompt"},
    {"chat", cli_chat, "interactive chat using the model's chat template"},
    {"tokenize", cli_tokenize, "print the token ids of a text"},
    {"info", cli_info, "print a model's architecture, hyperparameters and tensors"},
    {"convert", cli_convert, "convert a Hugging Face model folder (safetensors) to GGUF"},
    {"quantize", cli_quantize, "convert a GGUF's (or HF folder's) weights to Q8_0, Q4_0, Q4_1, F16, BF16 or F32"},
    {"bench", cli_bench, "prompt-processing and generation speed (like llama-bench)"},
    {"perplexity", cli_perplexity, "perplexity of a text file, computed as llama.cpp computes it"},
    {"logits", cli_logits, "write next-token logits for given token ids (testing)"},
    {"train", cli_train, "train a model from scratch on token shards (docs/TRAINING.md)"},
    {"train-export", cli_train_export, "write a training checkpoint's model as a GGUF"},
    {"prepare-data", cli_prepare_data, "text or JSONL files to token shards for kestrel train"},
    {"train-tokenizer", cli_train_tokenizer, "train a byte-level BPE tokenizer (tokenizer.json) on text files"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: kestrel COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nrun 'kestrel COMMAND --help' for a command's options\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("kestrel %s\n", KS_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kestrel: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
