#!/usr/bin/env python3
"""Side-by-side generation speed: Kestrel vs llama.cpp (llama-cpp-python) on the same GGUF,
same threads, same prompt, alternating runs; prints medians and ratios as a markdown table.

llama.cpp's figures come from its own timers (llama_perf_context: prompt eval and eval),
Kestrel's from the speed line `kestrel generate` prints. Both decode greedily and ignore
end-of-generation tokens, so both generate exactly n tokens.

Usage: python bench/bench_generate.py [--model M] [--threads 2] [--n 128] [--runs 5]
Needs: llama-cpp-python (pip install -r tests/oracle/requirements.txt) and a built kestrel.
"""
import argparse, os, re, statistics, subprocess, sys, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PROMPT = ("The history of the kestrel, a small falcon found across Europe, Asia and Africa, is closely tied to "
          "open farmland. It hunts by hovering in the wind, scanning the ground for voles, mice and insects, "
          "then dropping onto its prey. In this essay we describe its behaviour, its range and its diet, and")


def kestrel_run(binary, model, threads, n):
    r = subprocess.run([binary, "generate", "-m", model, "-p", PROMPT, "-n", str(n), "--temp", "0", "--ignore-eos",
                        "-t", str(threads)], capture_output=True, check=True)
    # "prompt N tokens, X tok/s | generation N tokens, Y tok/s | ..." (colons, case and spacing optional)
    m = re.search(rb"(?i)prompt:?\s*(\d+)\s*tokens?,?\s*([\d.]+)\s*tok/s.*?generation:?\s*(\d+)\s*tokens?,?\s*([\d.]+)\s*tok/s",
                  r.stderr)
    if not m:
        sys.exit("cannot parse kestrel speed line: %r" % r.stderr[-300:])
    return float(m.group(2)), float(m.group(4)), int(m.group(1))


def llama_run(llm, llama_cpp, n):
    import numpy as np
    ids = llm.tokenize(PROMPT.encode(), add_bos=False, special=True)
    llm.reset()
    llama_cpp.llama_perf_context_reset(llm.ctx)
    llm.eval(ids)
    for _ in range(n):
        t = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        llm.eval([t])
    p = llama_cpp.llama_perf_context(llm.ctx)
    return p.n_p_eval / (p.t_p_eval_ms / 1000.0), p.n_eval / (p.t_eval_ms / 1000.0), len(ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--kestrel", default=os.path.join(ROOT, "build", "kestrel"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    import llama_cpp
    from llama_cpp import Llama
    llm = Llama(a.model, n_ctx=512, n_batch=512, n_threads=a.threads, n_threads_batch=a.threads,
                logits_all=True, verbose=False)
    ks, ll = [], []
    kestrel_run(a.kestrel, a.model, a.threads, 8)  # warm the page cache
    llama_run(llm, llama_cpp, 8)
    for i in range(a.runs):
        ks.append(kestrel_run(a.kestrel, a.model, a.threads, a.n))
        ll.append(llama_run(llm, llama_cpp, a.n))
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    print("model: %s, threads %d, prompt %d tokens, %d generated, median of %d alternating runs"
          % (os.path.basename(a.model), a.threads, ks[0][2], a.n, a.runs))
    print("llama-cpp-python %s" % llama_cpp.__version__)
    print()
    print("| engine | prompt tok/s | generation tok/s |")
    print("|---|---|---|")
    print("| Kestrel | %.1f | %.1f |" % (med(ks, 0), med(ks, 1)))
    print("| llama.cpp | %.1f | %.1f |" % (med(ll, 0), med(ll, 1)))
    print("| ratio Kestrel / llama.cpp | %.2f | %.2f |" % (med(ks, 0) / med(ll, 0), med(ks, 1) / med(ll, 1)))


if __name__ == "__main__":
    main()
