"""Hostile numbers and sizes on the command line (issue 12, round two): every numeric option of
generate/chat/bench/perplexity/tokenize given huge, negative, INT64_MAX/MIN, 2^31, 2^63, NaN/inf,
empty and malformed values either works or gives one clean 'kestrel' line, never a signal and never
a sanitizer report (KS_SANITIZED=1 under the ASan build). Then the specific reports: -n / bench sizes
that used to overflow, unbounded reads (/dev/zero, endless lines), the seed, -n semantics, a tiny
--temp, escapes in metadata, -m DIR, tokens longer than 1 KB and a chat reply that fills the context."""
import os, resource, struct, subprocess, tempfile
from ks_e2e import *

model = need_model()
SAN = os.environ.get("KS_SANITIZED") == "1"
TEXT = os.path.join(DATA, "ppl-gpl3.txt")
SMALL = os.path.join(tempfile.gettempdir(), "ks_cli_numbers_%d.txt" % os.getpid())  # ~500 tokens: every chunk count is fast
open(SMALL, "wb").write(open(TEXT, "rb").read()[:2500])
L2C = os.path.join(SHARED, "testdata", "llama2c")
SAN_WORDS = ("AddressSanitizer", "runtime error", "LeakSanitizer", "UndefinedBehaviorSanitizer")


