"""Greedy generation of 64 tokens on SmolLM2 must equal llama.cpp's greedy output
(tests/data/smollm2-greedy.json, by tests/oracle/make_goldens.py) byte for byte."""
import json, os
from ks_e2e import *

model = need_model()
g = json.load(open(os.path.join(DATA, "smollm2-greedy.json")))
same = 0
for p in g["prompts"]:
    r = run(["generate", "-m", model, "-p", p["prompt"], "-n", str(g["n_predict"]), "--temp", "0", "-t", "2"])
    want = bytes.fromhex(p["text_hex"])
    ok = check(r.returncode == 0 and r.stdout == want,
               "prompt %r: kestrel %r != llama.cpp %r (llama.cpp's smallest top-2 margin on the way: %.4f)"
               % (p["prompt"][:60], r.stdout[:200], want[:200], p["min_logit_margin"]))
    same += ok
    check(b"tok/s" in r.stderr, "speed line on stderr")
print("greedy: %d/%d prompts identical to llama.cpp over %d tokens" % (same, len(g["prompts"]), g["n_predict"]))
done()
