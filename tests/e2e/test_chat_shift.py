#!/usr/bin/env python3
"""A scripted chat three times longer than the context keeps going by context shift
(as llama.cpp's: the first n_keep tokens, the system prompt, stay; the oldest half of the
rest is dropped): every turn gets a reply, the exit status is 0, stderr reports the shifts
with the system prompt's tokens kept, and the tokens dropped add up to more than twice the
context."""
import os, re, subprocess, sys

BIN = os.environ["KS_BIN"]
M = os.path.join(os.environ.get("KS_CACHE_DIR", "cache"), "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
SAN = os.environ.get("KS_SANITIZED") == "1"  # smaller under ASan, still several contexts long
CTX, N_TURNS, N_PRED = (96, 8, "24") if SAN else (160, 12, "40")
turns = ["Tell me a short fact about the number %d, in one sentence." % i for i in range(1, N_TURNS + 1)]
r = subprocess.run([BIN, "chat", "-m", M, "-c", str(CTX), "--system", "You are a terse assistant.", "-n", N_PRED,
                    "--temp", "0", "-t", "2"], input="\n".join(turns) + "\n", capture_output=True, text=True,
                   timeout=1200)
fails = 0


def check(ok, msg):
    global fails
    if not ok:
        fails += 1
        print("FAIL:", msg)


check(r.returncode == 0, "exit status %d, stderr: %s" % (r.returncode, r.stderr[-500:]))
replies = [l for l in r.stdout.split("\n") if l.strip()]
check(len(replies) == len(turns), "%d replies for %d turns" % (len(replies), len(turns)))
shifts = [(int(a), int(b)) for a, b in re.findall(r"\[context shift: (\d+) old tokens dropped, the first (\d+) kept\]",
                                                   r.stderr)]
dropped = sum(a for a, _ in shifts)
check(len(shifts) >= 2, "%d context shifts" % len(shifts))
check(all(k > 0 for _, k in shifts), "the system prompt is kept at every shift: %s" % shifts)
check(dropped > 2 * CTX, "dropped %d tokens: the conversation is not 3x the context of %d" % (dropped, CTX))
print("%d turns, %d shifts, %d tokens dropped, kept %s" % (len(turns), len(shifts), dropped,
                                                            sorted(set(k for _, k in shifts))))
print("%d passed, %d failed" % (5 - fails, fails))
sys.exit(1 if fails else 0)
