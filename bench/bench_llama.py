#!/usr/bin/env python3
"""Side-by-side llama-bench-style figures: `kestrel bench --json` and llama.cpp's llama-bench
on the same GGUF with the same threads, alternating, median of R runs each; prints a
markdown table with the ratios, and generation's share of the memory-bandwidth ceiling
(bench/membw.c, run in the same invocation: ceiling = best GB/s / weight bytes read per
token, i.e. every matmul weight once: all tensors but the token embedding, unless the
output head is tied to it). Several --model options give one row each.

llama-bench is built from the llama.cpp sources vendored in the llama-cpp-python sdist
(see tests/oracle/check_perplexity.py for the three commands; target llama-bench; with
CC=clang CXX=clang++ on CPUs with AMX, where the GCC 12 build crashes in ggml's AMX path).
Usage: python bench/bench_llama.py LLAMA_BENCH [--model M ...] [-p 512] [-n 128] [-t 2] [--runs 5]
       [--membw build/membw]   (models: bash bench/prepare_models.sh)
"""
import argparse, json, os, statistics, subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def kestrel(a, model):
    r = subprocess.run([a.kestrel, "bench", "-m", model, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "--json"],
                       capture_output=True, text=True, check=True)
    j = json.loads(r.stdout)
    return j["pp_tok_s"], j["tg_tok_s"]


def llama(a, model):
    r = subprocess.run([a.llama_bench, "-m", model, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "-o", "json"],
                       capture_output=True, text=True, check=True)
    rows = json.loads(r.stdout)
    pp = next(x["avg_ts"] for x in rows if x["n_prompt"] > 0 and x["n_gen"] == 0)
    tg = next(x["avg_ts"] for x in rows if x["n_gen"] > 0 and x["n_prompt"] == 0)
    return pp, tg


def bytes_per_token(model):
    """weight bytes one generated token reads: every tensor except the token embedding
    (a row lookup), which counts when the output head is tied to it"""
    from gguf import GGUFReader
    r = GGUFReader(model)
    names = {t.name: int(t.n_bytes) for t in r.tensors}
    total = sum(names.values())
    if "output.weight" in names:
        total -= names.get("token_embd.weight", 0)
    return total


def membw(path):
    if not path or not os.path.exists(path):
        return None
    out = subprocess.run([path, "1024"], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1].split()[1])


def common_args(tool, runs):
    """the options the side-by-side drivers share: the llama.cpp tool, models, binaries, threads, runs"""
    ap = argparse.ArgumentParser()
    ap.add_argument(tool)
    ap.add_argument("--model", action="append")
    ap.add_argument("--kestrel", default=os.path.join(ROOT, "build", "kestrel"))
    ap.add_argument("--membw", default=os.path.join(ROOT, "build", "membw"))
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("--runs", type=int, default=runs)
    return ap


def main():
    ap = common_args("llama_bench", 5)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    a = ap.parse_args()
    models = a.model or [os.path.join(ROOT, "cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")]
    bw = membw(a.membw)
    rows = []
    for model in models:
        ks, ll = [], []
        for _ in range(a.runs):
            ks.append(kestrel(a, model))
            ll.append(llama(a, model))
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        rows.append((os.path.basename(model), bytes_per_token(model), med(ks, 0), med(ll, 0), med(ks, 1), med(ll, 1)))
    bw_after = membw(a.membw)
    print("%d threads, median of %d alternating runs; membw best %s GB/s before, %s after" %
          (a.t, a.runs, bw and "%.1f" % bw, bw_after and "%.1f" % bw_after))
    print()
    print("| model | MB read/token | Kestrel pp%d | llama.cpp pp%d | ratio | Kestrel tg%d | llama.cpp tg%d | ratio | "
          "Kestrel GB/s (%% of ceiling) | llama.cpp GB/s (%% of ceiling) |" % (a.p, a.p, a.n, a.n))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ceil = max(x for x in (bw, bw_after) if x) if (bw or bw_after) else None
    for name, b, kp, lp, kt, lt in rows:
        gk, gl = kt * b / 1e9, lt * b / 1e9
        pc = (lambda g: " (%.0f%%)" % (100 * g / ceil)) if ceil else (lambda g: "")
        print("| %s | %.0f | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.1f%s | %.1f%s |" %
              (name, b / 1e6, kp, lp, kp / lp, kt, lt, kt / lt, gk, pc(gk), gl, pc(gl)))


if __name__ == "__main__":
    main()
