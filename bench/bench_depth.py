#!/usr/bin/env python3
"""Generation after a long context and long-prompt processing, side by side (issue 13):
`kestrel bench -p 0 -n N -d D` / `-p P -n 0` against llama.cpp's llama-bench with the same
arguments (-d: tokens already in the KV cache before the timed generation, llama-bench's --n-depth;
its depth prefill is not timed). Alternating runs, median of R; a markdown table with the ratios and
the memory-bound figure of generation at depth D: bytes read per generated token = weights (as in
bench/bench_llama.py) + the KV cache of D tokens (n_layer x D x 2 x n_head_kv x head_dim x 2 bytes,
F16 K and V), against bench/membw's best bandwidth.

llama.cpp's flash attention: --fa off (the attention order Kestrel reproduces, default) or on (what
llama-bench picks by itself on a CPU: auto = on); both: --fa off,on (one llama.cpp column each).
Until `kestrel bench` has -d, --kestrel-depth 0 runs Kestrel's generation from an empty cache (labelled
d0 in the table): a baseline, not a like-for-like figure. --no-kestrel runs llama.cpp only.

Models: bash bench/prepare_models.sh (cache/bench/random-hd128-q4_0.gguf, random-hd256-q4_0.gguf; head
size 64 is SmolLM2, cache/models/smollm2-q4_0.gguf). llama-bench: bash bench/build_llama_cpp.sh.
Usage: python bench/bench_depth.py /tmp/lcp-build/bin/llama-bench --model M [--model M2 ...]
       [-d 4096] [-n 32] [-p 4096] [-t 2] [--runs 3] [--fa off] [--kestrel-fa off] [--kestrel-depth D] [--no-kestrel]
"""
import json, os, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_llama import ROOT, bytes_per_token, common_args, membw  # noqa: E402


