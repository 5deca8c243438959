/* cmd_info.c - `kestrel info`: architecture, hyperparameters, tensors by type. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_type_summary(const ks_model *m, const ks_model_info *info) {
    int64_t count[64] = {0};
    uint64_t bytes[64] = {0};
    if (strcmp(info->format, "GGUF")) {
        printf("tensors:      %lld (F32, %.2f MiB)\n", (long long)info->n_tensors, info->n_bytes / 1048576.0);
        return;
    }
    printf("tensors:      %llu (%.2f MiB)\n", (unsigned long long)info->n_tensors, info->n_bytes / 1048576.0);
    for (int64_t i = 0; i < info->n_tensors; i++) {
        ks_tensor_info t;
        if (ks_model_tensor_info(m, i, &t, NULL) == KS_OK && t.type >= 0 && t.type < 64 && ks_type_name(t.type))
            count[t.type]++, bytes[t.type] += t.n_bytes;
    }
    for (int32_t t = 0; t < 64; t++)
        if (count[t])
            printf("  %-6s      %lld tensors, %.2f MiB\n", ks_type_name(t), (long long)count[t], bytes[t] / 1048576.0);
}

int cli_info(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "info", "m,tokenizer", &o);
    if (rc || o.help) return rc;
    ks_model *m = cli_load_model(&o);
    if (!m) return 1;
    ks_model_info in;
    ks_model_get_info(m, &in);
    const ks_model_info *hp = &in;
    const ks_tokenizer *tok = ks_model_tokenizer(m);
    /* strings from the file (and the path) are escaped: a name must not drive the terminal */
    printf("file:         ");
    cli_print_escaped(stdout, o.model, strlen(o.model));
    const bool gguf = !strcmp(in.format, "GGUF");
    printf("\nformat:       %s\n", gguf ? "GGUF" : "llama2.c checkpoint");
    if (gguf) printf("gguf version: %u\n", in.gguf_version);
    size_t name_len = 0;
    if (gguf && ks_model_meta_val_str(m, "general.name", NULL, 0, &name_len, NULL) == KS_ERR_LIMIT) {
        char *name = malloc(name_len + 1);
        if (name && ks_model_meta_val_str(m, "general.name", name, name_len + 1, &name_len, NULL) == KS_OK) {
            printf("name:         ");
            cli_print_escaped(stdout, name, name_len);
            printf("\n");
        }
        free(name);
    }
    if (in.has_weights) {
        printf("architecture: %s\n", in.arch);
        printf("n_vocab:      %lld\nn_embd:       %lld\nn_layer:      %lld\nn_head:       %lld\nn_head_kv:    %lld\n",
               (long long)hp->n_vocab, (long long)hp->n_embd, (long long)hp->n_layer, (long long)hp->n_head,
               (long long)hp->n_head_kv);
        printf("head_dim:     %lld\nn_ff:         %lld\nn_ctx_train:  %lld\nn_rot:        %lld\n", (long long)hp->head_dim,
               (long long)hp->n_ff, (long long)hp->n_ctx_train, (long long)hp->n_rot);
        printf("norm_eps:     %g\nrope_theta:   %g\n", hp->norm_eps, hp->rope_theta);
        printf("output:       %s\n", in.tied_output ? "tied to token_embd" : "separate");
    } else {
        printf("architecture: (vocabulary only)\n");
    }
    print_type_summary(m, &in);
    printf("tokenizer:    %s, %d tokens, bos %d, eos %d%s\n",
           ks_tokenizer_type(tok) == KS_TOK_BPE ? "byte-level BPE" : "SentencePiece BPE", ks_tokenizer_n_vocab(tok),
           ks_tokenizer_bos(tok), ks_tokenizer_eos(tok), ks_tokenizer_add_bos(tok) ? ", adds BOS" : "");
    printf("chat template: %s\n", in.has_chat_template ? "yes" : "no");
    ks_model_free(m);
    return 0;
}
