#!/usr/bin/env python3
"""Parallel-sequence aggregate throughput, side by side (issue 13): Kestrel's parallel mode against
llama.cpp's llama-batched-bench, same model, threads and shape: N sequences each prefill PP tokens
(prompt phase: N x PP tokens in batches of 2048 / ubatch 512), then TG steps decode one token per
sequence in one batch (N tokens a step). Aggregate figures: S_PP = N x PP / T_PP, S_TG = N x TG / T_TG.
Alternating runs, median of R; a markdown table per N with the ratios and the memory-bound figure of
the generation phase: one step reads the weights once (as bench/bench_llama.py counts them) plus each
sequence's KV cache at its mean length PP + TG/2 (bench_depth.kv_bytes_per_token), so a generated token
costs (weights + N x KV) / N bytes, against bench/membw's best bandwidth.

Kestrel's side assumes `kestrel bench -m F --parallel 1,2,4,8,16 -p PP -n TG -t T --json`; parse_kestrel()
is the one place to adapt to its real output (accepted now: a JSON list, or one JSON object per line, with
the keys of KESTREL_KEYS or llama-batched-bench's jsonl names pl / speed_pp / speed_tg).
llama.cpp: llama-batched-bench -m F -c N_max x (PP + TG) -b 2048 -ub 512 -npp PP -ntg TG -npl 1,2,...
-t T -fa FA --output-format jsonl; --fa off (default: the attention order Kestrel reproduces) or on
(llama.cpp's own CPU default), or off,on.
Usage: python bench/bench_batched.py /tmp/lcp-build/bin/llama-batched-bench --model M [--model M2 ...]
       [--npl 1,2,4,8,16] [--npp 128] [--ntg 128] [-t 2] [--runs 3] [--fa off] [--kestrel-args '-fa'] [--no-kestrel]
"""
import json, os, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_llama import ROOT, bytes_per_token, common_args, membw  # noqa: E402
from bench_depth import kv_bytes_per_token  # noqa: E402

# Kestrel's JSON names for: number of sequences, aggregate prompt tok/s, aggregate generation tok/s
KESTREL_KEYS = (("n_parallel", "parallel", "pl"), ("pp_tok_s", "speed_pp"), ("tg_tok_s", "speed_tg"))


def json_objects(text):
    """the JSON objects in a program's output: a JSON list, or one object per line among other lines"""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


def pick(obj, names):
    return next(obj[k] for k in names if k in obj)


def parse_kestrel(stdout):
    """{n: (S_PP, S_TG)} from `kestrel bench --parallel ... --json`"""
    out = {}
    for o in json_objects(stdout):
        out[int(pick(o, KESTREL_KEYS[0]))] = (float(pick(o, KESTREL_KEYS[1])), float(pick(o, KESTREL_KEYS[2])))
    return out


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return r


def kestrel(a, model):
    return parse_kestrel(run([a.kestrel, "bench", "-m", model, "--parallel", a.npl, "-p", str(a.npp), "-n", str(a.ntg),
                              "-t", str(a.t), "-r", "1", "--json"] + a.kestrel_args.split()).stdout)


def llama(a, model, fa):
    n_max = max(int(x) for x in a.npl.split(","))
    r = run([a.batched_bench, "-m", model, "-c", str(n_max * (a.npp + a.ntg)), "-b", "2048", "-ub", "512",
             "-npp", str(a.npp), "-ntg", str(a.ntg), "-npl", a.npl, "-t", str(a.t), "-fa", fa, "--output-format", "jsonl"])
    return {o["pl"]: (o["speed_pp"], o["speed_tg"]) for o in json_objects(r.stdout + "\n" + r.stderr)}


def main():
    ap = common_args("batched_bench", 3)
    ap.add_argument("--npl", default="1,2,4,8,16")
    ap.add_argument("--npp", type=int, default=128)
    ap.add_argument("--ntg", type=int, default=128)
    ap.add_argument("--fa", default="off", help="llama.cpp flash attention: off, on, or off,on")
    ap.add_argument("--kestrel-args", default="", help="extra `kestrel bench` flags, e.g. '-fa' or '-kvu'")
    ap.add_argument("--no-kestrel", action="store_true")
    a = ap.parse_args()
    models = a.model or [os.path.join(ROOT, "cache", "models", "smollm2-q4_0.gguf")]
    fas = a.fa.split(",")
    bw = membw(a.membw)
    res = {}
    for model in models:
        runs = {k: [] for k in ["kestrel"] + fas}
        for _ in range(a.runs):
            if not a.no_kestrel:
                runs["kestrel"].append(kestrel(a, model))
            for fa in fas:
                runs[fa].append(llama(a, model, fa))
            print(model, {k: v[-1] for k, v in runs.items() if v}, file=sys.stderr)
        res[model] = runs
    bw_after = membw(a.membw)
    ceil = max([x for x in (bw, bw_after) if x] or [0]) or None
    print("%d threads, PP %d, TG %d, median of %d alternating runs; membw best %s GB/s before, %s after" %
          (a.t, a.npp, a.ntg, a.runs, bw and "%.1f" % bw, bw_after and "%.1f" % bw_after))
    print()
    hdr = "| model | N | MB read/gen token | Kestrel S_PP | " + " | ".join("llama.cpp fa=%s S_PP | ratio" % f for f in fas)
    hdr += " | Kestrel S_TG | " + " | ".join("llama.cpp fa=%s S_TG | ratio" % f for f in fas)
    hdr += " | Kestrel GB/s (% of ceiling) | " + " | ".join("llama.cpp fa=%s GB/s (%% of ceiling)" % f for f in fas) + " |"
    print(hdr)
    print("|---|---:|---:|" + "---:|" * (3 + 4 * len(fas) + len(fas)))
    med = lambda runs, n, i: statistics.median(r[n][i] for r in runs) if runs and all(n in r for r in runs) else None
    f1 = lambda x: "%.1f" % x if x else "-"
    ratio = lambda k, l: "%.2f" % (k / l) if k and l else "-"
    for model, runs in res.items():
        w, kv = bytes_per_token(model), kv_bytes_per_token(model)
        for n in [int(x) for x in a.npl.split(",")]:
            b = (w + n * kv * (a.npp + a.ntg / 2)) / n
            gbs = lambda t: "-" if not t else ("%.1f" % (t * b / 1e9)) + (" (%.0f%%)" % (100 * t * b / 1e9 / ceil) if ceil else "")
            kp, kt = med(runs["kestrel"], n, 0), med(runs["kestrel"], n, 1)
            row = "| %s | %d | %.0f | %s | " % (os.path.basename(model), n, b / 1e6, f1(kp))
            row += " | ".join("%s | %s" % (f1(med(runs[f], n, 0)), ratio(kp, med(runs[f], n, 0))) for f in fas)
            row += " | %s | " % f1(kt)
            row += " | ".join("%s | %s" % (f1(med(runs[f], n, 1)), ratio(kt, med(runs[f], n, 1))) for f in fas)
            row += " | %s | " % gbs(kt) + " | ".join(gbs(med(runs[f], n, 1)) for f in fas) + " |"
            print(row)


if __name__ == "__main__":
    main()
