#!/usr/bin/env python3
"""Checks `kestrel quantize` against llama.cpp (llama-cpp-python):
1. dequantize SmolLM2 Q4_1 to F32 with Kestrel, then quantize that F32 file to every target
   type with Kestrel and with llama.cpp's own quantizer (llama_model_quantize); compare the
   type chosen for every tensor and the tensor bytes;
2. load each Kestrel output in llama.cpp and compare its logits with Kestrel's on a prompt.
The same for a random-weight LLaMA whose rows are all multiples of 256, so that the k-quants
apply to every matrix (bench/make_random_llama.py --shape small-512; SmolLM2's 576-wide rows
fall back to Q5_0 / Q8_0 under Q4_K_M and Q6_K, as llama.cpp does).
Writes tests/data/quantize-check.txt. Usage: python tests/oracle/check_quantize.py"""
import ctypes, os, subprocess, sys
import numpy as np
import llama_cpp
from llama_cpp import Llama
from gguf import GGUFReader

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KS = os.path.join(ROOT, "build", "kestrel")
SRC = os.path.join(ROOT, "cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
TMP = os.path.join(ROOT, "cache", "quantize-check")
os.makedirs(TMP, exist_ok=True)
FTYPE = {"Q8_0": 7, "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q6_K": 18, "Q4_K_M": 15}
SMALL = os.path.join(ROOT, "cache", "models", "random-small-512-f16.gguf")
IDS = [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]
lines = []


def say(s):
    print(s)
    lines.append(s)


f32 = os.path.join(TMP, "f32.gguf")
subprocess.run([KS, "quantize", SRC, f32, "F32"], check=True, capture_output=True)
if not os.path.exists(SMALL):
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_random_llama.py"), SMALL, "--shape", "small-512"], check=True)
say("llama-cpp-python %s; source %s dequantized to F32 by kestrel" % (llama_cpp.__version__, os.path.basename(SRC)))
for src_name, src, t, ft in [("smollm2", f32, t, ft) for t, ft in FTYPE.items()] + \
        [("small-512", SMALL, t, FTYPE[t]) for t in ("Q4_K_M", "Q6_K", "Q5_0", "Q4_0")]:
    t_label = t if src_name == "smollm2" else "%s (random small-512 F16)" % t
    ks_out, ll_out = os.path.join(TMP, "ks-%s-%s.gguf" % (src_name, t)), os.path.join(TMP, "ll-%s-%s.gguf" % (src_name, t))
    subprocess.run([KS, "quantize", src, ks_out, t], check=True, capture_output=True)
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ft
    p.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), ll_out.encode(), ctypes.byref(p))
    assert rc == 0, "llama_model_quantize failed"
    a, b = GGUFReader(ks_out), GGUFReader(ll_out)
    tb = {x.name: x for x in b.tensors}
    same = comparable = 0
    other = []
    for x in a.tensors:
        y = tb[x.name]
        if x.tensor_type != y.tensor_type:
            other.append("%s: kestrel %s, llama.cpp %s" % (x.name, x.tensor_type.name, y.tensor_type.name))
            continue
        comparable += 1
        same += np.array(x.data).tobytes() == np.array(y.data).tobytes()
    kinds = {}
    for x in a.tensors:
        kinds[x.tensor_type.name] = kinds.get(x.tensor_type.name, 0) + 1
    say("%s: %d of %d same-type tensors byte-identical to llama.cpp's quantizer; type choices that differ: %s; types %s"
        % (t_label, same, comparable, "; ".join(other) if other else "none",
           ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
    # llama.cpp runs Kestrel's file; compare logits
    llm = Llama(ks_out, n_ctx=128, logits_all=True, n_threads=2, verbose=False)
    llm.eval(IDS)
    ref = np.array(llm.scores[: len(IDS)])
    out = os.path.join(TMP, "logits.bin")
    subprocess.run([KS, "logits", "-m", ks_out, "--ids", " ".join(map(str, IDS)), "-o", out], check=True)
    k = np.fromfile(out, dtype=np.float32).reshape(ref.shape)
    same_top1 = int((ref.argmax(1) == k.argmax(1)).sum())
    say("%s: llama.cpp loads kestrel's file; logits max |diff| %.6f (max |logit| %.2f), top-1 equal at %d/%d positions"
        % (t_label, float(np.abs(ref - k).max()), float(np.abs(ref).max()), same_top1, len(IDS)))
    del llm
with open(os.path.join(ROOT, "tests", "data", "quantize-check.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
