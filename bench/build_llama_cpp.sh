#!/usr/bin/env bash
# build_llama_cpp.sh - builds llama.cpp's benchmark and oracle tools (llama-bench, llama-batched-bench,
# llama-perplexity, llama-simple) from the llama.cpp sources vendored in llama-cpp-python's
# source package, the same version as tests/oracle/requirements.txt (0.3.36, llama.cpp build 0c1e570).
# Idempotent: the sdist is downloaded once into cache/lcp/, unpacked once, and cmake only rebuilds what
# changed. Binaries land in BUILD_DIR/bin.
# usage: bash bench/build_llama_cpp.sh [BUILD_DIR (default /tmp/lcp-build)] [PYTHON (default .venv/bin/python3)]
# env:   JOBS (default 2); CC/CXX as usual (on CPUs with AMX tiles use CC=clang CXX=clang++: the GCC 12
#        build dies with SIGSEGV at ldtilecfg in ggml's AMX matmul, docs/BENCHMARKS.md session 5)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/lcp-build}
PY=${2:-.venv/bin/python3}
VER=0.3.36
DL=cache/lcp
SRC=$DL/llama_cpp_python-$VER
mkdir -p "$DL"
[ -s "$DL/llama_cpp_python-$VER.tar.gz" ] ||
    "$PY" -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VER" -d "$DL"
[ -f "$SRC/vendor/llama.cpp/CMakeLists.txt" ] || tar xzf "$DL/llama_cpp_python-$VER.tar.gz" -C "$DL"
[ -f "$OUT/CMakeCache.txt" ] ||
    cmake -S "$SRC/vendor/llama.cpp" -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF
cmake --build "$OUT" -j"${JOBS:-2}" --target llama-bench llama-batched-bench llama-perplexity llama-simple
ls "$OUT/bin"
# convert_hf_to_gguf.py for tests/oracle/make_llama3_rope.py: $SRC/vendor/llama.cpp/convert_hf_to_gguf.py
