"""SmolLM2-135M-Instruct next-token log-probabilities at every position of 22 prompts
against llama.cpp (llama-cpp-python, same GGUF; goldens in tests/data/smollm2-logits.json,
made by tests/oracle/make_goldens.py).

Tolerances, and why. Both engines quantize activations to 8-bit blocks before each
quantized matmul; a one-ulp difference anywhere (summation order, exp approximation)
flips some roundings and the difference propagates. llama.cpp disagrees with itself
by that much: evaluating the same prompts batched vs one token at a time, its top-10
log-probs differ by up to `llama_self_max_top10_diff` (0.86 when the goldens were made)
and its top-1 changes at positions whose top-2 margin is below ~0.11. So:
  - TOL_LOGPROB = 1.0: max |logprob_kestrel - logprob_llama| over llama.cpp's top 10, at
    every position (the noise floor measured above, rounded up), for tokens llama.cpp gives
    probability >= 1e-4; TOL_RARE = 2.0 for the rarer tokens that fill the top 10 where one
    token takes > 99.9% (their log-probs at -10..-17 move most: measured max 1.78, mean 0.09
    over all 5410 top-10 entries, 0.07 for those with p >= 0.7%);
  - top-1 must be identical wherever llama.cpp's own top-1/top-2 margin is at least
    TIE_MARGIN = 0.25; at closer calls Kestrel's top-1 must be one of llama.cpp's tokens
    within TIE_MARGIN of its top-1 (counted and printed).
Mean differences are printed too: they are ~10x smaller than the maximum.
"""
import json, os, tempfile
import numpy as np
from ks_e2e import *

TOL_LOGPROB = 1.0
TOL_RARE = 2.0
RARE_LOGPROB = float(np.log(1e-4))
TIE_MARGIN = 0.25

model = need_model()
g = json.load(open(os.path.join(DATA, "smollm2-logits.json")))
check(g["llama_self_max_top10_diff"] < TOL_LOGPROB, "tolerance below llama.cpp's own noise floor")
worst, worst_rare, diffs, n_pos, near_ties = 0.0, 0.0, [], 0, 0
with tempfile.TemporaryDirectory() as tmp:
    for pi, p in enumerate(g["prompts"]):
        out = os.path.join(tmp, "logits.bin")
        r = run(["logits", "-m", model, "--ids", " ".join(map(str, p["ids"])), "-o", out])
        if not check(r.returncode == 0, "prompt %d: kestrel logits failed: %s" % (pi, r.stderr.decode()[-300:])):
            continue
        x = np.fromfile(out, dtype=np.float32).reshape(len(p["ids"]), -1).astype(np.float64)
        m = x.max(axis=1, keepdims=True)
        lp = x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
        for i, pos in enumerate(p["positions"]):
            n_pos += 1
            top, ref = np.array(pos["top"]), np.array(pos["logprob"])
            d = np.abs(lp[i][top] - ref)
            diffs.append(d.max())
            worst = max(worst, d[ref >= RARE_LOGPROB].max())
            worst_rare = max(worst_rare, d.max())
            tol = np.where(ref >= RARE_LOGPROB, TOL_LOGPROB, TOL_RARE)
            j = int(np.argmax(d - tol))
            check(d[j] < tol[j], "prompt %d pos %d: logprob diff %.4f for token %d (llama.cpp logprob %.3f, tolerance %.1f)"
                  % (pi, i, d[j], top[j], ref[j], tol[j]))
            k1 = int(np.argmax(lp[i]))
            margin = ref[0] - ref[1]
            if margin >= TIE_MARGIN:
                check(k1 == top[0], "prompt %d pos %d: top-1 %d, llama.cpp %d (margin %.3f)" % (pi, i, k1, top[0], margin))
            else:
                near_ties += 1
                allowed = set(top[ref >= ref[0] - TIE_MARGIN].tolist())
                check(k1 in allowed, "prompt %d pos %d: near-tie top-1 %d not among %s" % (pi, i, k1, sorted(allowed)))
print("logits: %d prompts, %d positions; max top-10 logprob diff %.4f for p >= 1e-4 (tolerance %.1f), %.4f for all "
      "(tolerance %.1f); mean of per-position max %.4f; near-ties (margin < %.2f) %d; llama.cpp's own "
      "batched-vs-sequential max %.4f" % (len(g["prompts"]), n_pos, worst, TOL_LOGPROB, worst_rare, TOL_RARE,
                                          float(np.mean(diffs)) if diffs else -1, TIE_MARGIN, near_ties,
                                          g["llama_self_max_top10_diff"]))
done()
