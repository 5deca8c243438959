#!/usr/bin/env python3
"""Llama 3 RoPE scaling is applied: a tiny Llama-3-style folder (tests/data/hf-tiny-llama3rope, rope_type
llama3, factor 8, original context 64; made by tests/oracle/make_llama3_rope.py) converted by `kestrel convert`
to F32 is byte-identical to llama.cpp's convert_hf_to_gguf.py output (the golden's SHA-256) and so carries
rope_freqs.weight; Kestrel's logits at every 16th position of 3 prompts (100-300 tokens) then match
llama.cpp's (llama-cpp-python 0.3.36, flash attention off) within TOL = 1e-3 and transformers' within 5e-3
(llama.cpp vs transformers: 0.002). Ignoring the scaling moves logits by 0.57 (the golden's sensitivity),
so the test can fail."""
import base64, hashlib, json, os, subprocess, sys, tempfile

from ks_e2e import check, done

import numpy as np

SRC = os.environ.get("KS_SRC_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ["KS_BIN"]
TOL_LLAMA, TOL_HF = 1e-3, 5e-3
g = json.load(open(os.path.join(SRC, "tests", "data", "llama3-rope-goldens.json")))
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "l3.gguf")
    r = subprocess.run([BIN, "convert", os.path.join(SRC, g["hf_dir"]), out, "--outtype", "f32"], capture_output=True,
                       text=True)
    check(r.returncode == 0, "convert: %s" % r.stderr)
    data = open(out, "rb").read() if os.path.exists(out) else b""
    check(hashlib.sha256(data).hexdigest() == g["gguf_f32"]["sha256"], "the F32 GGUF differs from llama.cpp's")
    worst_l = worst_h = 0.0
    for pi, p in enumerate(g["prompts"]):
        name = "prompt %d" % pi
        lf = os.path.join(tmp, "p%d.bin" % pi)
        r = subprocess.run([BIN, "logits", "-m", out, "--ids", " ".join(map(str, p["ids"])), "-o", lf, "-t", "2"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "logits: %s" % r.stderr)
        if r.returncode:
            continue
        got = np.fromfile(lf, dtype=np.float32).reshape(len(p["ids"]), g["n_vocab"])[p["positions"]]
        ll = np.frombuffer(base64.b64decode(p["llama_cpp_logits_f32_b64"]), dtype="<f4").reshape(got.shape)
        hf = np.frombuffer(base64.b64decode(p["transformers_logits_f32_b64"]), dtype="<f4").reshape(got.shape)
        dl, dh = float(np.abs(got - ll).max()), float(np.abs(got - hf).max())
        worst_l, worst_h = max(worst_l, dl), max(worst_h, dh)
        check(dl <= TOL_LLAMA, "%s: logits differ from llama.cpp's by %g" % (name, dl))
        check(dh <= TOL_HF, "%s: logits differ from transformers' by %g" % (name, dh))
    print("max |diff| vs llama.cpp %.3g, vs transformers %.3g (scaling ignored would be %.3g)"
          % (worst_l, worst_h, g["sensitivity"]))
done()
