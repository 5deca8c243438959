#!/usr/bin/env bash
# prepare_models.sh - writes the benchmark models of issue "Faster, smaller" into the
# git-ignored cache/models (idempotent):
#   SmolLM2-135M-Instruct Q4_1 (scripts/setup.sh downloads it), and re-quantized from an
#   F32 copy of it: smollm2-f32, smollm2-q8_0, smollm2-q4_0, smollm2-q4_k_m, smollm2-q6_k
#   (and smollm2-f16);
#   random TinyLlama-1.1B-shaped LLaMA: random-tinyllama-1.1b-f16 (bench/make_random_llama.py,
#   needs numpy + gguf), then -q8_0, -q4_0 and -q4_k_m by `kestrel quantize` (the same bytes
#   and tensor types llama-quantize writes: tests/data/quantize-check.txt);
#   issue 13's depth / parallel-sequence shapes in cache/bench: random-hd128 and random-hd256 (4-layer
#   slices of 7B-class models, bench/make_random_llama.py), F16 and Q4_0;
#   issue 16's family shapes in cache/bench: random GPT-2 124M and a 2-layer Falcon-7B slice, written by
#   transformers (bench/make_random_family.py), converted by `kestrel convert`, F16 and Q4_0.
# usage: bash bench/prepare_models.sh [KESTREL (default build/kestrel)] [PYTHON (default .venv/bin/python3)]
set -euo pipefail
cd "$(dirname "$0")/.."
K=${1:-build/kestrel}
PY=${2:-.venv/bin/python3}
M=cache/models
q() { [ -s "$2" ] || "$K" quantize "$1" "$2" "$3"; }
q $M/SmolLM2-135M-Instruct.Q4_1.gguf $M/smollm2-f32.gguf F32
q $M/smollm2-f32.gguf $M/smollm2-q8_0.gguf Q8_0
q $M/smollm2-f32.gguf $M/smollm2-q4_0.gguf Q4_0
q $M/smollm2-f32.gguf $M/smollm2-f16.gguf F16
q $M/smollm2-f32.gguf $M/smollm2-q4_k_m.gguf Q4_K_M
q $M/smollm2-f32.gguf $M/smollm2-q6_k.gguf Q6_K
[ -s $M/random-tinyllama-1.1b-f16.gguf ] || "$PY" bench/make_random_llama.py $M/random-tinyllama-1.1b-f16.gguf
q $M/random-tinyllama-1.1b-f16.gguf $M/random-tinyllama-1.1b-q8_0.gguf Q8_0
q $M/random-tinyllama-1.1b-f16.gguf $M/random-tinyllama-1.1b-q4_0.gguf Q4_0
q $M/random-tinyllama-1.1b-f16.gguf $M/random-tinyllama-1.1b-q4_k_m.gguf Q4_K_M
B=cache/bench
mkdir -p $B
for s in hd128 hd256; do
    [ -s $B/random-$s-f16.gguf ] || "$PY" bench/make_random_llama.py $B/random-$s-f16.gguf --shape $s
    q $B/random-$s-f16.gguf $B/random-$s-q4_0.gguf Q4_0
done
for s in gpt2-124m falcon-7b-2l; do
    [ -s $B/hf-$s/model.safetensors ] || "$PY" bench/make_random_family.py $s $B/hf-$s
    [ -s $B/random-$s-f16.gguf ] || "$K" convert $B/hf-$s $B/random-$s-f16.gguf
    q $B/random-$s-f16.gguf $B/random-$s-q4_0.gguf Q4_0
done
ls -la $M $B