def kv_bytes_per_token(model, kv_elem_bytes=2):
    """bytes of K and V one cached token holds (all layers)"""
    from gguf import GGUFReader
    f = GGUFReader(model).fields
    arch = f["general.architecture"].contents()
    get = lambda k, d=None: f[arch + "." + k].contents() if (arch + "." + k) in f else d
    n_head = get("attention.head_count")
    head_k = get("attention.key_length", get("embedding_length") // n_head)
    head_v = get("attention.value_length", head_k)
    return get("block_count") * get("attention.head_count_kv", n_head) * (head_k + head_v) * kv_elem_bytes


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return json.loads(r.stdout)


def kestrel(a, model, p, n, d, fa="off"):
    """tok/s of `kestrel bench` (its --json: pp_tok_s, tg_tok_s); d None = no -d flag; fa on: -fa"""
    cmd = [a.kestrel, "bench", "-m", model, "-p", str(p), "-n", str(n), "-t", str(a.t), "-r", "1", "--json"]
    if d:
        cmd += ["-d", str(d)]
    if fa == "on":
        cmd.append("-fa")
    j = run_json(cmd)
    return j["pp_tok_s"] if p else j["tg_tok_s"]


def llama(a, model, p, n, d, fa):
    rows = run_json([a.llama_bench, "-m", model, "-p", str(p), "-n", str(n), "-d", str(d), "-t", str(a.t),
                     "-r", str(a.llama_reps), "-fa", fa, "-o", "json"])
    return rows[0]["avg_ts"]


def main():
    ap = common_args("llama_bench", 3)
    ap.add_argument("-d", type=int, default=4096)
    ap.add_argument("-n", type=int, default=32)
    ap.add_argument("-p", type=int, default=4096, help="prompt-processing test (from an empty cache); 0: none")
    ap.add_argument("--llama-reps", type=int, default=1, help="llama-bench -r per run (its depth prefill is paid once)")
    ap.add_argument("--fa", default="off", help="llama.cpp flash attention: off, on, or off,on")
    ap.add_argument("--kestrel-depth", type=int, help="depth for Kestrel's run (default -d; 0: before it has -d)")
    ap.add_argument("--kestrel-fa", default="off", help="Kestrel's attention: off (exact order, default), on (-fa), "
                    "or off,on; each Kestrel column is compared with llama.cpp's column of the same setting if run")
    ap.add_argument("--no-kestrel", action="store_true")
    a = ap.parse_args()
    models = a.model or [os.path.join(ROOT, "cache", "models", "smollm2-q4_0.gguf")]
    fas = a.fa.split(",")
    kfas = a.kestrel_fa.split(",")
    kcol = lambda f: "kestrel" if f == "off" else "kestrel-fa"
    kd = a.d if a.kestrel_depth is None else a.kestrel_depth
    bw = membw(a.membw)
    tests = [("tg%d @ d%d" % (a.n, a.d), 0, a.n, a.d)] + ([("pp%d" % a.p, a.p, 0, 0)] if a.p else [])
    res = {}  # (model, test) -> {"kestrel": [...], fa: [...]}
    for model in models:
        for name, p, n, d in tests:
            r = res.setdefault((model, name), {k: [] for k in [kcol(f) for f in kfas] + fas})
            for _ in range(a.runs):
                for f in ([] if a.no_kestrel else kfas):
                    r[kcol(f)].append(kestrel(a, model, p, n, kd if d else 0, f))
                for fa in fas:
                    r[fa].append(llama(a, model, p, n, d, fa))
                print(model, name, {k: v[-1] for k, v in r.items() if v}, file=sys.stderr)
    bw_after = membw(a.membw)
    ceil = max([x for x in (bw, bw_after) if x] or [0]) or None
    print("%d threads, median of %d alternating runs; membw best %s GB/s before, %s after; Kestrel at depth %d" %
          (a.t, a.runs, bw and "%.1f" % bw, bw_after and "%.1f" % bw_after, kd))
    print()
    med = lambda xs: statistics.median(xs) if xs else None
    kname = {"off": "Kestrel", "on": "Kestrel -fa"}
    hdr = "| model | test | MB read/token |" + "".join(" %s t/s |" % kname[f] for f in kfas)
    hdr += "".join(" llama.cpp fa=%s t/s |" % f for f in fas)
    pairs = [(f, f) for f in kfas if f in fas]  # like for like: same attention kind
    hdr += "".join(" %s / llama fa=%s |" % (kname[f], g) for f, g in pairs)
    hdr += "".join(" %s GB/s (%% of ceiling) |" % kname[f] for f in kfas)
    hdr += "".join(" llama.cpp fa=%s GB/s (%% of ceiling) |" % f for f in fas)
    print(hdr)
    print("|---|---|" + "---:|" * (1 + 2 * len(kfas) + 2 * len(fas) + len(pairs)))
    for (model, name), r in res.items():
        d = next(t[3] for t in tests if t[0] == name)
        gen = name.startswith("tg")
        w, kv = bytes_per_token(model), kv_bytes_per_token(model)
        b, bk = w + (d * kv if gen else 0), w + (kd * kv if gen else 0)  # llama.cpp's and Kestrel's depth
        gbs = lambda t, b: ("%.1f" % (t * b / 1e9)) + (" (%.0f%%)" % (100 * t * b / 1e9 / ceil) if ceil else "")
        ks = {f: med(r[kcol(f)]) for f in kfas}
        ll = {f: med(r[f]) for f in fas}
        row = "| %s | %s | %s |" % (os.path.basename(model), name, "%.0f" % (b / 1e6) if gen else "")
        row += "".join(" %s |" % ("%.1f" % ks[f] if ks[f] else "-") for f in kfas)
        row += "".join(" %.1f |" % ll[f] for f in fas)
        row += "".join(" %s |" % ("%.2f" % (ks[f] / ll[g]) if ks[f] else "-") for f, g in pairs)
        row += "".join(" %s |" % (gbs(ks[f], bk) if (ks[f] and gen) else "-") for f in kfas)
        row += "".join(" %s |" % (gbs(ll[f], b) if gen else "-") for f in fas)
        print(row)

if __name__ == "__main__":
    main()
