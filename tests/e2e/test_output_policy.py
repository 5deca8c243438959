"""The output policy of the commands that write files (src/base/outfile.h), as an attacker or a
careless user meets it through `kestrel quantize` and `kestrel convert`:

- refused, before any work, with the input byte for byte unchanged: the output is the input by
  another path (./IN, a symbolic link, a hard link, a symlinked folder, a file of an HF input
  folder), a FIFO (still a FIFO afterwards), a character device (a mknod'ed copy of /dev/null when
  root, else /dev/null itself), a directory, a symbolic link (dangling or not: the link and its
  target stay as they were);
- the OS reason in the message, and no work done first: missing folder ("No such file or
  directory", returning at once instead of after quantizing SmolLM2), permission denied (as the
  user nobody when root), read-only file system (a read-only tmpfs, when mount is allowed), full
  disk (a 64 KiB tmpfs when mount is allowed: ENOSPC; a file-size limit: EFBIG, where the old
  binary died of SIGXFSZ and left OUT.tmp);
- an input named like the old temporary file (OUT.tmp) is not consumed; a 253-character output
  name (its old temporary name was too long) works; a replaced output keeps its permission bits;
- a new file in an HF input folder under a name the converter reads (model*.safetensors,
  tokenizer.model, ...) is refused: it would poison the folder's next conversion;
- SIGINT and SIGTERM in the middle of quantizing SmolLM2, and of quantizing an HF folder (its F32
  intermediate), end the process by that signal, leave no temporary file, and leave an existing
  output as it was.
Every failure must leave no file beside the output (temporary names start with '.')."""
import hashlib, json, os, resource, shutil, signal, stat, struct, subprocess, tempfile, time
import numpy as np
from ks_e2e import *

HF = os.path.join(DATA, "hf-tiny-llama")
IS_ROOT = os.geteuid() == 0


def sha(path):
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def tree_sha(d):
    return {n: sha(os.path.join(d, n)) for n in sorted(os.listdir(d)) if os.path.isfile(os.path.join(d, n))}


def hidden(d):
    return [n for n in os.listdir(d) if n.startswith(".")]


def default_signals():
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)


def refused(name, args, words, cwd=None, **kw):
    """runs kestrel ARGS, expects exit 1 with one `kestrel:` line containing every word; the stderr"""
    kw.setdefault("preexec_fn", default_signals)
    r = run(args, cwd=cwd, timeout=60, **kw)
    err = r.stderr.decode()
    check(r.returncode == 1 and err.startswith("kestrel: ") and err.count("\n") == 1 and all(w in err for w in words),
          "%s: rc %d, want 1 and %s in one line: %r" % (name, r.returncode, words, err))
    return err


def try_mount(where, opts):
    os.makedirs(where, exist_ok=True)
    return IS_ROOT and subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", where],
                                      capture_output=True).returncode == 0


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        b = a.tobytes()
        header[name] = {"dtype": {np.float16: "F16", np.float32: "F32"}[a.dtype.type], "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def big_folder(d):
    """an HF folder like hf-tiny-llama but 512 wide, 4 layers (16M F16 parameters): its conversion
    takes long enough to be interrupted"""
    os.makedirs(d)
    for n in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(HF, n), d)
    cfg = json.load(open(os.path.join(HF, "config.json")))
    E, F, L, H, KV, HD, V = 512, 2048, 4, 8, 4, 64, cfg["vocab_size"]
    cfg.update(hidden_size=E, intermediate_size=F, num_hidden_layers=L, num_attention_heads=H, num_key_value_heads=KV,
               head_dim=HD)
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    rng = np.random.default_rng(1)
    w = lambda *s: (rng.standard_normal(s, dtype=np.float32) * 0.02).astype(np.float16)
    t = [("model.embed_tokens.weight", w(V, E)), ("model.norm.weight", np.ones(E, np.float16))]
    for i in range(L):
        p = "model.layers.%d." % i
        t += [(p + "input_layernorm.weight", np.ones(E, np.float16)),
              (p + "post_attention_layernorm.weight", np.ones(E, np.float16)),
              (p + "self_attn.q_proj.weight", w(H * HD, E)), (p + "self_attn.k_proj.weight", w(KV * HD, E)),
              (p + "self_attn.v_proj.weight", w(KV * HD, E)), (p + "self_attn.o_proj.weight", w(E, H * HD)),
              (p + "mlp.gate_proj.weight", w(F, E)), (p + "mlp.up_proj.weight", w(F, E)),
              (p + "mlp.down_proj.weight", w(E, F))]
    write_safetensors(os.path.join(d, "model.safetensors"), t)


