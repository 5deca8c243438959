#!/usr/bin/env python3
"""Goldens for many sequences in one batch (issue 13), from llama.cpp's own batch API.

    .venv/bin/pip install -r tests/oracle/requirements.txt
    .venv/bin/python tests/oracle/make_batch_goldens.py [MODEL.gguf]   # writes tests/data/batch-goldens.json

llama-cpp-python's LOW-LEVEL API (llama_batch_init / llama_decode / llama_get_logits_ith, the C API
through ctypes) on SmolLM2-135M-Instruct Q4_1 (cache/models/), 2 threads, flash attention OFF (the
attention order Kestrel reproduces, docs/NUMERICS.md). Eight prompts of 3 to ~60 tokens, tokenized by
llama.cpp (add_special: BOS if the vocabulary asks for it; special tokens parsed):
  batched: all eight prompts in ONE llama_decode (seq ids 0..7, each at positions 0..len-1, logits for
           each sequence's last token), then one llama_decode per step holding one token per still-running
           sequence, each at its own position. Greedy (argmax, lowest id on ties); a sequence stops after
           its n_gen tokens or at an end-of-generation token (which is recorded, not decoded).
           One KV buffer shared by all sequences (kv_unified): cells owned by sequences, like Kestrel's.
  single:  each sequence alone in a fresh context, the same steps.
  kv_split (summary only): the batched run with llama.cpp's per-sequence KV streams (kv_unified off).
Per sequence and run: the generated ids, at each step the log-softmax of the top-5 tokens (ids, log-probs)
and the log-prob of the chosen token. "diff" gives llama.cpp's own batched-vs-single disagreement
(max |diff| of the log-softmax over the whole vocabulary, over the top-5 and the chosen token): the noise
floor a batched Kestrel run can be held to.
"""
import ctypes, json, os, sys

import numpy as np
import llama_cpp as L

sys.path.insert(0, os.path.dirname(__file__))
from prompts import CHAT, CHAT_SYS  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "tests", "data", "batch-goldens.json")
TOP_K = 5
N_CTX = 1024
PROMPTS = [  # (text, n_gen): lengths 3 .. ~60 tokens; two sequences stop early so the batch shrinks
    ("Hello world", 16),
    ("The history of the Roman Empire", 16),
    ("def quicksort(arr):", 16),
    ("Once upon a time, there was a little robot who", 8),
    (CHAT.format("What is the capital of France?"), 16),
    ("1, 2, 3, 5, 8, 13, 21, 34, 55,", 16),
    (CHAT_SYS.format("You are a helpful AI assistant named SmolLM, trained by Hugging Face",
                     "Name three colors of the rainbow."), 12),
    ("<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello! How can I help you today?<|im_end|>\n"
     "<|im_start|>user\nTell me a joke about a kestrel and a fox.<|im_end|>\n<|im_start|>assistant\n", 16),
]


@ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
def quiet(level, text, user_data):
    if level == 4 and os.environ.get("KS_ORACLE_LOG"):  # GGML_LOG_LEVEL_ERROR
        sys.stderr.write(text.decode(errors="replace"))


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def sig(x):
    return float("%.7g" % x)


class Ctx:
    def __init__(self, model, n_seq, unified):
        p = L.llama_context_default_params()
        p.n_ctx, p.n_batch, p.n_ubatch, p.n_seq_max = N_CTX, 512, 512, n_seq
        p.n_threads = p.n_threads_batch = 2
        p.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
        p.kv_unified = unified
        self.ctx = L.llama_init_from_model(model, p)
        if not self.ctx:
            sys.exit("llama_init_from_model failed")
        self.batch = L.llama_batch_init(512, 0, 1)

    def decode(self, items):
        """items: (token, pos, seq, want_logits); returns {seq: log-softmax row} for the flagged ones"""
        b = self.batch
        for i, (tok, pos, seq, want) in enumerate(items):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, want
            b.seq_id[i][0] = seq
        b.n_tokens = len(items)
        rc = L.llama_decode(self.ctx, b)
        if rc != 0:
            sys.exit("llama_decode of %d tokens failed: %d" % (len(items), rc))
        n_vocab = self.n_vocab
        out = {}
        for i, (_, _, seq, want) in enumerate(items):
            if want:
                row = np.ctypeslib.as_array(L.llama_get_logits_ith(self.ctx, i), shape=(n_vocab,))
                out[seq] = log_softmax(row.copy())
        return out

    def free(self):
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)


