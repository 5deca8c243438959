/* cmd_info.c - `kestrel info`: architecture, hyperparameters, tensors by type. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/gguf.h"
#include "tensor/dtype.h"
#include "tokenizer/tokenizer.h"

static void print_type_summary(const ks_model *m) {
    int64_t count[KS_DTYPE_COUNT] = {0};
    uint64_t bytes[KS_DTYPE_COUNT] = {0};
    uint64_t total = 0;
    if (m->gguf) {
        for (uint64_t i = 0; i < m->gguf->n_tensors; i++) {
            const gguf_tensor_info *t = &m->gguf->tensors[i];
            if (t->type < KS_DTYPE_COUNT) count[t->type]++, bytes[t->type] += t->nbytes;
            total += t->nbytes;
        }
        printf("tensors:      %llu (%.2f MiB)\n", (unsigned long long)m->gguf->n_tensors, total / 1048576.0);
    } else {
        total = m->map.size;
        printf("tensors:      %lld (F32, %.2f MiB)\n", (long long)(m->hp.n_layer * 9 + 2), total / 1048576.0);
    }
    for (uint32_t t = 0; t < KS_DTYPE_COUNT; t++)
        if (count[t])
            printf("  %-6s      %lld tensors, %.2f MiB\n", ks_dtype_get(t)->name, (long long)count[t], bytes[t] / 1048576.0);
}

int cli_info(int argc, char **argv) {
    cli_opts o;
    int rc = cli_parse(argc, argv, "info", "m,tokenizer", &o);
    if (rc || o.help) return rc;
    ks_model *m = cli_load_model(&o);
    if (!m) return 1;
    const ks_hparams *hp = &m->hp;
    /* strings from the file (and the path) are escaped: a name must not drive the terminal */
    printf("file:         ");
    cli_print_escaped(stdout, o.model, strlen(o.model));
    printf("\nformat:       %s\n", m->format == KS_FORMAT_GGUF ? "GGUF" : "llama2.c checkpoint");
    if (m->gguf) printf("gguf version: %u\n", m->gguf->version);
    gguf_str s;
    if (m->gguf && gguf_get_str(m->gguf, "general.name", &s, NULL) == KS_OK) {
        printf("name:         ");
        cli_print_escaped(stdout, s.ptr, s.len);
        printf("\n");
    }
    if (ks_model_has_weights(m)) {
        printf("architecture: %s\n", m->arch->name);
        printf("n_vocab:      %lld\nn_embd:       %lld\nn_layer:      %lld\nn_head:       %lld\nn_head_kv:    %lld\n",
               (long long)hp->n_vocab, (long long)hp->n_embd, (long long)hp->n_layer, (long long)hp->n_head,
               (long long)hp->n_head_kv);
        printf("head_dim:     %lld\nn_ff:         %lld\nn_ctx_train:  %lld\nn_rot:        %lld\n", (long long)hp->head_dim,
               (long long)hp->n_ff, (long long)hp->n_ctx_train, (long long)hp->n_rot);
        printf("norm_eps:     %g\nrope_theta:   %g\n", hp->norm_eps, hp->rope_theta);
        printf("output:       %s\n", m->output.data == m->tok_embd.data ? "tied to token_embd" : "separate");
    } else {
        printf("architecture: (vocabulary only)\n");
    }
    print_type_summary(m);
    printf("tokenizer:    %s, %d tokens, bos %d, eos %d%s\n",
           ks_tokenizer_type(m->tok) == KS_TOK_BPE ? "byte-level BPE" : "SentencePiece BPE", ks_tokenizer_n_vocab(m->tok),
           ks_tokenizer_bos(m->tok), ks_tokenizer_eos(m->tok), ks_tokenizer_add_bos(m->tok) ? ", adds BOS" : "");
    printf("chat template: %s\n", m->chat_template ? "yes" : "no");
    ks_model_free(m);
    return 0;
}