def interrupt(name, args, out_dir, sig, delay):
    """starts kestrel ARGS, waits until something new appears in out_dir (a temporary file), then
    delay seconds, sends sig; the exit status (negative: killed by that signal)"""
    before = set(os.listdir(out_dir))
    p = subprocess.Popen([BIN] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=default_signals)
    t0 = time.time()
    while p.poll() is None and not (set(os.listdir(out_dir)) - before) and time.time() - t0 < 60:
        time.sleep(0.001)
    time.sleep(delay)
    if p.poll() is None:
        p.send_signal(sig)
    p.communicate(timeout=120)
    return p.returncode


with tempfile.TemporaryDirectory() as tmp:
    os.chmod(tmp, 0o755)
    tiny = os.path.join(tmp, "m.gguf")
    r = run(["convert", HF, tiny, "--outtype", "f32"])
    check(r.returncode == 0, "convert the tiny folder: %r" % r.stderr[-300:])
    os.chmod(tiny, 0o644)
    want = sha(tiny)

    # 1. the output is the input by another name
    os.symlink("m.gguf", os.path.join(tmp, "link.gguf"))
    os.link(tiny, os.path.join(tmp, "hard.gguf"))
    os.symlink(tmp, os.path.join(tmp, "dirlink"))
    same = ("same file as the input", "refusing to overwrite")
    refused("./IN", ["quantize", "m.gguf", "./m.gguf", "Q8_0"], same, cwd=tmp)
    refused("symlink input", ["quantize", "link.gguf", "m.gguf", "Q8_0"], same, cwd=tmp)
    refused("hard link", ["quantize", "m.gguf", "hard.gguf", "Q8_0"], same, cwd=tmp)
    refused("symlinked folder", ["quantize", "m.gguf", "dirlink/m.gguf", "Q8_0"], same, cwd=tmp)
    refused("output a link to the input", ["quantize", "m.gguf", "link.gguf", "Q8_0"], same, cwd=tmp)
    refused("logits -o the model", ["logits", "-m", tiny, "--ids", "1 2", "-o", os.path.join(tmp, "link.gguf")], same)
    check(sha(tiny) == want and os.path.islink(os.path.join(tmp, "link.gguf")), "the input changed")
    if not os.path.islink(os.path.join(tmp, "link.gguf")):  # (the old binary) the link is gone: the input again
        shutil.copy(tiny, os.path.join(tmp, "link.gguf"))
    os.remove(os.path.join(tmp, "hard.gguf"))

    hf = os.path.join(tmp, "hf")
    shutil.copytree(HF, hf)
    hf_want = tree_sha(hf)
    os.symlink("hf", os.path.join(tmp, "hflink"))
    for cmd in (["convert", hf], ["quantize", hf]):
        for target in ("hf/model-00001-of-00002.safetensors", "hflink/config.json", "hf/tokenizer.json",
                       "hf/chat_template.jinja", "hf/model.safetensors.index.json"):
            extra = ["Q8_0"] if cmd[0] == "quantize" else []
            refused("%s onto %s" % (cmd[0], target), cmd + [os.path.join(tmp, target)] + extra, same)
    # a new file in the folder under a name the converter reads would poison its next conversion
    for name in ("model-00003-of-00002.safetensors", "tokenizer.model", "chat_template.json"):
        refused("convert into %s" % name, ["convert", hf, os.path.join(hf, name)], ("read as part of the folder",))
        refused("quantize into %s" % name, ["quantize", hf, os.path.join(hf, name), "Q8_0"],
                ("read as part of the folder",))
    check(tree_sha(hf) == hf_want and not hidden(hf), "the HF folder changed")

    # 2. outputs that are not regular files
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    refused("FIFO", ["quantize", tiny, fifo, "Q8_0"], ("fifo: the output is a FIFO", "not a regular file"))
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced")
    if IS_ROOT:  # a character device of our own (a copy of /dev/null): damage would stay in tmp
        dev = os.path.join(tmp, "null")
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:  # /dev is not writable: nothing can be damaged
        dev = "/dev/null"
    refused("char device", ["quantize", tiny, dev, "Q8_0"], ("the output is a character device",))
    check(stat.S_ISCHR(os.lstat(dev).st_mode), "%s is no longer a character device" % dev)
    d = os.path.join(tmp, "adir")
    os.mkdir(d)
    open(os.path.join(d, "keep"), "w").write("x")
    refused("directory", ["quantize", tiny, d, "Q8_0"], ("the output is a directory",))
    refused("trailing slash", ["quantize", tiny, os.path.join(tmp, "new") + "/", "Q8_0"], ("names a folder",))
    check(os.listdir(d) == ["keep"], "the directory changed")
    other = os.path.join(tmp, "other.gguf")
    open(other, "w").write("other")
    for name, target in (("tolink", "other.gguf"), ("dangling", "missing.gguf")):
        link = os.path.join(tmp, name + ".gguf")
        os.symlink(target, link)
        refused("%s output" % name, ["quantize", tiny, link, "Q8_0"], ("symbolic link", "refusing to replace it"))
        check(os.path.islink(link) and os.readlink(link) == target, "the %s symlink was replaced" % name)
    check(open(other).read() == "other" and not os.path.exists(os.path.join(tmp, "missing.gguf")),
          "a link was written through")
    check(sha(tiny) == want and hidden(tmp) == [], "refusals changed the input or left files: %s" % hidden(tmp))

    # 3. the output folder, checked before the work, with the OS's reason
    model = need_model()
    t0 = time.time()
    refused("missing folder", ["quantize", model, os.path.join(tmp, "nodir", "x.gguf"), "Q8_0"],
            ("cannot create", "nodir/x.gguf: No such file or directory"))
    took = time.time() - t0
    check(took < 2.0, "the missing folder was reported after %.1f s (after quantizing?)" % took)
    err = refused("missing folder, HF input", ["quantize", hf, os.path.join(tmp, "nodir", "x.gguf"), "Q8_0"],
                  ("No such file or directory",))
    check("F32 weights" not in err, "the folder was converted before the output was checked")
    open(os.path.join(tmp, "afile"), "w").write("x")
    refused("folder is a file", ["quantize", tiny, os.path.join(tmp, "afile", "x.gguf"), "Q8_0"], ("Not a directory",))
    ro = os.path.join(tmp, "ro")
    os.mkdir(ro, 0o555)
    os.chmod(ro, 0o555)
    if IS_ROOT:  # root ignores permission bits: run as nobody
        def as_nobody():
            default_signals()
            os.setgid(65534)
            os.setuid(65534)
        r = subprocess.run([BIN, "quantize", tiny, os.path.join(ro, "x.gguf"), "Q8_0"], capture_output=True,
                           preexec_fn=as_nobody, timeout=60)
        check(r.returncode == 1 and b"cannot create" in r.stderr and b"Permission denied" in r.stderr,
              "permission denied (as nobody): %r" % r.stderr)
    else:
        refused("permission", ["quantize", tiny, os.path.join(ro, "x.gguf"), "Q8_0"], ("Permission denied",))
    check(os.listdir(ro) == [], "files left in the read-only folder")
    rofs = os.path.join(tmp, "rofs")
    if try_mount(rofs, "ro,size=64k"):
        try:
            refused("read-only fs", ["quantize", tiny, os.path.join(rofs, "x.gguf"), "Q8_0"],
                    ("Read-only file system",))
        finally:
            subprocess.run(["umount", rofs])
    else:
        print("note: cannot mount a tmpfs (not root or not allowed): read-only file system case skipped")

    # 4. full disk: a 64 KiB tmpfs (ENOSPC) and a file-size limit (EFBIG); an existing output stays
    small = os.path.join(tmp, "small")
    if try_mount(small, "size=64k"):
        try:
            out = os.path.join(small, "out.gguf")
            open(out, "w").write("old")
            refused("full disk", ["quantize", tiny, out, "F32"],
                    ("out.gguf: needs 0.3 MiB but its file system has", "No space left on device"))
            check(open(out, "rb").read() == b"old" and hidden(small) == [],
                  "full disk: output changed or temp left: %s" % hidden(small))
        finally:
            subprocess.run(["umount", small])
    else:
        print("note: cannot mount a tmpfs (not root or not allowed): ENOSPC case skipped, EFBIG tested")
    out = os.path.join(tmp, "big.gguf")
    open(out, "w").write("old")

    def limited():
        default_signals()
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))
    refused("file-size limit", ["quantize", tiny, out, "F32"],
            ("big.gguf: needs 0.3 MiB but the file-size limit is 0.1 MiB: File too large",), preexec_fn=limited)
    check(open(out, "rb").read() == b"old" and hidden(tmp) == [],
          "file-size limit: output changed or temp left: %s" % hidden(tmp))

    # 5. names: an input called like the old temporary file; a long output name
    os.rename(tiny, os.path.join(tmp, "q.gguf.tmp"))
    r = run(["quantize", "q.gguf.tmp", "q.gguf", "Q8_0"], cwd=tmp)
    intact = sha(os.path.join(tmp, "q.gguf.tmp")) == want
    check(r.returncode == 0 and intact and os.path.exists(os.path.join(tmp, "q.gguf")),
          "input named OUT.tmp: rc %d, input intact %s: %r" % (r.returncode, intact, r.stderr[-200:]))
    shutil.copy(os.path.join(tmp, "q.gguf"), tiny) if sha(os.path.join(tmp, "q.gguf.tmp")) != want else None
    os.rename(os.path.join(tmp, "q.gguf.tmp"), tiny) if os.path.exists(os.path.join(tmp, "q.gguf.tmp")) else None
    priv = os.path.join(tmp, "priv.gguf")
    open(priv, "w").write("old")
    os.chmod(priv, 0o600)
    r = run(["quantize", tiny, priv, "Q8_0"])
    check(r.returncode == 0 and stat.S_IMODE(os.stat(priv).st_mode) == 0o600 and os.path.getsize(priv) > 3,
          "a replaced output keeps its permissions: mode %o" % stat.S_IMODE(os.stat(priv).st_mode))
    long_out = os.path.join(tmp, "L" * 248 + ".gguf")
    r = run(["quantize", tiny, long_out, "Q8_0"])
    check(r.returncode == 0 and os.path.exists(long_out), "253-character output name: %r" % r.stderr[-200:])
    check(hidden(tmp) == [], "files left: %s" % hidden(tmp))

    # 6. SIGINT / SIGTERM while quantizing SmolLM2 and an HF folder's F32 intermediate
    sig_dir = os.path.join(tmp, "sig")
    os.mkdir(sig_dir)
    out = os.path.join(sig_dir, "out.gguf")
    open(out, "w").write("old")
    for sig in (signal.SIGINT, signal.SIGTERM):
        rc = interrupt("SmolLM2", ["quantize", model, out, "Q8_0"], sig_dir, sig, 0.3)
        check(rc == -sig, "quantize SmolLM2, %s: exit status %d, want killed by the signal" % (sig.name, rc))
        kept = open(out, "rb").read() == b"old"
        check(sorted(os.listdir(sig_dir)) == ["out.gguf"] and kept,
              "quantize SmolLM2, %s: left %s, output %s"
              % (sig.name, os.listdir(sig_dir), "kept" if kept else "replaced"))
        open(out, "w").write("old")
    big = os.path.join(tmp, "big-hf")
    big_folder(big)
    big_want = tree_sha(big)
    for sig in (signal.SIGINT, signal.SIGTERM):
        hit = 0
        for delay in (0.2, 0.05, 0.0):
            rc = interrupt("HF", ["quantize", big, out, "Q8_0"], sig_dir, sig, delay)
            hit += rc == -sig
            check(rc in (-sig, 0), "quantize HF, %s: exit status %d" % (sig.name, rc))
            check(sorted(os.listdir(sig_dir)) == ["out.gguf"], "quantize HF, %s after %.2f s: left %s"
                  % (sig.name, delay, sorted(os.listdir(sig_dir))))
            if rc == 0:  # finished before the signal: the output was replaced, as it should
                open(out, "w").write("old")
            for n in os.listdir(sig_dir):
                if n != "out.gguf":
                    os.remove(os.path.join(sig_dir, n))
        print("quantize HF, %s: interrupted %d of 3 runs, no temporary file left" % (sig.name, hit))
        check(hit > 0, "quantize HF, %s: never interrupted (too fast?)" % sig.name)
        check(open(out, "rb").read() == b"old", "quantize HF, %s: the output changed" % sig.name)
    check(tree_sha(big) == big_want, "the HF folder changed")
done()
