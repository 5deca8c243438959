"""Fixtures for the Python binding tests: paths from the environment (set by ctest, as for
tests/e2e), the kestrel CLI to compare against, one SmolLM2 Llama shared by the tests."""
import os
import subprocess
import sys

import pytest

SRC = os.environ.get("KS_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("KS_BIN", os.path.join(SRC, "build", "kestrel"))
CACHE = os.environ.get("KS_CACHE_DIR", os.path.join(SRC, "cache"))
SMOLLM2 = os.path.join(CACHE, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
SAN = os.environ.get("KS_SANITIZED") == "1"  # the ASan build: shorter generations, the same checks
THREADS = 1  # the CLI and the package on the same thread count (a loaded 2-core machine: 1 is fastest)

sys.path.insert(0, os.path.join(SRC, "python"))  # the package from this checkout (KESTREL_LIBRARY: ctest)


def cli(*args, check=True):
    r = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, timeout=300)
    if check:
        assert r.returncode == 0, "kestrel %s failed: %s" % (" ".join(map(str, args[:2])), r.stderr[-400:])
    return r


@pytest.fixture(scope="session")
def model_path():
    if not os.path.exists(SMOLLM2):
        pytest.fail("model missing: %s (scripts/setup.sh fetches it)" % SMOLLM2)
    return SMOLLM2


@pytest.fixture(scope="session")
def llm(model_path):
    import kestrel
    with kestrel.Llama(model_path, n_ctx=512, n_threads=THREADS, n_seq_max=4) as m:
        yield m
