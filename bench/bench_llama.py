#!/usr/bin/env python3
"""Side-by-side llama-bench-style figures: `kestrel bench --json` and llama.cpp's llama-bench
on the same GGUF with the same threads, alternating, median of R runs each; prints a
markdown table with the ratios.

llama-bench is built from the llama.cpp sources vendored in the llama-cpp-python sdist
(see tests/oracle/check_perplexity.py for the three commands; target llama-bench).
Usage: python bench/bench_llama.py LLAMA_BENCH [--model M] [-p 512] [-n 128] [-t 2] [--runs 5]
"""
import argparse, json, os, statistics, subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def kestrel(a):
    r = subprocess.run([a.kestrel, "bench", "-m", a.model, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "--json"],
                       capture_output=True, text=True, check=True)
    j = json.loads(r.stdout)
    return j["pp_tok_s"], j["tg_tok_s"]


def llama(a):
    r = subprocess.run([a.llama_bench, "-m", a.model, "-p", str(a.p), "-n", str(a.n), "-t", str(a.t), "-r", "1", "-o", "json"],
                       capture_output=True, text=True, check=True)
    rows = json.loads(r.stdout)
    pp = next(x["avg_ts"] for x in rows if x["n_prompt"] > 0 and x["n_gen"] == 0)
    tg = next(x["avg_ts"] for x in rows if x["n_gen"] > 0 and x["n_prompt"] == 0)
    return pp, tg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("llama_bench")
    ap.add_argument("--model", default=os.path.join(ROOT, "cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--kestrel", default=os.path.join(ROOT, "build", "kestrel"))
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    ks, ll = [], []
    for _ in range(a.runs):
        ks.append(kestrel(a))
        ll.append(llama(a))
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    print("model %s, %d threads, median of %d alternating runs" % (os.path.basename(a.model), a.t, a.runs))
    print()
    print("| engine | pp%d tok/s | tg%d tok/s |" % (a.p, a.n))
    print("|---|---|---|")
    print("| Kestrel | %.1f | %.1f |" % (med(ks, 0), med(ks, 1)))
    print("| llama.cpp (llama-bench) | %.1f | %.1f |" % (med(ll, 0), med(ll, 1)))
    print("| ratio | %.2f | %.2f |" % (med(ks, 0) / med(ll, 0), med(ks, 1) / med(ll, 1)))


if __name__ == "__main__":
    main()
