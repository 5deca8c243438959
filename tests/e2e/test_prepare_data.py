"""kestrel prepare-data: text + JSONL to token shards, against HF tokenizers' ids for the same corpus
(tests/data/train-ref/prepare-data.json from tests/oracle/make_prepare_ref.py: count and SHA-256 of
every document's ids followed by EOS). The text file is many 16 KB chunks long, so chunking is
exercised; with --val-fraction 0.5 the chunks split between the shards and together hold the same
tokens. Bad input: an empty corpus, a JSONL line without "text", a file that is not a GGUF: one-line
errors, exit status 1, no output left behind."""
import hashlib, json, os, struct, tempfile
import numpy as np
from ks_e2e import *


def read_shard(path):
    b = open(path, "rb").read()
    magic, ver, width, n, vocab, _ = struct.unpack("<8sIIQII", b[:32])
    check(magic == b"KSTOKENS" and ver == 1 and width == 2 and vocab == 320 and len(b) == 32 + 2 * n,
          "%s header: %r" % (path, (magic, ver, width, n, vocab, len(b))))
    return b[32:]


def main():
    ref = json.load(open(os.path.join(DATA, "train-ref", "prepare-data.json"), encoding="utf-8"))
    tmp = tempfile.mkdtemp(prefix="ks_prep_")
    gguf = os.path.join(tmp, "tiny.gguf")
    r = run(["convert", os.path.join(DATA, "hf-tiny-llama"), gguf])
    check(r.returncode == 0, "convert: %s" % r.stderr.decode())
    text = os.path.join(tmp, "gpl.txt")
    with open(os.path.join(DATA, "ppl-gpl3.txt"), "rb") as f:
        body = f.read()
    with open(text, "wb") as f:
        f.write(body * ref["text_repeat"])
    jsonl = os.path.join(tmp, "docs.jsonl")
    with open(jsonl, "w", encoding="utf-8") as f:
        for d in ref["docs"]:
            f.write(json.dumps({"text": d, "id": 1}) + "\n")
        f.write("\n")  # blank lines are skipped

    out = os.path.join(tmp, "a")
    r = run(["prepare-data", "-m", gguf, "-o", out, "--val-fraction", "0", text, jsonl])
    check(r.returncode == 0, "prepare-data: %s" % r.stderr.decode())
    tr, va = read_shard(out + ".train.bin"), read_shard(out + ".val.bin")
    check(len(va) == 0, "no validation tokens with --val-fraction 0")
    check(len(tr) // 2 == ref["n_tokens"] and hashlib.sha256(tr).hexdigest() == ref["sha256"],
          "train shard equals HF tokenizers' ids + EOS per document (%d tokens, HF %d)" % (len(tr) // 2, ref["n_tokens"]))
    check(b"documents" in r.stderr and b"train" in r.stderr, "progress line")

    out = os.path.join(tmp, "b")
    r = run(["prepare-data", "-m", gguf, "-o", out, "--val-fraction", "0.5", text, jsonl])
    tr, va = read_shard(out + ".train.bin"), read_shard(out + ".val.bin")
    check(len(va) > 0 and len(tr) > 0 and (len(tr) + len(va)) // 2 == ref["n_tokens"],
          "split 0.5: %d + %d tokens" % (len(tr) // 2, len(va) // 2))
    all_ids = np.frombuffer(tr + va, dtype="<u2")
    check(int((all_ids == ref["eos"]).sum()) >= 1 + len(ref["docs"]), "an EOS per document")

    def bad(args, want, label):
        r = run(["prepare-data", "-m", gguf, "-o", os.path.join(tmp, "bad")] + args)
        err = r.stderr.decode().strip().splitlines()
        check(r.returncode == 1 and err and want in err[-1], "%s: rc %d %r" % (label, r.returncode, err))
        check(not os.path.exists(os.path.join(tmp, "bad.train.bin")), "%s: no output left" % label)

    empty = os.path.join(tmp, "empty.txt")
    open(empty, "w").close()
    bad([empty], "the corpus is empty", "empty corpus")
    nojs = os.path.join(tmp, "bad.jsonl")
    with open(nojs, "w") as f:
        f.write('{"text": "ok"}\n{"body": "no text"}\n')
    bad([nojs], "bad.jsonl:2: not a JSON object with a \"text\" string", "JSONL without text")
    r = run(["prepare-data", "-m", text, "-o", os.path.join(tmp, "bad"), jsonl])
    check(r.returncode == 1, "a text file as the tokenizer: %r" % r.stderr)
    done()


main()
