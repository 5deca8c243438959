"""Bad model files through the CLI: each gives a one-line error naming the problem and a
non-zero exit status (never a crash: a signal would show as a negative return code)."""
import os, struct, tempfile
from ks_e2e import *


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def kv_u32(k, v):
    return s(k) + struct.pack("<II", 4, v)


def kv_str(k, v):
    return s(k) + struct.pack("<I", 8) + s(v)


def tensor_info(name, dims, typ, off):
    return s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", typ, off)


def gguf(kvs, tinfos, data=b"", version=3, n_kv=None, n_t=None):
    hdr = b"GGUF" + struct.pack("<IQQ", version, len(tinfos) if n_t is None else n_t, len(kvs) if n_kv is None else n_kv)
    body = hdr + b"".join(kvs) + b"".join(tinfos)
    body += b"\0" * ((32 - len(body) % 32) % 32)
    return body + data


ARCH = [kv_str("general.architecture", "llama")]
good_t = [tensor_info("a", [32, 2], 0, 0)]
good = gguf(ARCH, good_t, b"\0" * 256)
cases = [
    ("wrong magic", b"GGUX" + good[4:], ["magic"]),
    ("truncated header", good[:13], ["truncated"]),
    ("truncated tensor data", gguf(ARCH, good_t, b"\0" * 100), ["past end", "truncated"]),
    ("tensor offset past end", gguf(ARCH, [tensor_info("a", [32, 2], 0, 1 << 20)], b"\0" * 256), ["offset"]),
    ("absurd dimension", gguf(ARCH, [tensor_info("a", [1 << 62, 1 << 62], 0, 0)], b"\0" * 256), ["dimension"]),
    ("absurd tensor count", gguf(ARCH, good_t, b"\0" * 256, n_t=1 << 60), ["count"]),
    ("absurd kv count", gguf(ARCH, good_t, b"\0" * 256, n_kv=1 << 60), ["count"]),
    ("absurd string length", b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 62) + b"abc" + b"\0" * 32, ["string length"]),
    ("unknown tensor type", gguf(ARCH, [tensor_info("a", [32, 2], 99, 0)], b"\0" * 256), ["type 99"]),
    ("unknown value type", gguf([s("k") + struct.pack("<I", 77) + b"\0" * 8], [], b""), ["type 77"]),
    ("bad version", gguf(ARCH, good_t, b"\0" * 256, version=1), ["version"]),
    ("too many dims", gguf(ARCH, [tensor_info("a", [1, 1, 1, 1, 1], 0, 0)], b"\0" * 256), ["n_dims"]),
    ("misaligned offset", gguf(ARCH, [tensor_info("a", [32, 2], 0, 4)], b"\0" * 256), ["aligned"]),
    ("block size", gguf(ARCH, [tensor_info("a", [33, 2], 2, 0)], b"\0" * 256), ["block size"]),
    ("missing hyperparameters", good, ["missing"]),
    ("empty file", b"", ["truncated", "magic"]),
]
with tempfile.TemporaryDirectory() as tmp:
    def try_file(name, data, words, extra=()):
        path = os.path.join(tmp, "bad.gguf")
        with open(path, "wb") as f:
            f.write(data)
        for cmd in (["info", "-m", path], ["generate", "-m", path, "-p", "hi", "-n", "1"]):
            r = run(list(cmd) + list(extra))
            err = r.stderr.decode("utf-8", "replace")
            lines = err.strip().split("\n")
            check(r.returncode > 0, "%s: %s: exit %d (negative = killed by a signal)" % (name, cmd[0], r.returncode))
            check(len(lines) == 1 and lines[0].startswith("kestrel:"), "%s: %s: stderr is not one 'kestrel:' line: %r" % (name, cmd[0], err[:300]))
            check(any(w in err for w in words), "%s: %s: message %r names none of %s" % (name, cmd[0], err.strip(), words))
    for name, data, words in cases:
        try_file(name, data, words)
    # llama2.c checkpoint: truncated, absurd header, bad tokenizer
    l2c = os.path.join(SHARED, "testdata", "llama2c")
    ck = open(os.path.join(l2c, "stories260K.bin"), "rb").read()
    tokp = os.path.join(l2c, "tok512.bin")
    try_file("llama2.c truncated", ck[:5000], ["truncated"], ["--tokenizer", tokp])
    try_file("llama2.c absurd header", struct.pack("<7i", 64, 172, 1 << 30, 8, 4, 512, 512) + ck[28:], ["n_layers"], ["--tokenizer", tokp])
    badtok = os.path.join(tmp, "tok.bin")
    with open(badtok, "wb") as f:
        f.write(open(tokp, "rb").read()[:200])
    r = run(["generate", "-m", os.path.join(l2c, "stories260K.bin"), "--tokenizer", badtok, "-p", "hi"])
    check(r.returncode > 0 and r.stderr.decode().startswith("kestrel:"), "truncated tokenizer: %r" % r.stderr[:200])
    missing = os.path.join(tmp, "does-not-exist.gguf")
    for cmd in (["info", "-m", missing], ["generate", "-m", missing, "-p", "hi", "-n", "1"]):
        r = run(cmd)
        err = r.stderr.decode("utf-8", "replace")
        check(r.returncode > 0 and len(err.strip().split("\n")) == 1 and err.startswith("kestrel:")
              and "cannot open" in err, "missing file: %s: exit %d, %r" % (cmd[0], r.returncode, err[:200]))
    # a real model cut in the middle of its tensor data
    model = need_model()
    cut = os.path.join(tmp, "cut.gguf")
    with open(model, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(50_000_000))
    r = run(["generate", "-m", cut, "-p", "hi", "-n", "1"])
    check(r.returncode > 0 and "extends past end of file" in r.stderr.decode(), "cut model: %r" % r.stderr[:300])
done()