def limit_memory():
    # the old readers grew without bound: cap the address space so they fail fast instead of
    # swapping (not under ASan, which reserves terabytes of address space)
    if not SAN:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def clean(args, inp=None, want_rc=None, words=(), what=None):
    """runs kestrel; passes if it exits normally with success, or with one kestrel line on stderr"""
    what = what or " ".join(a if len(a) < 30 else a[:27] + "..." for a in args if a != model)
    try:
        r = run(args, input=inp, timeout=600, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        check(False, "%s: still running after 600 s" % what)
        return subprocess.CompletedProcess(args, -1, b"", b"")
    err = r.stderr.decode("utf-8", "replace")
    ok = check(r.returncode >= 0, "%s: killed by signal %d: %r" % (what, -r.returncode, err[-400:]))
    ok = check(not any(w in err for w in SAN_WORDS), "%s: sanitizer report: %r" % (what, err[-600:])) and ok
    if r.returncode != 0:
        lines = [ln for ln in err.strip().split("\n") if not (args[0] == "perplexity" and " chunks of " in ln)]
        ok = check(len(lines) == 1 and lines[0].startswith("kestrel"), "%s: not one kestrel line: %r" % (what, err[-400:])) and ok
    if want_rc is not None:
        ok = check(r.returncode == want_rc, "%s: exit status %d, want %d: %r" % (what, r.returncode, want_rc, err[-300:])) and ok
    for w in words:
        ok = check(w in err, "%s: stderr lacks %r: %r" % (what, w, err[-300:])) and ok
    return r


# 1. every numeric option of every command, hostile values
BASE = {
    "generate": ["generate", "-m", model, "-p", "Hi", "-n", "2", "-c", "16", "--temp", "0", "-t", "1"],
    "chat": ["chat", "-m", model, "-n", "2", "-c", "96", "--temp", "0", "-t", "1"],
    "bench": ["bench", "-m", model, "-p", "4", "-n", "2", "-r", "1", "-t", "1"],
    "perplexity": ["perplexity", "-m", model, "-f", SMALL, "-c", "16", "--chunks", "1", "-t", "1"],
    "tokenize": ["tokenize", "-m", model, "-f", TEXT],
}
SAMPLING = ["--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--repeat-last-n", "--presence-penalty",
            "--frequency-penalty", "--seed", "-s"]
OPTIONS = {
    "generate": ["-n", "-c", "-t", "--max-input-bytes"] + SAMPLING,
    "chat": ["-n", "-c", "-t", "--max-input-bytes", "--seed"],  # the sampling options are generate's (one parser)
    "bench": ["-p", "-n", "-r", "-t"],
    "perplexity": ["-c", "-b", "-t", "--chunks", "--max-input-bytes"],
    "tokenize": ["--max-input-bytes"],
}
HOSTILE = ["", "abc", "0x10", "1e400", "nan", "-inf", "2147483648", "-2147483649", "4611686018427387905",
           "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616", "-1e-45", "-n"]
if SAN:  # every run is slower under the sanitizers: the values that reach different code
    HOSTILE = ["", "nan", "1e400", "2147483648", "9223372036854775807", "-9223372036854775808", "18446744073709551616"]
for cmd, opts in OPTIONS.items():
    for opt in opts:
        for v in HOSTILE:
            r = clean(BASE[cmd] + [opt, v], inp=b"Hi\n" if cmd == "chat" else None, what="%s %s %r" % (cmd, opt, v))
            # the parser rejects what no option can mean: not a finite number
            if v in ("", "abc", "nan", "-inf", "1e400", "-n"):
                check(r.returncode == 2 and opt.encode() in r.stderr, "%s %s %r: not rejected by the parser: %r" % (cmd, opt, v, r.stderr))
# values in range that run: the limits of each option's meaning
EDGES = {
    "generate": [["-n", "-1"], ["-n", "0"], ["-n", "2147483647"], ["-c", "0"], ["-c", "2147483647"], ["-t", "-1"],
                 ["-t", "0"], ["-t", "2147483647"], ["--top-k", "-1"], ["--top-k", "2147483647"], ["--top-p", "0"],
                 ["--top-p", "1e-45"], ["--temp", "3.4e38"], ["--temp", "1e-45"], ["--min-p", "1"],
                 ["--repeat-penalty", "0"], ["--repeat-penalty", "1e-45"], ["--repeat-penalty", "3.4e38"],
                 ["--repeat-last-n", "-1"], ["--repeat-last-n", "2147483647"], ["--presence-penalty", "-3.4e38"],
                 ["--frequency-penalty", "3.4e38"], ["--seed", "0"], ["--seed", "18446744073709551615"],
                 ["--max-input-bytes", "1"]],
    "chat": [["-n", "-1"], ["-n", "0"], ["-n", "2147483647"], ["--repeat-last-n", "2147483647"], ["-c", "2147483647"],
             ["--max-input-bytes", "1"]],
    "bench": [["-p", "0"], ["-n", "0"], ["-p", "2147483647"], ["-n", "2147483647"], ["-r", "100001"], ["-r", "0"]],
    "perplexity": [["-b", "0"], ["-b", "1"], ["-b", "2147483647"], ["-c", "7"], ["-c", "2147483647"],
                   ["--chunks", "-1"], ["--chunks", "0"], ["--max-input-bytes", "1"]],
    "tokenize": [["--max-input-bytes", "1"], ["--max-input-bytes", "1099511627776"]],
}
for cmd, edges in EDGES.items():
    for e in edges:
        if SAN and cmd == "perplexity" and e[0] in ("--chunks", "-b"):
            continue  # every chunk of the text at -O0 under ASan takes minutes; the parser's part runs above
        clean(BASE[cmd] + e, inp=b"Hi\n" if cmd == "chat" else None, what="%s %s" % (cmd, " ".join(e)))

# 2. the sizes that overflowed: rejected with the option and its range, or bounded by the context
clean(["generate", "-m", model, "-p", "Hi", "-n", "4611686018427387905", "-c", "20", "--temp", "0"], want_rc=2,
      words=["'-n'", "[-1, 2147483647]"])
clean(["generate", "-m", model, "-p", "Hi", "-n", "9223372036854775807", "-c", "20", "--temp", "0"], want_rc=2, words=["'-n'"])
clean(["bench", "-m", model, "-p", "4611686018427387904"], want_rc=2, words=["'-p'", "[0, 2147483647]"])
clean(["bench", "-m", model, "-r", "2147483648"], want_rc=2, words=["'-r'", "[1, 100000]"])
clean(["bench", "-m", model, "-r", "-1"], want_rc=2, words=["'-r'"])
clean(["bench", "-m", model, "-p", "100000", "-n", "1", "-t", "1"], want_rc=1, words=["trained context is 8192"])
# -n beyond the context: generation stops when the context is full, and says so
r = clean(["generate", "-m", model, "-p", "Hi", "-n", "2147483647", "-c", "20", "--temp", "0", "--ignore-eos", "-t", "1"], want_rc=0,
          words=["generation 20 tokens", "context full"])
# 3. unbounded reads: capped, with the cap and the flag that raises it in the message
clean(["tokenize", "-m", model, "-f", "/dev/zero"], want_rc=1, words=["/dev/zero", "limit of 256 MiB", "--max-input-bytes"])
clean(["generate", "-m", model, "-f", "/dev/zero", "--max-input-bytes", "4096"], want_rc=1, words=["limit of 4 KiB"])
clean(["perplexity", "-m", model, "-f", TEXT, "--max-input-bytes", "1000"], want_rc=1, words=["limit of 1000 bytes"])
r = clean(["tokenize", "-m", model, "-f", TEXT, "--max-input-bytes", str(os.path.getsize(TEXT))], want_rc=0)
check(len(r.stdout.split()) > 1000, "a file of exactly the limit is read whole")
clean(["tokenize", "-m", model, "-f", os.path.dirname(TEXT)], want_rc=1, words=["is a directory"])
clean(["chat", "-m", model, "-n", "1"], inp=b"a" * (5 << 20), want_rc=1, words=["stdin", "limit of 4 MiB", "--max-input-bytes"])
clean(["chat", "-m", model, "-n", "1", "--max-input-bytes", "100"], inp=b"b" * 101 + b"\n", want_rc=1, words=["limit of 100 bytes"])
# token id lists: empty, negative, escapes, more ids than the trained context (refused before 10000 x 49152 logits)
out = os.path.join(tempfile.gettempdir(), "ks_cli_numbers_%d.bin" % os.getpid())
clean(["logits", "-m", model, "--ids", "", "-o", out], want_rc=2, words=["--ids has no token id"])
clean(["logits", "-m", model, "--ids", "1 -2", "-o", out], want_rc=2, words=["'-2'", "[0, 2147483647]"])
r = clean(["logits", "-m", model, "--ids", "1 \x1b[31m", "-o", out], want_rc=2)
check(b"\x1b" not in r.stderr and b"\\x1b[31m" in r.stderr, "the bad id is quoted escaped: %r" % r.stderr)
clean(["logits", "-m", model, "--ids", " ".join(["1"] * 10000), "-o", out], want_rc=1, words=["10000 ids exceed", "8192"])
check(not os.path.exists(out), "no logits written on errors")
# 4. seeds: -1 (or absent) is random and printed; the printed seed reproduces the text
gen = ["generate", "-m", model, "-p", "Once upon a time", "-n", "12", "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0", "-t", "1"]
outs, seeds = [], []
for extra in (["--seed", "-1"], ["--seed", "-1"], []):
    r = clean(gen + extra, want_rc=0)
    outs.append(r.stdout)
    tail = r.stderr.decode().strip().split("seed ")
    seeds.append(tail[-1] if len(tail) > 1 else None)
check(outs[0] != outs[1] and seeds[0] != seeds[1] and None not in seeds, "--seed -1 draws a random seed each time: %r" % seeds)
if seeds[0]:
    check(clean(gen + ["--seed", seeds[0]]).stdout == outs[0], "--seed with the printed seed gives the same text")
# 5. -n 0 generates nothing in both commands; a tiny positive temperature is valid
check(clean(["generate", "-m", model, "-p", "Hi", "-n", "0", "-t", "1"], want_rc=0).stdout == b"", "generate -n 0: no text")
check(clean(["chat", "-m", model, "-n", "0", "-t", "1"], inp=b"Hi\n", want_rc=0).stdout == b"\n", "chat -n 0: an empty reply")
clean(["generate", "-m", model, "-p", "Hi", "-n", "2", "--temp", "1e-45", "-t", "1"], want_rc=0)
# 6. a chat reply that fills the context says so: it goes on by context shift (the oldest half dropped)
r = clean(["chat", "-m", model, "-c", "48", "--temp", "0", "-t", "1"], inp=b"Write a long story about a dragon.\n", want_rc=0,
          words=["[context shift"])
check(len(r.stdout) > 10, "the reply is printed: %r" % r.stdout)
with tempfile.TemporaryDirectory() as tmp:
    # 7. -m DIR, and a folder that looks like a Hugging Face model
    clean(["generate", "-m", tmp, "-p", "Hi"], want_rc=1, words=[tmp + ": is a directory"])
    open(os.path.join(tmp, "config.json"), "w").write("{}")
    clean(["info", "-m", tmp], want_rc=1, words=["is a directory", "kestrel convert"])
    # 8. terminal escapes in strings from the file are printed escaped, in info and in error lines
    data = bytearray(open(model, "rb").read())
    name = b"Smollm2 135M 8k Lc100K Mix1 Ep2"
    i = data.find(name)
    check(i > 0, "general.name found")
    evil = b"\x1b]0;owned\x07\x1b[2J\xc2\x9b31m" + b"x" * (len(name) - 16)
    data[i:i + len(name)] = evil[:len(name)]
    p = os.path.join(tmp, "escape.gguf")
    open(p, "wb").write(data)
    r = clean(["info", "-m", p], want_rc=0)
    check(b"\x1b" not in r.stdout and b"\x07" not in r.stdout and b"\xc2\x9b" not in r.stdout, "info prints escapes raw: %r" % r.stdout[:300])
    check(b"name:         \\x1b]0;owned\\x07\\x1b[2J\\xc2\\x9b31m" in r.stdout, "info shows the escapes as \\xNN: %r" % r.stdout[:300])
    data = bytearray(open(model, "rb").read())
    i = data.find(b"general.architecture")
    data[i + 32:i + 37] = b"\x1b[31m"  # the value "llama"
    open(p, "wb").write(data)
    r = clean(["info", "-m", p], want_rc=1)
    check(b"\x1b" not in r.stderr and b"\\x1b[31m" in r.stderr, "error line with the escape as \\x1b: %r" % r.stderr)
    # 9. tokens longer than 1 KB are printed whole (stories260K with every piece made 1500 bytes longer)
    tok = open(os.path.join(L2C, "tok512.bin"), "rb").read()
    out, at = [struct.pack("<i", 2000)], 4
    for tid in range(512):
        score, n = struct.unpack_from("<fi", tok, at)
        text = tok[at + 8:at + 8 + n] + (b"y" * 1500 if tid >= 3 else b"")
        out.append(struct.pack("<fi", score, len(text)) + text)
        at += 8 + n
    p = os.path.join(tmp, "tok-long.bin")
    open(p, "wb").write(b"".join(out))
    r = clean(["generate", "-m", os.path.join(L2C, "stories260K.bin"), "--tokenizer", p, "-p", "", "-n", "4", "--temp", "0",
               "--ignore-eos"], want_rc=0)
    check(r.stdout.count(b"y" * 1500) >= 3, "tokens of 1.5 KB in the output: %d bytes" % len(r.stdout))
os.remove(SMALL)
done()
