"""kestrel train end to end on token shards written here (the documented format, random tokens):
 - resume: 20 straight updates (2 threads) against 10, kill -9, then 10 resumed (1 thread):
   byte-identical checkpoints (weights, AdamW moments, step, random state, data position);
 - kill -9 at random moments of a run that checkpoints every update: the checkpoint always loads
   (train-export reads it whole, checksum included) and the run resumes from it; a stray partial
   temporary file beside it changes nothing;
 - metrics.jsonl has a line per update with val_loss/val_ppl at evaluations;
 - bad input gives a one-line error and exit status 1: a shard with a wrong magic, a truncated
   shard, a token outside the vocabulary, a checkpoint of another shape, a shape needing more
   memory than max_memory_mb, an unknown key, an empty shard; a NaN loss stops the run with the
   checkpoint in place untouched."""
import json, os, random, signal, struct, subprocess, tempfile, time
import numpy as np
from ks_e2e import *

SANITIZED = bool(os.environ.get("KS_SANITIZED"))


def shard(path, toks, width=2, vocab=0, n=None):
    toks = np.asarray(toks, dtype=np.uint16 if width == 2 else np.uint32)
    hdr = b"KSTOKENS" + struct.pack("<IIQII", 1, width, len(toks) if n is None else n, vocab, 0)
    with open(path, "wb") as f:
        f.write(hdr + toks.astype("<u2" if width == 2 else "<u4").tobytes())


def ckpt_step(d):
    try:
        with open(os.path.join(d, "checkpoint.bin"), "rb") as f:
            h = f.read(136)
        return struct.unpack("<q", h[128:136])[0] if len(h) == 136 else -1
    except OSError:
        return -1


