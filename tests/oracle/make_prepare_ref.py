#!/usr/bin/env python3
"""Reference for `kestrel prepare-data` (tests/e2e/test_prepare_data.py): HF tokenizers' ids for a corpus.

Usage: .venv/bin/python tests/oracle/make_prepare_ref.py   (tokenizers, numpy)

Corpus: tests/data/ppl-gpl3.txt repeated 8 times as one text file (1.4 MB: more than one of
prepare-data's 16 KB chunks), then a JSONL file of the documents listed in the output. The tokenizer is
tests/data/hf-tiny-llama/tokenizer.json (converted to GGUF by the test with `kestrel convert`). Writes
tests/data/train-ref/prepare-data.json: the documents, the EOS id, and the count and SHA-256 of the
expected token stream (each document's ids, then EOS; little-endian u16), so the test needs no tokenizers.
"""
import hashlib, json, os

import numpy as np
from tokenizers import Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS = ["Document %d: hello world, café!\n  an indented line\n\nand a paragraph." % i for i in range(40)] + \
       ["", "   leading spaces", "日本語 and русский, 1234 digits", "<|im_end|> is plain text here"]


def main():
    tok = Tokenizer.from_file(os.path.join(ROOT, "tests", "data", "hf-tiny-llama", "tokenizer.json"))
    eos = tok.token_to_id("<|im_end|>")
    tok.encode_special_tokens = True
    text = open(os.path.join(ROOT, "tests", "data", "ppl-gpl3.txt"), encoding="utf-8").read() * 8
    ids = []
    for d in [text] + DOCS:
        # plain text: special-token text is not parsed (kestrel prepare-data tokenizes without parse_special)
        ids += tok.encode(d, add_special_tokens=False).ids + [eos]
    blob = np.asarray(ids, dtype="<u2").tobytes()
    out = {"text_repeat": 8, "docs": DOCS, "eos": eos, "n_tokens": len(ids), "sha256": hashlib.sha256(blob).hexdigest()}
    with open(os.path.join(ROOT, "tests", "data", "train-ref", "prepare-data.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(out["n_tokens"], out["sha256"])


if __name__ == "__main__":
    main()
