/* context_impl.h - the inference context's insides, shared by context.c (creation,
 * sequences, logits), forward.c (the blocks) and attention.c. Not a public header.
 *
 * Scratch layout: activations are [n_tok][dim] row-major, one row per token of the
 * micro-batch being run (at most n_batch tokens).
 */
#ifndef KS_CONTEXT_IMPL_H
#define KS_CONTEXT_IMPL_H
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/model.h"

/* key ranges one (token block, kv head) flash task may be cut into (attention.c) */
#define KS_FLASH_SPLIT_MAX 16

/* one thread's flash-attention task buffers */
typedef struct ks_flash_scratch {
    const float **q; /* [16 * group] query rows of a task */
    float **o;       /* [16 * group] their outputs */
    int64_t *lo, *hi;
    void *scratch;   /* ks_attn_flash_scratch_bytes */
} ks_flash_scratch;

struct ks_context {
    const ks_model *m;
    int64_t n_ctx, n_batch;
    ks_kv_cache kv;
    ks_batch b0;           /* ks_decode's batch of sequence 0 (n_batch tokens) */
    /* the micro-batch being run */
    int64_t ub_n;          /* tokens */
    int64_t ub_n_span;     /* cells attention looks at: [0, ub_n_span) */
    int64_t *ub_cell;      /* [n_batch] the cell each token writes */
    int32_t *ub_pos;       /* [n_batch] */
    int32_t *ub_seq;       /* [n_batch] the sequence each token attends as */
    ks_kv_view *ub_view_full; /* [n_batch] what each token sees (causal) */
    ks_kv_view *ub_view_swa;  /* [n_batch] the same within the sliding window (models with one), else NULL */
    const ks_kv_view *ub_view; /* the layer being run's: ub_view_full or ub_view_swa (attention.c reads it) */
    int32_t ub_window;        /* its window for kv_mask_row (0: none) */
    int64_t *cells_all;    /* [n_batch] slots found for a whole call (reserved) */
    int64_t *ub_blk;       /* [n_batch + 1] flash attention's token blocks (attention.c) */
    int64_t *cell_idx;     /* [n_ctx] cells for a state being loaded */
    int32_t *shift;        /* [n_ctx] pending position deltas per cell (K re-rotation) */
    /* activations, each owned, sized for n_batch tokens */
    float *x;           /* [n_batch][n_embd] residual stream */
    float *xb;          /* [n_batch][n_embd] normed input */
    float *xb2;         /* [n_batch][n_embd] block output */
    float *xa;          /* [n_batch][n_embd] attention output of a parallel block (Falcon), else NULL */
    float *q;           /* [n_batch][n_head*head_dim] */
    float *k, *v;       /* [n_batch][kv_dim] */
    float *att;         /* [n_batch][n_head*head_dim] attention output */
    float *hb, *hb2;    /* [n_batch][n_ff] */
    float *scores;      /* [n_threads][3][n_ctx] */
    float *mask;        /* [n_threads][n_ctx] one token's mask over its view */
    float *qh;          /* [n_threads][3][head_dim] queries rounded to the cache type */
    float *kvf;         /* the layer's K and V transposed ([kv_dim][<= n_ctx + 32]) and widened to
                           float (batched attention on an f16 cache; NULL when unused) */
    float *kvrow;       /* [n_threads][2 * kv_dim + n_rot + 2] cache rows widened (Q8_0 cache, K-shift) */
    float *rope_cos, *rope_sin; /* [n_batch][n_rot/2] */
    float *rope_cos_swa, *rope_sin_swa; /* the same by rope_theta_swa (per-layer RoPE base), else NULL */
    float *inv_freq;    /* [n_rot/2] */
    /* outputs of the last ks_decode_batch */
    float *logits;          /* [n_logits_cap][n_vocab] */
    int64_t n_logits_cap;
    int64_t *out_row;       /* [out_row_cap] batch index -> logits row, -1 for none */
    int64_t out_row_cap;
    int64_t n_outputs, last_output; /* rows written; batch index of the last row (-1: none) */
    int64_t n_out_batch;    /* tokens in the last batch */
    void *mm_scratch;   /* activation conversion for matmuls */
    int n_threads;
    bool flash_attn;             /* attention by the flash kernel (always for F32 / Q8_0 caches) */
    ks_flash_scratch *flash;     /* [n_threads] */
    float *split_o;  /* [KS_FLASH_SPLIT_MAX][16][n_head][head_dim] split-KV partial outputs (attention.c) */
    float *split_ml; /* [KS_FLASH_SPLIT_MAX][n_head_kv][2][16 * group] their maxima and sums */
    const ks_attn_kernels *attn; /* chosen at creation for this CPU */
    /* kestrel.h's extras */
    float *embd;                 /* [n_logits_cap][n_embd] final hidden states of the outputs, or NULL */
    int n_threads_gen, n_threads_batch; /* team sizes of single-token and longer decodes; n_threads is the
                                           current decode's, n_threads_max (the larger) sizes the scratch */
    int n_threads_max;
    ks_abort_fn abort_cb;        /* polled between micro-batches; may be NULL */
    void *abort_data;
    ks_perf_data perf;
};

/* attention.c: attention of the micro-batch's queries (c->q) into c->att for layer il */
void ks_attention(ks_context *c, int64_t il);
/* forward.c: runs the micro-batch set up in c->ub_* on batch tokens; logits rows for
 * tokens with want[i] go to c->logits from row *row_io on */
void ks_forward_ubatch(ks_context *c, const int32_t *tokens, const int8_t *want, int64_t *row_io);
/* forward.c: cos/sin tables for the given positions by RoPE base base into cs/sn ([n][n_rot/2]) */
void ks_rope_tables(const ks_context *c, const int32_t *pos, int64_t n, float base, float *cs, float *sn);
#endif
