#!/usr/bin/env python3
"""kestrel bench's depth (-d, as llama-bench's) and parallel-sequence (--parallel, as llama-batched-bench)
modes and the cache options (-ctk/-ctv q8_0, -fa) run and report what they measured; bad values are
one-line errors."""
import json, os, subprocess, sys

from ks_e2e import check, done

BIN = os.environ["KS_BIN"]
M = os.path.join(os.environ.get("KS_CACHE_DIR", "cache"), "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
def bench(*args):
    return subprocess.run([BIN, "bench", "-m", M, "-t", "2", "-r", "1", *args], capture_output=True, text=True,
                          timeout=600)


r = bench("-p", "16", "-n", "4", "-d", "48", "--json")
j = json.loads(r.stdout) if r.returncode == 0 else {}
check(j.get("n_depth") == 48 and j.get("tg_tok_s", 0) > 0 and j.get("pp_tok_s", 0) > 0, "depth: %s %s" % (r.stdout,
                                                                                                         r.stderr))
r = bench("-p", "8", "-n", "4", "-d", "16", "-fa", "-ctk", "q8_0", "-ctv", "q8_0", "--json")
j = json.loads(r.stdout) if r.returncode == 0 else {}
check(j.get("flash_attn") == 1 and j.get("tg_tok_s", 0) > 0, "flash + q8_0 cache: %s %s" % (r.stdout, r.stderr))
r = bench("-p", "8", "-n", "4", "--parallel", "1,3", "--json")
rows = [json.loads(l) for l in r.stdout.splitlines() if l.strip()] if r.returncode == 0 else []
check([x["n_parallel"] for x in rows] == [1, 3] and all(x["tg_tok_s"] > 0 for x in rows),
      "parallel: %s %s" % (r.stdout, r.stderr))
for bad in (["-ctk", "q4"], ["--parallel", "0"], ["--parallel", "65"], ["-d", "999999999"], ["--parallel", "x"]):
    r = bench("-p", "8", "-n", "2", *bad)
    check(r.returncode not in (0,) and r.returncode > 0 and len(r.stderr.strip().splitlines()) == 1,
          "%s: rc %d, stderr %r" % (bad, r.returncode, r.stderr))
done()
