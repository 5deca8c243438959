"""`kestrel convert` on a real Hugging Face folder (tests/data/hf-tiny-llama: a random LLaMA saved
by transformers' save_pretrained in BF16, two shards, and a byte-level BPE trained by HF tokenizers;
made by tests/oracle/make_hf_tiny.py), checked against three oracles:

1. llama.cpp's convert_hf_to_gguf.py: Kestrel's file for each --outtype (f32, f16, bf16, q8_0) has
   the size and SHA-256 of llama.cpp's (tests/data/hf-tiny-llama-lcpp.json, made by
   tests/oracle/check_convert.py, which also diffs keys and tensors when they differ). Byte
   identity means same tensor names, shapes, types, bytes, metadata keys, values and order.
   The same for a Llama-3-style tokenizer variant of the folder (tests/e2e/ks_hf_variants.py:
   split regex, ignore_merges, BOS from TemplateProcessing; hf-tiny-llama3tok-lcpp.json).
2. Hugging Face tokenizers on tokenizer.json: `kestrel tokenize` gives the same ids for 7 strings,
   with both tokenizers (the variant's with BOS).
3. transformers (PyTorch, float32, eager attention) on the folder: Kestrel's next-token logits at
   every position of 3 prompts (57 positions x 320 tokens; logits span about -7..13).
   Tolerances, max |logit_kestrel - logit_hf|, measured on 2026-11-22 in brackets:
     f32  5e-3 [1.8e-3]: Kestrel's f16 KV cache, as llama.cpp's default (llama.cpp on the same
          file: 1.8e-3 too);
     f16  1e-2 [3.7e-3]: plus f16 rounding of the weights;
     bf16 5e-2 [2.4e-2]: the weights are the checkpoint's exactly, but the BF16 matmul rounds the
          activations to bf16, as ggml does;
     q8_0 (through `kestrel quantize HF_DIR OUT Q8_0`) 0.3 [0.12]: 8-bit weights and activations.
   Top-1 must agree at every position whose HF margin exceeds twice the tolerance.
Then bad folders (copies of the good one, damaged) must give one `kestrel:` line on stderr and
exit status 1: truncated shard, header length beyond the file, overlapping offsets, shape not
matching the bytes, bad JSON, missing config key, missing tokenizer, missing tensor."""
import base64, hashlib, json, os, shutil, struct, tempfile
import numpy as np
from ks_e2e import *

HF = os.path.join(DATA, "hf-tiny-llama")
golden = json.load(open(os.path.join(DATA, "hf-tiny-llama.json")))
lcpp = json.load(open(os.path.join(DATA, "hf-tiny-llama-lcpp.json")))
TOL = {"f32": 5e-3, "f16": 1e-2, "bf16": 5e-2, "q8_0": 0.3}


def compare_logits(path, tol, label, tmp):
    worst, clear, agree = 0.0, 0, 0
    for p in golden["prompts"]:
        ref = np.frombuffer(base64.b64decode(p["logits_f32_b64"]), dtype="<f4").reshape(len(p["ids"]), -1)
        out = os.path.join(tmp, "logits.bin")
        r = run(["logits", "-m", path, "--ids", " ".join(map(str, p["ids"])), "-o", out])
        if not check(r.returncode == 0, "%s: logits failed: %r" % (label, r.stderr[-300:])):
            return
        x = np.fromfile(out, dtype=np.float32)
        if not check(x.size == ref.size, "%s: %d logits, expected %d" % (label, x.size, ref.size)):
            return
        x = x.reshape(ref.shape)
        worst = max(worst, float(np.abs(x - ref).max()))
        top = np.sort(ref, axis=1)
        sure = (top[:, -1] - top[:, -2]) > 2 * tol
        clear += int(sure.sum())
        agree += int((x.argmax(1) == ref.argmax(1))[sure].sum())
    print("%-5s max |logit diff| vs transformers %.2e (tolerance %.0e), top-1 %d/%d clear positions"
          % (label, worst, tol, agree, clear))
    check(worst <= tol, "%s: logits differ from transformers by %.3g > %.3g" % (label, worst, tol))
    check(clear >= 40 and agree == clear, "%s: top-1 differs from transformers at a clear position" % label)