def tokenize(vocab, text):
    buf = (L.llama_token * 512)()
    n = L.llama_tokenize(vocab, text.encode(), len(text.encode()), buf, 512, True, True)
    if n < 0:
        sys.exit("llama_tokenize failed")
    return list(buf[:n])


def run(model, vocab, seqs, unified):
    """greedy decoding of the sequences {seq_id: (prompt_ids, n_gen)} together in one context; returns
    {seq_id: {"ids": [...], "rows": [log-softmax per step]}}"""
    ctx = Ctx(model, max(seqs) + 1, unified)
    ctx.n_vocab = L.llama_vocab_n_tokens(vocab)
    items = [(t, i, s, i == len(p) - 1) for s, (p, _) in sorted(seqs.items()) for i, t in enumerate(p)]
    res = {s: {"ids": [], "rows": []} for s in seqs}
    rows = ctx.decode(items)
    while rows:
        items = []
        for s, row in sorted(rows.items()):
            tok = int(np.argmax(row))
            r = res[s]
            r["ids"].append(tok)
            r["rows"].append(row)
            if len(r["ids"]) < seqs[s][1] and not L.llama_vocab_is_eog(vocab, tok):
                items.append((tok, len(seqs[s][0]) + len(r["ids"]) - 1, s, True))
        rows = ctx.decode(items) if items else {}
    ctx.free()
    return res


def compact(r):
    tops = [np.argsort(-row, kind="stable")[:TOP_K] for row in r["rows"]]
    return {"ids": r["ids"],
            "chosen_logprob": [sig(row[t]) for row, t in zip(r["rows"], r["ids"])],
            "top_ids": [[int(i) for i in t] for t in tops],
            "top_logprobs": [[sig(row[i]) for i in t] for row, t in zip(r["rows"], tops)]}


def diff(a, b):
    """max |diff| of two runs' log-softmax rows over the steps where both generated the same ids so far"""
    d = {"full_vocab": 0.0, "top5": 0.0, "chosen": 0.0, "same_ids": True}
    for s in a:
        ra, rb = a[s], b[s]
        d["same_ids"] &= ra["ids"] == rb["ids"]
        for k, (xa, xb) in enumerate(zip(ra["rows"], rb["rows"])):
            if ra["ids"][:k] != rb["ids"][:k]:
                break
            top = np.argsort(-xa, kind="stable")[:TOP_K]
            d["full_vocab"] = max(d["full_vocab"], float(np.abs(xa - xb).max()))
            d["top5"] = max(d["top5"], float(np.abs(xa[top] - xb[top]).max()))
            d["chosen"] = max(d["chosen"], abs(float(xa[ra["ids"][k]] - xb[ra["ids"][k]])))
    return {k: (float("%.3g" % v) if isinstance(v, float) else v) for k, v in d.items()}


def main():
    L.llama_log_set(quiet, None)
    L.llama_backend_init()
    model = L.llama_model_load_from_file(MODEL.encode(), L.llama_model_default_params())
    if not model:
        sys.exit("cannot load " + MODEL)
    vocab = L.llama_model_get_vocab(model)
    seqs = {s: (tokenize(vocab, text), n) for s, (text, n) in enumerate(PROMPTS)}
    batched = run(model, vocab, seqs, True)
    split = run(model, vocab, seqs, False)
    single = {}
    for s in seqs:
        single[s] = run(model, vocab, {0: seqs[s]}, True)[0]  # seq id 0 of a one-sequence context
    out = {"model": os.path.basename(MODEL),
           "tool": "llama-cpp-python %s low-level API (llama.cpp vendored)" % L.__version__,
           "command": "python tests/oracle/make_batch_goldens.py",
           "params": {"n_ctx": N_CTX, "n_batch": 512, "n_ubatch": 512, "n_threads": 2, "flash_attn": "off",
                      "kv_unified": True, "greedy": "argmax, lowest id on ties; stop at n_gen or end-of-generation"},
           "n_vocab": L.llama_vocab_n_tokens(vocab), "top_k": TOP_K,
           "sequences": [{"seq_id": s, "text": PROMPTS[s][0], "prompt_ids": seqs[s][0], "n_gen": seqs[s][1],
                          "batched": compact(batched[s]), "single": compact(single[s])} for s in seqs],
           "diff": {"batched_vs_single": diff(batched, single), "kv_split_vs_single": diff(split, single),
                    "batched_vs_kv_split": diff(batched, split)}}
    L.llama_model_free(model)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("prompt lengths", [len(seqs[s][0]) for s in seqs], "generated", [len(batched[s]["ids"]) for s in seqs])
    print("diff", json.dumps(out["diff"]))
    print("wrote %s (%d bytes)" % (OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
