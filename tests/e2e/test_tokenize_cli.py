"""`kestrel tokenize` against llama.cpp's ids for SmolLM2 (tests/data/smollm2-tokenizer.*):
the file is read byte for byte (-f), --no-bos adds nothing; --parse-special turns special-token
text into its token; --pieces prints vocabulary strings."""
import os, tempfile
from ks_e2e import *

model = need_model()
inp = open(os.path.join(DATA, "smollm2-tokenizer.inp"), encoding="utf-8", newline="").read()
strings = inp.split("\n__ggml_vocab_test__\n")[:-1]
outs = open(os.path.join(DATA, "smollm2-tokenizer.out"), encoding="utf-8").read().split("\n")
n_ok = 0
with tempfile.TemporaryDirectory() as tmp:
    for i in range(0, len(strings), 7):  # every 7th: ~60 process runs
        path = os.path.join(tmp, "t.txt")
        with open(path, "wb") as f:
            f.write(strings[i].encode("utf-8"))
        r = run(["tokenize", "-m", model, "-f", path, "--no-bos"])
        got = r.stdout.decode().split()
        want = outs[i].split()
        n_ok += check(r.returncode == 0 and got == want, "string %d %r: got %s want %s" % (i, strings[i][:40], got[:20], want[:20]))
r = run(["tokenize", "-m", model, "-p", "<|im_start|>user", "--parse-special"])
ids = r.stdout.decode().split()
check(ids[:1] == ["1"], "--parse-special: <|im_start|> -> 1, got %s" % ids)
r = run(["tokenize", "-m", model, "-p", "<|im_start|>user"])
check(r.stdout.decode().split()[:1] != ["1"], "without --parse-special special text stays plain")
r = run(["tokenize", "-m", model, "-p", "Hello world", "--pieces"])
check(r.stdout.decode().strip() == "Hello Ġworld", "--pieces: %r" % r.stdout.decode())
r = run(["tokenize", "-m", os.path.join(SHARED, "testdata", "tokenizers", "ggml-vocab-llama-spm.gguf"), "-p", "Hello"])
check(r.stdout.decode().split()[:1] == ["1"], "SPM vocab adds BOS by default: %r" % r.stdout.decode())
r = run(["tokenize", "-m", os.path.join(SHARED, "testdata", "tokenizers", "ggml-vocab-llama-spm.gguf"), "-p", "Hello", "--no-bos"])
check(r.stdout.decode().split()[:1] != ["1"], "--no-bos adds nothing")
print("tokenize cli: %d strings identical to llama.cpp" % n_ok)
done()
