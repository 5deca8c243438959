#!/usr/bin/env bash
# test.sh - the whole test suite: setup, then every test twice: on the Release build
# (warnings are errors) and on an AddressSanitizer + UndefinedBehaviorSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
(cd build && ctest --output-on-failure -j1 --timeout 1500)
echo "== sanitizer build (ASan + UBSan) ==" >&2
# -O1: the speed AddressSanitizer recommends, every check kept (at -O0 the suite took over 60 minutes)
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DKS_SANITIZE=ON
(cd build-asan && KS_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j1 --timeout 3000)
