#!/usr/bin/env bash
# fuzz.sh [SECONDS_PER_TARGET] [TARGET...] - builds the libFuzzer targets (clang,
# ASan+UBSan) and runs each for the given time (default 60 s) on one core,
# starting from the committed seeds (fuzz/corpus/<target>) plus a growing work
# corpus in cache/fuzz/<target>. Any crash, leak, sanitizer report or timeout
# fails the run; the reproducer is left in cache/fuzz/crashes/.
# Long local runs: bash scripts/fuzz.sh 600
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_gguf fuzz_llama2c fuzz_tokenize fuzz_chat fuzz_model fuzz_safetensors fuzz_hf fuzz_args)
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKS_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" 2>&1 | grep -E "error|warning" || true
vocabs="../shared/testdata/tokenizers/ggml-vocab-gpt-2.gguf:../shared/testdata/tokenizers/ggml-vocab-llama-spm.gguf"
[ -s cache/models/SmolLM2-135M-Instruct.Q4_1.gguf ] && vocabs="$vocabs:cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p cache/fuzz/crashes
for t in "${targets[@]}"; do
    mkdir -p "cache/fuzz/$t"
    echo "== $t: ${secs}s ==" >&2
    max_len=65536
    [ "$t" = fuzz_model ] && max_len=393216 # k-quant models need rows of 256 inputs
    KS_FUZZ_VOCABS="$vocabs" ASAN_OPTIONS=detect_leaks=1 "build-fuzz/$t" "cache/fuzz/$t" "fuzz/corpus/$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$max_len -print_final_stats=1 \
        -artifact_prefix="cache/fuzz/crashes/$t-" 2>"cache/fuzz/$t.log" || {
        tail -40 "cache/fuzz/$t.log" >&2
        echo "fuzz: $t FAILED (reproducer in cache/fuzz/crashes/)" >&2
        exit 1
    }
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov:" "cache/fuzz/$t.log" | tail -3 >&2
done
echo "fuzz: all targets clean" >&2
