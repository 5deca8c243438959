#!/usr/bin/env python3
"""Writes a random-weight LLaMA GGUF (F16) of a given shape, for speed benchmarks only
(no real model of that size ships on PyPI). Shapes: tinyllama-1.1b (n_embd 2048, 22 layers,
32 heads, 4 kv heads, ffn 5632, vocab 32000); small-512; and for issue 13's depth and parallel-sequence
benchmarks (bench/bench_depth.py, bench/bench_batched.py) 4-layer slices of 7B-class models with an
8192-token context: hd128 (Llama-3-8B / Mistral-7B layers: n_embd 4096, 32 heads x 128, 8 kv heads,
ffn 14336) and hd256 (n_embd 4096, 16 heads x 256, 8 kv heads, ffn 14336: Gemma-style head size on
LLaMA layers); head size 64 is SmolLM2-135M itself (cache/models/). The tokenizer is the LLaMA SentencePiece
vocabulary from ../shared/testdata/tokenizers/ggml-vocab-llama-spm.gguf (32000 tokens).
Usage: python bench/make_random_llama.py OUT.gguf [--shape tinyllama-1.1b] [--layers N]
Then: kestrel quantize OUT.gguf OUT-q8_0.gguf Q8_0 (and Q4_0); bash bench/prepare_models.sh does all.
"""
import argparse, os
import numpy as np
from gguf import GGUFReader, GGUFWriter, GGUFValueType

SHAPES = {"tinyllama-1.1b": dict(n_embd=2048, n_layer=22, n_head=32, n_head_kv=4, n_ff=5632, n_vocab=32000, n_ctx=2048),
          # small, with every row length a multiple of 256 (k-quants apply to every matrix)
          "small-512": dict(n_embd=512, n_layer=8, n_head=8, n_head_kv=4, n_ff=1536, n_vocab=32000, n_ctx=2048),
          # issue 13: depth 4096 + generation must fit the context
          "hd128": dict(n_embd=4096, n_layer=4, n_head=32, n_head_kv=8, n_ff=14336, n_vocab=32000, n_ctx=8192),
          "hd256": dict(n_embd=4096, n_layer=4, n_head=16, n_head_kv=8, n_ff=14336, n_vocab=32000, n_ctx=8192)}
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", default="tinyllama-1.1b", choices=sorted(SHAPES))
    ap.add_argument("--layers", type=int, help="override the shape's layer count")
    a = ap.parse_args()
    s = dict(SHAPES[a.shape])
    if a.layers:
        s["n_layer"] = a.layers
    vocab = GGUFReader(os.path.join(ROOT, "..", "shared", "testdata", "tokenizers", "ggml-vocab-llama-spm.gguf"))
    w = GGUFWriter(a.out, "llama")
    w.add_name("random " + a.shape)
    w.add_block_count(s["n_layer"])
    w.add_context_length(s["n_ctx"])
    w.add_embedding_length(s["n_embd"])
    w.add_feed_forward_length(s["n_ff"])
    w.add_head_count(s["n_head"])
    w.add_head_count_kv(s["n_head_kv"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type(1)
    f = vocab.fields
    w.add_tokenizer_model("llama")
    w.add_token_list([bytes(f["tokenizer.ggml.tokens"].parts[i]) for i in f["tokenizer.ggml.tokens"].data])
    w.add_token_scores([float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data])
    w.add_token_types([int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    rng = np.random.default_rng(0)
    E, F, V, hd = s["n_embd"], s["n_ff"], s["n_vocab"], s["n_embd"] // s["n_head"]
    kv = s["n_head_kv"] * hd

    def mat(rows, cols):  # numpy shape (rows=out, cols=in) -> GGUF ne [in, out]
        return (rng.standard_normal((rows, cols), dtype=np.float32) * (1.0 / np.sqrt(cols))).astype(np.float16)

    w.add_tensor("token_embd.weight", mat(V, E))
    w.add_tensor("output_norm.weight", np.ones(E, dtype=np.float32))
    w.add_tensor("output.weight", mat(V, E))
    for il in range(s["n_layer"]):
        p = "blk.%d." % il
        w.add_tensor(p + "attn_norm.weight", np.ones(E, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", mat(E, E))
        w.add_tensor(p + "attn_k.weight", mat(kv, E))
        w.add_tensor(p + "attn_v.weight", mat(kv, E))
        w.add_tensor(p + "attn_output.weight", mat(E, E))
        w.add_tensor(p + "ffn_norm.weight", np.ones(E, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", mat(F, E))
        w.add_tensor(p + "ffn_up.weight", mat(F, E))
        w.add_tensor(p + "ffn_down.weight", mat(E, F))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("wrote", a.out)


if __name__ == "__main__":
    main()
