"""Resource limits through the CLI: requests that cannot fit (a context beyond the trained one,
a KV cache larger than memory, absurd thread counts, a prompt longer than the context) give one
'kestrel:' line and a non-zero exit status, never an out-of-memory kill or a crash (a signal
would show as a negative return code)."""
import os, shutil, struct, tempfile
from ks_e2e import *

model = need_model()


def one_line_error(args, words, inp=None, info_lines=0):
    """info_lines: progress lines the command prints on stderr before the error"""
    r = run(args, input=inp, timeout=300)
    err = r.stderr.decode("utf-8", "replace").strip()
    lines = err.split("\n")[info_lines:]
    ok = check(r.returncode > 0, "%s: exit status %d (negative = killed by a signal): %r" % (args[:1] + args[3:], r.returncode, err[-300:]))
    ok = check(len(lines) == 1 and lines[0].startswith("kestrel"), "%s: not one kestrel: line: %r" % (args[3:], err[-300:])) and ok
    err = lines[-1]
    for w in words:
        ok = check(w in err, "%s: error lacks %r: %r" % (args[3:], w, err)) and ok
    if ok:
        print("ok  %-40s -> %s" % (" ".join(args[:1] + args[3:])[:40], err))


# 1. a context beyond the model's trained context (SmolLM2: 8192)
one_line_error(["generate", "-m", model, "-p", "x", "-c", "100000000"], ["100000000", "trained context"])
one_line_error(["perplexity", "-m", model, "-f", os.path.join(DATA, "ppl-gpl3.txt"), "-c", "100000000"], ["100000000"], info_lines=1)
one_line_error(["chat", "-m", model, "-c", "100000000"], ["100000000"], inp=b"Hi\n")
# 2. a prompt longer than the context
one_line_error(["generate", "-m", model, "-p", "Once upon a time there was a little dog", "-c", "4"], ["exceeds the context of 4"])
# 3. thread counts OpenMP cannot start
one_line_error(["generate", "-m", model, "-p", "x", "-n", "1", "-t", "100000"], ["100000 threads", "limit"])
# 4. a KV cache larger than memory: SmolLM2 claiming a trained context of 2^26 tokens (the
# largest hyperparameter Kestrel accepts)
with tempfile.TemporaryDirectory() as tmp:
    big = os.path.join(tmp, "smollm2-huge-ctx.gguf")
    shutil.copyfile(model, big)
    with open(big, "r+b") as f:
        head = f.read(1 << 20)
        key = b"llama.context_length"
        i = head.find(struct.pack("<Q", len(key)) + key)
        check(i > 0, "llama.context_length in the model's metadata")
        at = i + 8 + len(key)
        typ, val = struct.unpack("<II", head[at:at + 8])
        check(typ == 4 and val == 8192, "context_length is u32 8192: type %d value %d" % (typ, val))
        f.seek(at + 4)
        f.write(struct.pack("<I", 1 << 26))
    # 30 layers x 2 x 5e7 positions x 192 x 2 bytes: about 1 TiB of KV cache
    one_line_error(["generate", "-m", big, "-p", "x", "-c", "50000000"], ["context 50000000 needs", "GiB", "-c"])
    one_line_error(["chat", "-m", big, "-c", "67108864"], ["GiB"], inp=b"Hi\n")
    # the same model with a context that fits still generates
    r = run(["generate", "-m", big, "-p", "Once upon a time", "-n", "2", "-c", "64"])
    check(r.returncode == 0 and len(r.stdout) > 0, "huge-context model, small -c: %r" % r.stderr[-300:])
done()
