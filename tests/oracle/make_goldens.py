#!/usr/bin/env python3
"""Regenerates the llama.cpp goldens for SmolLM2-135M-Instruct (Q4_1 GGUF).

Needs llama-cpp-python (tests/oracle/requirements.txt). Writes:
  tests/data/smollm2-tokenizer.inp/.out  ids for the corpus (llama.cpp vocab test format)
  tests/data/smollm2-logits.json         top-10 log-probs at every position, plus llama.cpp's
                                          own batched-vs-sequential disagreement (noise floor)
  tests/data/smollm2-greedy.json         greedy continuations (64 tokens)
Usage: python tests/oracle/make_goldens.py [MODEL.gguf]
"""
import json, os, sys
import numpy as np
import llama_cpp
from llama_cpp import Llama

sys.path.insert(0, os.path.dirname(__file__))
from prompts import LOGIT_PROMPTS, GREEDY_PROMPTS, tokenizer_corpus

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
SEP = "\n__ggml_vocab_test__\n"


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def ggml_type_name(t):
    names = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 8: "q8_0", 30: "bf16"}  # ggml_type values
    return names.get(int(t), "ggml_type %d" % int(t))


def make_llm(**kw):
    return Llama(MODEL, n_ctx=512, n_threads=2, logits_all=True, verbose=False, seed=0, **kw)


def tokenizer_goldens():
    llm = Llama(MODEL, vocab_only=True, verbose=False)
    corpus = tokenizer_corpus()
    with open(os.path.join(DATA, "smollm2-tokenizer.inp"), "w", encoding="utf-8", newline="") as f:
        for s in corpus:
            f.write(s + SEP)
    with open(os.path.join(DATA, "smollm2-tokenizer.out"), "w", encoding="utf-8", newline="") as f:
        for s in corpus:
            ids = llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
            f.write("".join(" %d" % i for i in ids) + "\n")
    print("tokenizer corpus: %d strings" % len(corpus))


def logits_goldens():
    batched = make_llm(n_batch=512, n_ubatch=512)
    sequential = make_llm(n_batch=1, n_ubatch=1)
    cp = batched.context_params  # what llama.cpp was actually given, not what we meant to give it
    out = {"model": os.path.basename(MODEL), "llama_cpp_python": llama_cpp.__version__,
           "flash_attn": cp.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
           "kv_cache": ggml_type_name(cp.type_k), "kv_cache_v": ggml_type_name(cp.type_v),
           "n_vocab": batched.n_vocab(), "n_ctx": cp.n_ctx, "n_batch": cp.n_batch, "n_ubatch": cp.n_ubatch, "n_threads": cp.n_threads,
           "prompts": []}
    assert cp.flash_attn_type == llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED, "goldens assume flash attention off"
    self_diff, self_tie = 0.0, []
    for p in LOGIT_PROMPTS:
        ids = batched.tokenize(p.encode("utf-8"), add_bos=False, special=True)
        batched.reset(); batched.eval(ids)
        a = log_softmax(np.array(batched.scores[: len(ids)]))
        sequential.reset(); sequential.eval(ids)
        b = log_softmax(np.array(sequential.scores[: len(ids)]))
        positions = []
        for i in range(len(ids)):
            top = np.argsort(-a[i], kind="stable")[:10]
            d = float(np.abs(a[i][top] - b[i][top]).max())
            self_diff = max(self_diff, d)
            if int(np.argmax(b[i])) != int(top[0]):
                self_tie.append(float(a[i][top[0]] - a[i][top[1]]))
            positions.append({"top": [int(t) for t in top], "logprob": [round(float(v), 5) for v in a[i][top]],
                              "seq_maxdiff": round(d, 5)})
        out["prompts"].append({"prompt": p, "ids": [int(t) for t in ids], "positions": positions})
    out["llama_self_max_top10_diff"] = round(self_diff, 5)
    out["llama_self_top1_flips_margins"] = [round(m, 5) for m in self_tie]
    with open(os.path.join(DATA, "smollm2-logits.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
    n_pos = sum(len(p["positions"]) for p in out["prompts"])
    print("logits: %d prompts, %d positions; llama.cpp batched vs sequential: max top-10 diff %.4f, top-1 flips %s"
          % (len(LOGIT_PROMPTS), n_pos, self_diff, out["llama_self_top1_flips_margins"]))


def greedy_goldens(n_predict=64):
    llm = make_llm(n_batch=512, n_ubatch=512)
    vocab = llm._model.vocab
    out = {"model": os.path.basename(MODEL), "llama_cpp_python": llama_cpp.__version__, "n_predict": n_predict,
           "prompts": []}
    for p in GREEDY_PROMPTS:
        ids = llm.tokenize(p.encode("utf-8"), add_bos=False, special=True)
        llm.reset(); llm.eval(ids)
        gen, margins = [], []
        for _ in range(n_predict):
            row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
            t = int(np.argmax(row))
            srt = np.sort(row)
            margins.append(float(srt[-1] - srt[-2]))
            if llama_cpp.llama_vocab_is_eog(vocab, t):
                break
            gen.append(t)
            llm.eval([t])
        text = llm.detokenize(gen)
        out["prompts"].append({"prompt": p, "ids": ids, "gen_ids": gen, "text_hex": text.hex(),
                               "min_logit_margin": round(min(margins), 5)})
    with open(os.path.join(DATA, "smollm2-greedy.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    print("greedy: %d prompts, min margins %s" % (len(GREEDY_PROMPTS), [p["min_logit_margin"] for p in out["prompts"]]))


if __name__ == "__main__":
    os.makedirs(DATA, exist_ok=True)
    tokenizer_goldens()
    logits_goldens()
    greedy_goldens()
