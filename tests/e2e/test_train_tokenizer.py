"""kestrel train-tokenizer against HF tokenizers' BPE training (tests/data/train-ref/bpe.json from
tests/oracle/make_bpe_ref.py): on the same corpus and settings (GPT-2's pre-tokenizer, as
ByteLevelBPETokenizer().train(); and Llama 3's), the vocabulary (every string at every id) and the
merges (in rank order) are identical; the file has HF's tokenizer.json structure. Bad settings and
inputs (a vocabulary smaller than the bytes, an empty corpus, an unknown pre-tokenizer) give one-line
errors and no output."""
import json, os, tempfile
from ks_e2e import *


def main():
    ref = json.load(open(os.path.join(DATA, "train-ref", "bpe.json"), encoding="utf-8"))
    corpus = os.path.join(DATA, ref["corpus"])
    tmp = tempfile.mkdtemp(prefix="ks_bpe_")
    for c in ref["cases"]:
        out = os.path.join(tmp, "tok-%s.json" % c["pretok"])
        args = ["train-tokenizer", "-o", out, "--vocab-size", str(c["vocab_size"]), "--min-frequency",
                str(c["min_frequency"]), "--pretok", c["pretok"]]
        for s in c["special"]:
            args += ["--special", s]
        r = run(args + [corpus])
        if not check(r.returncode == 0, "%s: %s" % (c["pretok"], r.stderr.decode()[-300:])):
            continue
        d = json.load(open(out, encoding="utf-8"))
        vocab = sorted(d["model"]["vocab"].items(), key=lambda kv: kv[1])
        got_v, got_m = [s for s, _ in vocab], d["model"]["merges"]
        check(got_v == c["vocab"], "%s: vocabulary differs from HF's (%d vs %d tokens; first difference at %s)" % (
            c["pretok"], len(got_v), len(c["vocab"]),
            next((i for i, (a, b) in enumerate(zip(got_v, c["vocab"])) if a != b), "the end")))
        check(got_m == c["merges"], "%s: merges differ from HF's (%d vs %d; first difference at %s)" % (
            c["pretok"], len(got_m), len(c["merges"]),
            next((i for i, (a, b) in enumerate(zip(got_m, c["merges"])) if a != b), "the end")))
        check([a["content"] for a in d["added_tokens"]] == c["special"] and d["model"]["type"] == "BPE" and
              d["decoder"]["type"] == "ByteLevel", "%s: tokenizer.json structure" % c["pretok"])

    def bad(args, want, label):
        out = os.path.join(tmp, "bad.json")
        r = run(["train-tokenizer", "-o", out] + args)
        err = r.stderr.decode().strip().splitlines()
        check(r.returncode == 1 and err and want in err[-1] and not os.path.exists(out),
              "%s: rc %d %r" % (label, r.returncode, err))

    bad(["--vocab-size", "200", corpus], "smaller than the 0 special tokens plus 256", "vocabulary below the bytes")
    empty = os.path.join(tmp, "empty.txt")
    open(empty, "w").close()
    bad(["--vocab-size", "300", empty], "the corpus is empty", "empty corpus")
    bad(["--vocab-size", "300", "--pretok", "bert", corpus], "pre-tokenizer 'bert'", "unknown pre-tokenizer")
    done()


main()
