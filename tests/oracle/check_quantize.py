#!/usr/bin/env python3
"""Checks `kestrel quantize` against llama.cpp (llama-cpp-python):
1. dequantize SmolLM2 Q4_1 to F32 with Kestrel, then quantize that F32 file to Q8_0, Q4_0, Q4_1
   with Kestrel and with llama.cpp's own quantizer (llama_model_quantize); compare tensor bytes;
2. load each Kestrel output in llama.cpp and compare its logits with Kestrel's on a prompt.
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
FTYPE = {"Q8_0": 7, "Q4_0": 2, "Q4_1": 3}
IDS = [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]
lines = []


def say(s):
    print(s)
    lines.append(s)


f32 = os.path.join(TMP, "f32.gguf")
subprocess.run([KS, "quantize", SRC, f32, "F32"], check=True, capture_output=True)
say("llama-cpp-python %s; source %s dequantized to F32 by kestrel" % (llama_cpp.__version__, os.path.basename(SRC)))
for t, ft in FTYPE.items():
    ks_out, ll_out = os.path.join(TMP, "ks-%s.gguf" % t), os.path.join(TMP, "ll-%s.gguf" % t)
    subprocess.run([KS, "quantize", f32, ks_out, t], check=True, capture_output=True)
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ft
    p.nthread = 2
    rc = llama_cpp.llama_model_quantize(f32.encode(), ll_out.encode(), ctypes.byref(p))
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
    say("%s: %d of %d same-type tensors byte-identical to llama.cpp's quantizer; type choices that differ: %s"
        % (t, same, comparable, "; ".join(other) if other else "none"))
    # llama.cpp runs Kestrel's file; compare logits
    llm = Llama(ks_out, n_ctx=128, logits_all=True, n_threads=2, verbose=False)
    llm.eval(IDS)
    ref = np.array(llm.scores[: len(IDS)])
    out = os.path.join(TMP, "logits.bin")
    subprocess.run([KS, "logits", "-m", ks_out, "--ids", " ".join(map(str, IDS)), "-o", out], check=True)
    k = np.fromfile(out, dtype=np.float32).reshape(ref.shape)
    same_top1 = int((ref.argmax(1) == k.argmax(1)).sum())
    say("%s: llama.cpp loads kestrel's file; logits max |diff| %.6f, top-1 equal at %d/%d positions"
        % (t, float(np.abs(ref - k).max()), same_top1, len(IDS)))
    del llm
with open(os.path.join(ROOT, "tests", "data", "quantize-check.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
