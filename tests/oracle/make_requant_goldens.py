#!/usr/bin/env python3
"""llama.cpp goldens for SmolLM2 re-quantized by Kestrel: F32 copy of the Q4_1 download
(`kestrel quantize ... F32`), then F16, Q8_0 and Q4_0 (`bash bench/prepare_models.sh` makes
them in cache/models; the quantized tensors are byte-identical to llama.cpp's quantizer,
tests/data/quantize-check.txt). For each variant: top-10 log-probabilities at every position
of six of the oracle prompts, from llama-cpp-python with its defaults (weight repacking on,
flash attention off as in make_goldens.py), batch 512.
The k-quant variants (Q6_K, Q4_K_M) are taken from llama.cpp's row-kernel path, the one it
uses to generate: weight repacking off (use_extra_bufts = False) and micro-batches of 7
(its "tiled" k-quant GEMM, with its own activation handling, starts at 8 rows).
Writes tests/data/smollm2-requant-logits.json. Usage: python tests/oracle/make_requant_goldens.py"""
import json, os, sys
import numpy as np
import llama_cpp
from llama_cpp import Llama

sys.path.insert(0, os.path.dirname(__file__))
from prompts import LOGIT_PROMPTS
from make_goldens import log_softmax

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(ROOT, "cache", "models")
VARIANTS = ["F16", "Q8_0", "Q4_0", "Q6_K", "Q4_K_M"]
PROMPTS = LOGIT_PROMPTS[:6]


default_params = llama_cpp.llama_model_default_params


def row_kernels():
    p = default_params()
    p.use_extra_bufts = False  # no weight repacking
    return p


def main():
    out = {"llama_cpp_python": llama_cpp.__version__, "source": "SmolLM2-135M-Instruct.Q4_1.gguf -> F32 -> variant",
           "k_quants": "Q6_K, Q4_K_M: use_extra_bufts=False, n_ubatch=7 (row kernels)",
           "variants": {}}
    for v in VARIANTS:
        path = os.path.join(MODELS, "smollm2-%s.gguf" % v.lower())
        kq = v in ("Q6_K", "Q4_K_M")
        llama_cpp.llama.llama_cpp.llama_model_default_params = row_kernels if kq else default_params
        llm = Llama(path, n_ctx=512, n_threads=2, logits_all=True, verbose=False, seed=0, n_batch=512,
                    n_ubatch=7 if kq else 512, flash_attn=False)
        rows = []
        for p in PROMPTS:
            ids = llm.tokenize(p.encode("utf-8"), add_bos=False, special=True)
            llm.reset(); llm.eval(ids)
            a = log_softmax(np.array(llm.scores[: len(ids)]))
            pos = []
            for i in range(len(ids)):
                top = np.argsort(-a[i], kind="stable")[:10]
                pos.append({"top": [int(t) for t in top], "logprob": [round(float(x), 5) for x in a[i][top]]})
            rows.append({"ids": [int(t) for t in ids], "positions": pos})
        out["variants"][v] = rows
        print("%s: %d prompts, %d positions" % (v, len(rows), sum(len(r["positions"]) for r in rows)))
    with open(os.path.join(ROOT, "tests", "data", "smollm2-requant-logits.json"), "w") as f:
        json.dump(out, f, indent=0)


if __name__ == "__main__":
    main()
