#!/usr/bin/env python3
"""Reference for `kestrel train-tokenizer` (tests/e2e/test_train_tokenizer.py): HF tokenizers' BPE training.

Usage: .venv/bin/python tests/oracle/make_bpe_ref.py   (tokenizers)

On tests/data/ppl-gpl3.txt (35 KB of prose), trains
  - gpt2:   ByteLevelBPETokenizer().train(files, vocab_size=1000, min_frequency=2, special_tokens=[<s>, <pad>, </s>])
  - llama3: BpeTrainer(vocab_size=600, min_frequency=3, special_tokens=[<|endoftext|>], ByteLevel alphabet) with
            Split(Llama 3's regex, isolated) + ByteLevel(use_regex=False), the pre-tokenizer Kestrel writes for
            --pretok llama3
and writes tests/data/train-ref/bpe.json: per case the settings, the vocabulary (strings in id order) and the
merges (pairs in rank order), as HF saves them.
"""
import json, os, tempfile

from tokenizers import ByteLevelBPETokenizer, Regex, Tokenizer, models, pre_tokenizers, trainers

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "data", "ppl-gpl3.txt")
# Llama 3's pre-tokenizer regex (its tokenizer.json; Kestrel's RE_LLAMA3)
RE_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
             r"\s+(?!\S)|\s+")


def saved(tok):
    with tempfile.TemporaryDirectory() as d:
        tok.save(os.path.join(d, "t.json"))
        m = json.load(open(os.path.join(d, "t.json"), encoding="utf-8"))["model"]
    vocab = sorted(m["vocab"].items(), key=lambda kv: kv[1])
    assert [i for _, i in vocab] == list(range(len(vocab)))
    return [s for s, _ in vocab], m["merges"]


def main():
    cases = []
    t = ByteLevelBPETokenizer()
    special = ["<s>", "<pad>", "</s>"]
    t.train([CORPUS], vocab_size=1000, min_frequency=2, special_tokens=special, show_progress=False)
    v, m = saved(t)
    cases.append({"pretok": "gpt-2", "vocab_size": 1000, "min_frequency": 2, "special": special, "vocab": v, "merges": m})

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(RE_LLAMA3), behavior="isolated"),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    special = ["<|endoftext|>"]
    tok.train([CORPUS], trainers.BpeTrainer(vocab_size=600, min_frequency=3, special_tokens=special,
                                            show_progress=False, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    v, m = saved(tok)
    cases.append({"pretok": "llama3", "vocab_size": 600, "min_frequency": 3, "special": special, "vocab": v, "merges": m})
    with open(os.path.join(ROOT, "tests", "data", "train-ref", "bpe.json"), "w", encoding="utf-8") as f:
        json.dump({"corpus": "ppl-gpl3.txt", "cases": cases}, f, ensure_ascii=False)
        f.write("\n")
    print([(c["pretok"], len(c["vocab"]), len(c["merges"])) for c in cases])


if __name__ == "__main__":
    main()