def one_line_error(r, words, what):
    err = r.stderr.decode("utf-8", "replace")
    lines = [l for l in err.splitlines() if l]
    ok = check(r.returncode == 1, "%s: exit %d (want 1; negative = killed by a signal): %s" % (what, r.returncode, err[-300:]))
    ok = ok and check(len(lines) == 1 and lines[0].startswith("kestrel: "), "%s: not one kestrel: line: %r" % (what, err))
    if ok:
        check(all(w in lines[0] for w in words), "%s: message %r lacks %r" % (what, lines[0], words))
    return ok


def shard_header(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_shard(path, header, data):
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)


with tempfile.TemporaryDirectory() as tmp:
    # 1. llama.cpp's converter: byte-identical files
    for ot in ("f32", "f16", "bf16", "q8_0"):
        out = os.path.join(tmp, "tiny-%s.gguf" % ot)
        r = run(["convert", HF, out, "--outtype", ot])
        if not check(r.returncode == 0, "convert --outtype %s: %r" % (ot, r.stderr[-300:])):
            continue
        raw = open(out, "rb").read()
        want = lcpp["outtypes"][ot]
        same = len(raw) == want["bytes"] and hashlib.sha256(raw).hexdigest() == want["sha256"]
        print("%-5s %d bytes, %s llama.cpp's convert_hf_to_gguf.py output" % (ot, len(raw), "identical to" if same else "DIFFERENT from"))
        check(same, "--outtype %s: not byte-identical to convert_hf_to_gguf.py (run tests/oracle/check_convert.py)" % ot)
    r = run(["convert", HF, os.path.join(tmp, "auto.gguf")])
    check(r.returncode == 0 and b"BF16 weights" in r.stderr and b"pre-tokenizer 'smollm'" in r.stderr,
          "default outtype is auto (BF16 for BF16 weights): %r" % r.stderr[-300:])

    # 2. tokenizer ids as HF tokenizers
    f32 = os.path.join(tmp, "tiny-f32.gguf")
    bad = 0
    for t in golden["tokenize"]:
        r = run(["tokenize", "-m", f32, "-p", t["text"], "--parse-special"])
        ids = [int(x) for x in r.stdout.decode().split()] if r.returncode == 0 else None
        if ids != t["ids"]:
            bad += 1
            print("FAIL tokenize %r: kestrel %s, HF tokenizers %s" % (t["text"], ids, t["ids"]))
    check(bad == 0, "%d of %d strings tokenized differently from HF tokenizers" % (bad, len(golden["tokenize"])))

    # the Llama-3-style tokenizer variant (tests/e2e/ks_hf_variants.py): llama.cpp's file and HF's ids
    import ks_hf_variants
    v_dir = ks_hf_variants.llama3tok(tmp)
    v_out = os.path.join(tmp, "llama3tok.gguf")
    r = run(["convert", v_dir, v_out, "--outtype", "f32"])
    if check(r.returncode == 0 and b"pre-tokenizer 'llama-bpe'" in r.stderr, "convert llama3tok: %r" % r.stderr[-300:]):
        raw = open(v_out, "rb").read()
        want = json.load(open(os.path.join(DATA, "hf-tiny-llama3tok-lcpp.json")))["outtypes"]["f32"]
        check(len(raw) == want["bytes"] and hashlib.sha256(raw).hexdigest() == want["sha256"],
              "llama3tok: not byte-identical to convert_hf_to_gguf.py")
        bad = 0
        for t in golden["tokenize_llama3tok"]:  # BOS added, as the TemplateProcessing says
            r = run(["tokenize", "-m", v_out, "-p", t["text"], "--parse-special"])
            ids = [int(x) for x in r.stdout.decode().split()] if r.returncode == 0 else None
            if ids != t["ids"]:
                bad += 1
                print("FAIL llama3tok tokenize %r: kestrel %s, HF tokenizers %s" % (t["text"], ids, t["ids"]))
        check(bad == 0, "llama3tok: %d strings tokenized differently from HF tokenizers" % bad)

    # 3. logits as transformers
    for ot in ("f32", "f16", "bf16"):
        compare_logits(os.path.join(tmp, "tiny-%s.gguf" % ot), TOL[ot], ot, tmp)
    q8 = os.path.join(tmp, "tiny-q8.gguf")
    r = run(["quantize", HF, q8, "Q8_0"])
    check(r.returncode == 0 and os.path.exists(q8), "quantize HF_DIR Q8_0: %r" % r.stderr[-300:])
    check(not [n for n in os.listdir(tmp) if n.startswith(".")], "quantize left its temporary F32 GGUF behind")
    if r.returncode == 0:
        compare_logits(q8, TOL["q8_0"], "q8_0", tmp)
    r = run(["generate", "-m", f32, "-p", "The quick brown", "-n", "8", "--temp", "0"])
    check(r.returncode == 0, "generate on the converted model: %r" % r.stderr[-300:])

    # bad folders
    def bad_folder(name, damage, words):
        d = os.path.join(tmp, name)
        shutil.copytree(HF, d)
        damage(d)
        out = os.path.join(tmp, name + ".gguf")
        r = run(["convert", d, out])
        one_line_error(r, words, name)
        check(not os.path.exists(out) and not [n for n in os.listdir(tmp) if n.startswith(".")], "%s: output left behind" % name)

    s2 = "model-00002-of-00002.safetensors"

    def truncate(d):
        p = os.path.join(d, s2)
        raw = open(p, "rb").read()
        open(p, "wb").write(raw[:len(raw) // 2])

    def huge_header(d):
        p = os.path.join(d, s2)
        raw = open(p, "rb").read()
        open(p, "wb").write(struct.pack("<Q", 1 << 40) + raw[8:])

    def overlap(d):  # the second tensor in file order moved 2 bytes into the first
        p = os.path.join(d, s2)
        h, data = shard_header(p)
        second = sorted((v["data_offsets"][0], k) for k, v in h.items() if k != "__metadata__")[1][1]
        h[second]["data_offsets"] = [x - 2 for x in h[second]["data_offsets"]]
        write_shard(p, h, data)

    def shape_mismatch(d):
        p = os.path.join(d, s2)
        h, data = shard_header(p)
        k = sorted(k for k in h if k != "__metadata__")[0]
        h[k]["shape"] = [h[k]["shape"][0] + 1] + h[k]["shape"][1:]
        write_shard(p, h, data)

    def edit_json(name, fn):
        def damage(d):
            p = os.path.join(d, name)
            fn(p)
        return damage

    bad_folder("truncated", truncate, ["truncated", s2])
    bad_folder("huge_header", huge_header, ["header length 1099511627776 exceeds"])
    bad_folder("overlap", overlap, ["overlap"])
    bad_folder("shape", shape_mismatch, ["bytes of data for"])
    bad_folder("bad_json", edit_json("config.json", lambda p: open(p, "a").write("}")), ["config.json: not valid JSON"])
    bad_folder("no_heads", edit_json("config.json", lambda p: json.dump(
        {k: v for k, v in json.load(open(p)).items() if k != "num_attention_heads"}, open(p + ".new", "w")) or os.replace(p + ".new", p)),
        ["missing 'num_attention_heads'"])
    bad_folder("no_tokenizer", lambda d: os.remove(os.path.join(d, "tokenizer.json")), ["no tokenizer.json"])
    # a FIFO (or device) named config.json is refused by name, without blocking on it
    bad_folder("fifo_config", lambda d: os.remove(os.path.join(d, "config.json")) or os.mkfifo(os.path.join(d, "config.json")),
               ["config.json is not a regular file"])
    bad_folder("no_index_entry", edit_json("model.safetensors.index.json", lambda p: json.dump(
        {"weight_map": {k: v for k, v in json.load(open(p))["weight_map"].items() if "up_proj" not in k}}, open(p + ".new", "w"))
        or os.replace(p + ".new", p)), ["model.safetensors.index.json lists"])
    one_line_error(run(["convert", os.path.join(tmp, "nowhere"), os.path.join(tmp, "x.gguf")]), ["not a folder"], "no folder")
    r = run(["convert", HF])
    check(r.returncode == 2, "convert with one argument: exit %d" % r.returncode)
    r = run(["convert", HF, os.path.join(tmp, "x.gguf"), "--outtype", "q4_0"])
    check(r.returncode == 2 and b"--outtype" in r.stderr, "convert --outtype q4_0: %r" % r.stderr)
done()
