"""CLI behaviour: `chat` renders the model's template (SmolLM2: ChatML with its default system
message) and its greedy reply equals llama.cpp's greedy continuation of that rendered prompt;
`info` reports the model; sampling is reproducible by seed."""
import json, os
from ks_e2e import *

model = need_model()
g = json.load(open(os.path.join(DATA, "smollm2-greedy.json")))
# 1. chat: one scripted user turn on stdin
target = [p for p in g["prompts"] if "Name three colors of the rainbow." in p["prompt"]]
check(len(target) == 1, "golden for the chat prompt present")
want = bytes.fromhex(target[0]["text_hex"])
r = run(["chat", "-m", model, "--temp", "0", "-n", str(g["n_predict"])], input=b"Name three colors of the rainbow.\n")
check(r.returncode == 0, "chat failed: %r" % r.stderr[-300:])
check(r.stdout == want + b"\n", "chat reply %r != llama.cpp %r" % (r.stdout[:200], want[:200]))
# a second turn continues the conversation from the KV cache without error
r = run(["chat", "-m", model, "--temp", "0", "-n", "16"], input=b"Hi!\nAnd again?\n")
check(r.returncode == 0 and r.stdout.count(b"\n") >= 2, "two-turn chat: %r %r" % (r.stdout[:200], r.stderr[-200:]))
# --system replaces the default system message: the reply differs from the default-system one
r = run(["chat", "-m", model, "--temp", "0", "-n", "24", "--system", "You are a pirate."], input=b"Name three colors of the rainbow.\n")
check(r.returncode == 0 and r.stdout != want + b"\n", "--system has an effect")
# 2. info
r = run(["info", "-m", model])
out = r.stdout.decode()
for needle in ["architecture: llama", "n_layer:      30", "n_head_kv:    3", "tensors:      272", "Q4_1", "Q8_0", "tied to token_embd",
               "byte-level BPE, 49152 tokens"]:
    check(needle in out, "info lacks %r:\n%s" % (needle, out))
# 3. seeds: same seed same text, different seed (almost surely) different text
args = ["generate", "-m", model, "-p", "Once upon a time", "-n", "24", "--temp", "1.0", "--top-k", "0", "--top-p", "1.0", "--min-p", "0"]
a = run(args + ["--seed", "7"]).stdout
b = run(args + ["--seed", "7"]).stdout
c = run(args + ["--seed", "8"]).stdout
check(a == b and len(a) > 0, "same seed, same output")
check(a != c, "different seeds, different output")
# 4. bench: llama-bench-like figures, one JSON object with --json
r = run(["bench", "-m", model, "-p", "32", "-n", "8", "-r", "2", "--json"])
try:
    j = json.loads(r.stdout)
except ValueError:
    j = {}
for k in ("model", "threads", "n_prompt", "n_gen", "pp_tok_s", "tg_tok_s"):
    check(k in j, "bench --json lacks %s: %r" % (k, r.stdout[:300]))
check(j.get("n_prompt") == 32 and j.get("n_gen") == 8 and j.get("pp_tok_s", 0) > 0 and j.get("tg_tok_s", 0) > 0, "bench values: %r" % j)
r = run(["bench", "-m", model, "-p", "16", "-n", "4", "-r", "1"])
check(b"| pp16 |" in r.stdout and b"| tg4 |" in r.stdout, "bench table: %r" % r.stdout)
# 5. bad options are one-line errors
for bad in (["generate", "-m", model, "-p", "x", "-n", "abc"], ["generate", "-m", model, "--bogus"], ["generate", "-m", model],
            ["generate", "-m", model, "-p", "x", "-c", "100000000"]):
    r = run(bad)
    check(r.returncode > 0 and len(r.stderr.decode().strip().split("\n")) == 1, "bad invocation %s: %r" % (bad[3:], r.stderr))
done()
