"""Every command's --help gives each option's default (as llama.cpp's tools do), and long work
shows a progress line on a terminal only: `kestrel convert` and `kestrel quantize` of the tiny
Hugging Face folder print "converting: N%" / "quantizing: N%" (carriage-return updated) when
stderr is a pseudo-terminal, and nothing of the kind when it is a pipe; the file written is
the same either way."""
import os, pty, re, select, subprocess, tempfile
from ks_e2e import BIN, DATA, check, done, run

# --help: an options section where every line states a default
for cmd in ["generate", "chat", "tokenize", "info", "bench", "perplexity", "logits"]:
    r = run([cmd, "--help"])
    out = r.stdout.decode()
    lines = [l for l in out.split("options:", 1)[-1].splitlines() if l.startswith("  -")]
    check(r.returncode == 0 and lines, "%s --help lists options" % cmd)
    missing = [l.split()[0] for l in lines if "default" not in l]
    check(not missing, "%s --help: options without a default: %s" % (cmd, missing))
for cmd in ["quantize", "convert"]:
    r = run([cmd, "--help"])
    check(r.returncode == 0 and b"usage: kestrel " + cmd.encode() in r.stdout, "%s --help" % cmd)
check(b"default: auto" in run(["convert", "--help"]).stdout, "convert --help: --outtype's default")


def with_pty(args):
    """runs kestrel with stderr on a pseudo-terminal; returns (exit status, stderr bytes)"""
    master, slave = pty.openpty()
    p = subprocess.Popen([BIN] + args, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        rl, _, _ = select.select([master], [], [], 600)
        if not rl:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=600), out


hf = os.path.join(DATA, "hf-tiny-llama")
with tempfile.TemporaryDirectory() as tmp:
    a, b = os.path.join(tmp, "a.gguf"), os.path.join(tmp, "b.gguf")
    rc, err = with_pty(["convert", hf, a, "--outtype", "f16"])
    check(rc == 0, "convert on a terminal: %r" % err[-300:])
    check(re.search(rb"\rconverting: +\d+%", err) is not None, "convert shows a progress line: %r" % err[-300:])
    r = run(["convert", hf, b, "--outtype", "f16"])
    check(r.returncode == 0 and b"converting:" not in r.stderr and b"\r" not in r.stderr,
          "no progress line into a pipe: %r" % r.stderr[-300:])
    check(open(a, "rb").read() == open(b, "rb").read(), "the same file either way")
    q = os.path.join(tmp, "q.gguf")
    rc, err = with_pty(["quantize", a, q, "Q8_0"])
    check(rc == 0 and re.search(rb"\rquantizing: +\d+%", err) is not None, "quantize progress: %r" % err[-300:])
    r = run(["quantize", a, os.path.join(tmp, "q2.gguf"), "Q8_0"])
    check(r.returncode == 0 and b"quantizing:" not in r.stderr, "quantize into a pipe: %r" % r.stderr[-300:])
done()
