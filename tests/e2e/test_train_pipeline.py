"""The whole training pipeline on a real text (tests/data/ppl-gpl3.txt): train-tokenizer -o tok.gguf,
prepare-data with it, train a tiny LLaMA for a few updates, train-export with the tokenizer, then
kestrel generate from the exported model (greedy): every step exits 0 and the model writes text.
The shards hold only ids below the vocabulary; the loss falls."""
import json, os, struct, tempfile
from ks_e2e import *


def main():
    tmp = tempfile.mkdtemp(prefix="ks_pipe_")
    corpus = os.path.join(DATA, "ppl-gpl3.txt")
    tok = os.path.join(tmp, "tok.gguf")
    r = run(["train-tokenizer", "-o", tok, "--vocab-size", "512", "--special", "<|endoftext|>", corpus])
    check(r.returncode == 0, "train-tokenizer: %s" % r.stderr.decode()[-300:])
    r = run(["prepare-data", "-m", tok, "-o", os.path.join(tmp, "d"), "--val-fraction", "0.5", corpus])
    check(r.returncode == 0, "prepare-data: %s" % r.stderr.decode()[-300:])
    with open(os.path.join(tmp, "d.train.bin"), "rb") as f:
        magic, ver, width, n, vocab, _ = struct.unpack("<8sIIQII", f.read(32))
    check(magic == b"KSTOKENS" and vocab == 512 and n > 5000, "train shard: %d tokens, vocabulary %d" % (n, vocab))
    out = os.path.join(tmp, "run")
    r = run(["train", "--vocab", "512", "--dim", "64", "--layers", "2", "--heads", "4", "--kv_heads", "2", "--ff",
             "128", "--batch", "4", "--seq_len", "64", "--steps", "30", "--warmup", "5", "--lr", "1e-2",
             "--eval_every", "15", "--eval_batches", "2", "--ckpt_every", "0", "--threads", "1",
             "--train_data", os.path.join(tmp, "d.train.bin"), "--val_data", os.path.join(tmp, "d.val.bin"),
             "--out_dir", out])
    check(r.returncode == 0, "train: %s" % r.stderr.decode()[-300:])
    m = [json.loads(l) for l in open(os.path.join(out, "metrics.jsonl"))]
    check(len(m) == 30 and m[-1]["loss"] < m[0]["loss"] - 0.5, "loss falls: %.3f -> %.3f" % (m[0]["loss"], m[-1]["loss"]))
    check("val_ppl" in m[14] and "val_ppl" in m[29], "validation at 15 and 30")
    model = os.path.join(tmp, "model.gguf")
    r = run(["train-export", "--checkpoint", out, "-o", model, "--tokenizer", tok])
    check(r.returncode == 0, "train-export: %s" % r.stderr.decode())
    r = run(["generate", "-m", model, "-p", "This License", "-n", "12", "--temp", "0", "-t", "1"])
    check(r.returncode == 0 and len(r.stdout) > 0 and b"generation 12 tokens" in r.stderr,
          "generate from the trained model: rc %d, %r %s" % (r.returncode, r.stdout.decode(), r.stderr.decode()[-200:]))
    done()


main()
