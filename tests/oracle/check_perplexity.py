#!/usr/bin/env python3
"""Reference perplexities from llama.cpp's own perplexity tool for SmolLM2 on
tests/data/ppl-gpl3.txt (the GPL-3 text as shipped in Debian's /usr/share/common-licenses).

llama-perplexity is built from the llama.cpp sources vendored in the llama-cpp-python
sdist (the same version as tests/oracle/requirements.txt):
    pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 && tar xzf llama_cpp_python-0.3.36.tar.gz
    cmake -S llama_cpp_python-0.3.36/vendor/llama.cpp -B lcp-build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF
    cmake --build lcp-build -j2 --target llama-perplexity
On a CPU with AMX tiles, configure with CC=clang CXX=clang++: built by GCC 12, ggml's AMX
matmul loads a tile configuration the compiler left unwritten and the program dies with
SIGSEGV at ldtilecfg (seen on a Sapphire Rapids-class VM, llama.cpp build 0c1e570).
Usage: python tests/oracle/check_perplexity.py PATH/TO/llama-perplexity [MODEL]
Writes tests/data/perplexity-ref.json.
       python tests/oracle/check_perplexity.py PATH/TO/llama-perplexity --requant
writes tests/data/perplexity-requant-ref.json: SmolLM2 re-quantized by Kestrel to Q6_K and Q4_K_M
(cache/models/smollm2-q6_k.gguf, -q4_k_m.gguf: bench/prepare_models.sh; byte-identical to
llama-quantize's files), c=512 over 4 chunks, once with llama.cpp's defaults and once on its
row kernels (GGML_CPU_TILED_MM=0 --no-repack: the path llama.cpp generates with, which Kestrel's
k-quant kernels reproduce bit for bit), both with flash attention off; and the F16 file
(cache/models/smollm2-f16.gguf) with llama.cpp's defaults (FP32 FMAs over f16-rounded activations,
which `kestrel perplexity --f16-exact` reproduces).
"""
import json, os, re, subprocess, sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEXT = os.path.join(ROOT, "tests", "data", "ppl-gpl3.txt")
# fa: llama.cpp's flash-attention setting. "default" is what a user gets (auto: on for the CPU);
# "off" is the attention path Kestrel reproduces bit for bit (docs/NUMERICS.md).
CASES = [{"ctx": c, "chunks": n, "fa": fa} for (c, n) in ((128, 8), (512, 2), (128, -1), (512, -1)) for fa in ("off", "default")]


def requant(tool):
    out = {"text": "tests/data/ppl-gpl3.txt", "source": "SmolLM2-135M-Instruct.Q4_1.gguf -> F32 -> variant (kestrel quantize)",
           "tool": "llama-perplexity (llama.cpp vendored in llama-cpp-python 0.3.36)", "cases": []}
    for v in ("Q6_K", "Q4_K_M", "F16"):
        model = os.path.join(ROOT, "cache", "models", "smollm2-%s.gguf" % v.lower())
        for path in ("default", "row-kernels") if v != "F16" else ("default",):
            cmd = [tool, "-m", model, "-f", TEXT, "-c", "512", "-t", "2", "-b", "512", "--chunks", "4", "-fa", "off"]
            env = dict(os.environ)
            if path == "row-kernels":
                cmd.append("--no-repack")
                env["GGML_CPU_TILED_MM"] = "0"
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            m = re.search(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)", r.stdout + r.stderr)
            if not m:
                sys.exit("no estimate in llama-perplexity output:\n" + (r.stdout + r.stderr)[-2000:])
            # the running estimate after each chunk ("[1]18.6,[2]..."): the sanitizer pass runs one chunk
            running = [float(x) for x in re.findall(r"\[\d+\]([\d.]+)", r.stdout + r.stderr)]
            c = {"variant": v, "llama_path": path, "ctx": 512, "chunks": 4, "ppl": float(m.group(1)), "running": running,
                 "command": ("GGML_CPU_TILED_MM=0 " if path == "row-kernels" else "") + "llama-perplexity " +
                            " ".join(os.path.relpath(x, ROOT) if os.path.isabs(x) else x for x in cmd[1:])}
            print(c)
            out["cases"].append(c)
    with open(os.path.join(ROOT, "tests", "data", "perplexity-requant-ref.json"), "w") as f:
        json.dump(out, f, indent=1)


def main():
    tool = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "--requant":
        requant(tool)
        return
    model = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "cache", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    out = {"model": os.path.basename(model), "text": "tests/data/ppl-gpl3.txt", "tool": "llama-perplexity (llama.cpp vendored in llama-cpp-python 0.3.36)", "cases": []}
    for c in CASES:
        cmd = [tool, "-m", model, "-f", TEXT, "-c", str(c["ctx"]), "-t", "2", "-b", "512"]
        if c["chunks"] > 0:
            cmd += ["--chunks", str(c["chunks"])]
        if c["fa"] == "off":
            cmd += ["-fa", "off"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        m = re.search(r"Final estimate: PPL = ([\d.]+) \+/- ([\d.]+)", r.stdout + r.stderr)
        if not m:
            sys.exit("no estimate in llama-perplexity output:\n" + (r.stdout + r.stderr)[-2000:])
        c = dict(c, ppl=float(m.group(1)), err=float(m.group(2)), command="llama-perplexity " + " ".join(os.path.relpath(x, ROOT) if os.path.isabs(x) else x for x in cmd[1:]))
        print(c)
        out["cases"].append(c)
    with open(os.path.join(ROOT, "tests", "data", "perplexity-ref.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
