#!/usr/bin/env python3
"""Compares `kestrel convert` with llama.cpp's convert_hf_to_gguf.py on a Hugging Face folder:
same metadata keys and values, same tensor names, shapes, types and bytes, per --outtype.

Needs the environment of tests/oracle/requirements-hf.txt plus a llama.cpp source tree (its
convert_hf_to_gguf.py and gguf-py/), e.g. the one vendored in the llama-cpp-python sdist:
    cache/hfvenv/bin/python tests/oracle/check_convert.py LLAMA_CPP_DIR [HF_DIR] [--outtype f32 ...]
        [--golden tests/data/hf-tiny-llama-lcpp.json]
--golden records the size and SHA-256 of llama.cpp's file per --outtype (and whether Kestrel's
was byte-identical), so tests/e2e/test_hf_convert.py can check Kestrel against it with numpy only.
The committed goldens:
    check_convert.py LLAMA_CPP_DIR --golden tests/data/hf-tiny-llama-lcpp.json
    python3 tests/e2e/ks_hf_variants.py /tmp/v    # -> /tmp/v/hf-tiny-llama3tok
    check_convert.py LLAMA_CPP_DIR /tmp/v/hf-tiny-llama3tok --outtype f32 --golden tests/data/hf-tiny-llama3tok-lcpp.json
(the folder's name matters: general.name is made from it).

llama.cpp names the pre-tokenizer by hashing a tokenization and refuses tokenizers it has not
seen (a tokenizer trained for a test is never in its table); this script then passes it the name
Kestrel derived from tokenizer.json, so that everything else is compared. general.* authorship
keys that llama.cpp guesses from the folder name and model card (name, basename, finetune,
size_label, ...) are listed but not counted as differences when only one side has them.
"""
import argparse, hashlib, json, os, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KESTREL = os.environ.get("KS_BIN", os.path.join(ROOT, "build", "kestrel"))
DESCRIPTIVE = ("general.name", "general.basename", "general.finetune", "general.size_label", "general.version",
               "general.organization", "general.license", "general.tags", "general.languages", "general.base_model.")


def run_llama_convert(lcpp, hf_dir, out, outtype, pre):
    code = r"""
import sys
sys.argv = [sys.argv[0]] + sys.argv[3:]
sys.path.insert(0, %r)
sys.path.insert(1, %r)
import conversion.base as b
orig = b.TextModel.get_vocab_base_pre
def pre(self, tokenizer):
    try:
        return orig(self, tokenizer)
    except NotImplementedError:
        return %r
b.TextModel.get_vocab_base_pre = pre
import runpy
runpy.run_path(%r, run_name="__main__")
""" % (lcpp, os.path.join(lcpp, "gguf-py"), pre, os.path.join(lcpp, "convert_hf_to_gguf.py"))
    r = subprocess.run([sys.executable, "-c", code, "x", "y", hf_dir, "--outfile", out, "--outtype", outtype],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit("convert_hf_to_gguf.py failed:\n" + r.stderr[-3000:])


def fields(path):
    import gguf
    rd = gguf.GGUFReader(path)
    kv = {}
    for name, f in rd.fields.items():
        if name.startswith("GGUF."):
            continue
        kv[name] = f.contents()
    tensors = {t.name: (t.tensor_type.name, [int(x) for x in t.shape], bytes(t.data.tobytes())) for t in rd.tensors}
    order = [t.name for t in rd.tensors]
    return kv, tensors, order


def compare(a_path, b_path):
    ka, ta, oa = fields(a_path)
    kb, tb, ob = fields(b_path)
    diffs = 0
    for k in sorted(set(ka) | set(kb)):
        if k not in ka or k not in kb:
            side = "llama.cpp only" if k in ka else "kestrel only"
            desc = k.startswith(DESCRIPTIVE)
            print("  %-45s %s%s: %r" % (k, side, " (descriptive)" if desc else "", (ka.get(k, kb.get(k)))))
            diffs += 0 if desc else 1
        elif ka[k] != kb[k]:
            if isinstance(ka[k], float) and abs(ka[k] - kb[k]) <= 1e-7 * abs(ka[k]):
                continue
            va, vb = repr(ka[k]), repr(kb[k])
            print("  %-45s differs: llama.cpp %s | kestrel %s" % (k, va[:120], vb[:120]))
            diffs += 1
    for n in sorted(set(ta) | set(tb)):
        if n not in ta or n not in tb:
            print("  tensor %s only in %s" % (n, "llama.cpp" if n in ta else "kestrel"))
            diffs += 1
        elif ta[n][:2] != tb[n][:2]:
            print("  tensor %s: llama.cpp %s %s, kestrel %s %s" % (n, ta[n][0], ta[n][1], tb[n][0], tb[n][1]))
            diffs += 1
        elif ta[n][2] != tb[n][2]:
            nd = sum(x != y for x, y in zip(ta[n][2], tb[n][2]))
            print("  tensor %s: %d of %d bytes differ" % (n, nd, len(ta[n][2])))
            diffs += 1
    if oa != ob:
        print("  tensor order differs (not counted)")
    return diffs, len(ka), len(ta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("llama_cpp_dir")
    ap.add_argument("hf_dir", nargs="?", default=os.path.join(ROOT, "tests", "data", "hf-tiny-llama"))
    ap.add_argument("--outtype", action="append")
    ap.add_argument("--keep", help="directory to keep the GGUFs in")
    ap.add_argument("--golden", help="write llama.cpp's file sizes and SHA-256 here (JSON)")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.llama_cpp_dir, "gguf-py"))
    total = 0
    golden = {"llama_cpp": "/".join(os.path.abspath(a.llama_cpp_dir).split("/")[-3:]), "hf_dir": os.path.basename(os.path.normpath(a.hf_dir)), "outtypes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = a.keep or tmp
        for ot in a.outtype or ["f32", "f16", "bf16", "q8_0"]:
            ks = os.path.join(tmp, "kestrel-%s.gguf" % ot)
            lc = os.path.join(tmp, "llama-%s.gguf" % ot)
            r = subprocess.run([KESTREL, "convert", a.hf_dir, ks, "--outtype", ot], capture_output=True, text=True)
            if r.returncode:
                sys.exit("kestrel convert failed: " + r.stderr)
            import gguf
            pre = gguf.GGUFReader(ks).fields["tokenizer.ggml.pre"].contents()
            run_llama_convert(a.llama_cpp_dir, a.hf_dir, lc, ot, pre)
            print("--outtype %s (pre-tokenizer %r):" % (ot, pre))
            d, nk, nt = compare(lc, ks)
            print("  %d differences over %d keys and %d tensors" % (d, nk, nt))
            total += d
            raw = open(lc, "rb").read()
            golden["outtypes"][ot] = {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest(), "pre": pre,
                                      "kestrel_identical": raw == open(ks, "rb").read()}
    print("total differences: %d" % total)
    if a.golden:
        with open(a.golden, "w") as f:
            json.dump(golden, f, indent=1)
            f.write("\n")
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