def main():
    tmp = tempfile.mkdtemp(prefix="ks_train_")
    rng = np.random.default_rng(5)
    V = 256
    # a learnable stream: repeated random phrases
    phrases = [rng.integers(0, V, size=rng.integers(4, 12)) for _ in range(40)]
    stream = np.concatenate([phrases[i] for i in rng.integers(0, 40, size=4000)])
    shard(os.path.join(tmp, "train.bin"), stream[:-2000], vocab=V)
    shard(os.path.join(tmp, "val.bin"), stream[-2000:], vocab=V)
    cfg = {"family": "llama", "vocab": V, "dim": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ff": 192,
           "tied": False, "batch": 8, "seq_len": 64, "accum": 1, "steps": 20, "warmup": 2, "lr": 3e-3,
           "lr_min": 3e-4, "eval_every": 5, "eval_batches": 2, "ckpt_every": 10, "threads": 1, "seed": 7,
           "train_data": os.path.join(tmp, "train.bin"), "val_data": os.path.join(tmp, "val.bin")}
    if SANITIZED:
        cfg.update(dim=32, ff=64, batch=4, seq_len=32)
    cfg_path = os.path.join(tmp, "cfg.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)

    def train(out, *extra, **kw):
        return run(["train", "--config", cfg_path, "--out_dir", out] + list(extra), **kw)

    # 20 straight updates
    a = os.path.join(tmp, "a")
    r = train(a, "--threads", "2")  # the others run one thread: results do not depend on the count
    check(r.returncode == 0, "straight run: %s" % r.stderr.decode()[-400:])
    lines = [json.loads(l) for l in open(os.path.join(a, "metrics.jsonl"))]
    check([l["step"] for l in lines] == list(range(1, 21)), "metrics: one line per update")
    check(all(("val_loss" in l) == (l["step"] % 5 == 0) for l in lines), "val_loss every 5 updates")
    check(lines[-1]["loss"] < lines[0]["loss"], "loss falls: %.3f -> %.3f" % (lines[0]["loss"], lines[-1]["loss"]))
    check(b"step 20/20 | loss" in r.stderr and b"tok/s | ETA" in r.stderr, "progress line")

    # 10 updates, kill -9, 10 resumed: the process is killed as soon as the step-10 checkpoint exists
    b = os.path.join(tmp, "b")
    killed_at = None
    for attempt in range(3):
        p = subprocess.Popen([BIN, "train", "--config", cfg_path, "--out_dir", b], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        while p.poll() is None and ckpt_step(b) < 10:
            time.sleep(0.001)
        os.kill(p.pid, signal.SIGKILL) if p.poll() is None else None
        p.wait()
        killed_at = ckpt_step(b)
        if killed_at == 10:
            break
    check(killed_at == 10, "killed with the step-10 checkpoint in place (checkpoint at %s)" % killed_at)
    r = train(b, "--resume", b)
    check(r.returncode == 0, "resumed run: %s" % r.stderr.decode()[-400:])
    same = open(os.path.join(a, "checkpoint.bin"), "rb").read() == open(os.path.join(b, "checkpoint.bin"), "rb").read()
    check(same, "20 straight updates and 10 + kill -9 + 10 resumed give byte-identical checkpoints")
    steps = [json.loads(l)["step"] for l in open(os.path.join(b, "metrics.jsonl"))]
    check(steps == list(range(1, 21)), "resumed metrics: updates 1..20 once each (%s)" % steps)
    svg = open(os.path.join(b, "loss.svg")).read()
    check(svg.startswith("<svg") and svg.count("<polyline") == 3, "loss.svg with loss, validation loss, lr")

    # kill -9 at random moments of a run checkpointing every update: the checkpoint always loads
    c = os.path.join(tmp, "c")
    random.seed(3)
    for i in range(3):
        p = subprocess.Popen([BIN, "train", "--config", cfg_path, "--out_dir", c, "--ckpt_every", "1"] +
                             (["--resume", c] if ckpt_step(c) > 0 else []), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.05, 0.3))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()
        if ckpt_step(c) > 0:
            r = run(["train-export", "--checkpoint", c, "-o", os.path.join(tmp, "c.gguf")])
            check(r.returncode == 0, "kill %d: checkpoint at step %d loads: %s" % (i, ckpt_step(c), r.stderr.decode()))
    with open(os.path.join(c, ".checkpoint.bin.partial"), "wb") as f:
        f.write(b"KSTRCKPT" + b"\0" * 100)  # what a write cut short leaves beside the checkpoint
    r = train(c, "--resume", c, "--ckpt_every", "1") if ckpt_step(c) > 0 else train(c)
    check(r.returncode == 0 and ckpt_step(c) == 20, "run finished after the kills: %s" % r.stderr.decode()[-300:])

    # bad input
    def bad(args, want, label):
        r = run(["train", "--config", cfg_path, "--out_dir", os.path.join(tmp, "bad")] + args)
        err = r.stderr.decode()
        last = err.strip().splitlines()[-1] if err.strip() else ""
        check(r.returncode == 1 and last.startswith("kestrel: ") and want in last, "%s: rc %d, %r" % (label, r.returncode, err))

    with open(os.path.join(tmp, "magic.bin"), "wb") as f:
        f.write(b"NOTTOKEN" + b"\0" * 200)
    bad(["--train_data", os.path.join(tmp, "magic.bin")], "not a token shard", "wrong magic")
    shard(os.path.join(tmp, "trunc.bin"), stream[:1000], n=5000)
    bad(["--train_data", os.path.join(tmp, "trunc.bin")], "the header says 5000 tokens", "truncated shard")
    shard(os.path.join(tmp, "empty.bin"), [])
    bad(["--train_data", os.path.join(tmp, "empty.bin")], "0 tokens, fewer than", "empty shard")
    shard(os.path.join(tmp, "oov.bin"), np.full(5000, 300), width=4)
    bad(["--train_data", os.path.join(tmp, "oov.bin")], "outside the vocabulary of 256", "token out of range")
    bad(["--resume", a, "--ff", "128"], "another shape (ff %d" % cfg["ff"], "checkpoint of another shape")
    bad(["--max_memory_mb", "1"], "but max_memory_mb is 1.0 MiB", "memory refusal")
    # a loss that is not finite (zero embeddings through an RMSNorm without epsilon) stops the run before
    # anything is written: the checkpoint already in out_dir stays byte for byte
    nan_dir = os.path.join(tmp, "nan")
    os.makedirs(nan_dir)
    good = open(os.path.join(a, "checkpoint.bin"), "rb").read()
    with open(os.path.join(nan_dir, "checkpoint.bin"), "wb") as f:
        f.write(good)
    r = train(nan_dir, "--init_std", "0", "--norm_eps", "0")
    last = r.stderr.decode().strip().splitlines()[-1]
    check(r.returncode == 1 and "the loss is NaN" in last and "last checkpoint is kept" in last, "NaN: %r" % last)
    check(open(os.path.join(nan_dir, "checkpoint.bin"), "rb").read() == good, "NaN: the checkpoint is untouched")
    r = run(["train", "--config", cfg_path, "--bogus", "1"])
    check(r.returncode == 2 and b"unknown key 'bogus'" in r.stderr, "unknown key: %r" % r.stderr)
    done()


main()
