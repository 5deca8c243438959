#!/usr/bin/env bash
# build.sh [BUILD_DIR] [cmake options...] - configures and builds Kestrel (Release by default).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
cmake -S . -B "$dir" -DKS_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" 2>&1 | grep -Ev "^\[|^-- " || true
test -x "$dir/kestrel"
