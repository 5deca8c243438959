#!/usr/bin/env bash
# test.sh - the whole test suite: setup, build (warnings are errors), ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
cd build && ctest --output-on-failure -j1 --timeout 1500
