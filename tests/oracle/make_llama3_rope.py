#!/usr/bin/env python3
"""Makes a tiny Llama-3-style Hugging Face folder with Llama 3 RoPE scaling, and the goldens of
transformers and llama.cpp for it (issue 13: Kestrel applies the GGUF's rope_freqs tensor).

Needs tests/oracle/requirements-hf.txt and tests/oracle/requirements.txt (torch, transformers,
tokenizers, safetensors, llama-cpp-python, gguf) and the llama.cpp sources of the llama-cpp-python
sdist (bash bench/build_llama_cpp.sh unpacks them into cache/lcp/):
    .venv/bin/python tests/oracle/make_llama3_rope.py [LLAMA_CPP_DIR]
        (default cache/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp)

Writes:
  tests/data/hf-tiny-llama3rope/   LlamaForCausalLM saved by transformers (BF16 weights, one safetensors
      file, ~0.6 MB): hidden 128, 2 layers, 2 heads x head_dim 64, 1 KV head (GQA), ffn 192, tied
      embeddings, rope_theta 500000, max_position_embeddings 512 and
      rope_parameters {rope_type: llama3, factor: 8, low_freq_factor: 1, high_freq_factor: 4,
      original_max_position_embeddings: 64}, so positions past 64 rotate by the scaled frequencies;
      the byte-level BPE tokenizer of tests/oracle/make_hf_tiny.py (vocab 320).
  tests/data/llama3-rope-goldens.json:
      rope_freqs       the rope_freqs.weight llama.cpp's convert_hf_to_gguf.py writes (head_dim/2 factors)
      gguf_f32         bytes and SHA-256 of llama.cpp's F32 conversion of the folder
      prompts[]        ids (random, fixed seed, lengths 100 / 200 / 300), positions (every 16th and the last),
                       llama_cpp_logits_f32_b64 and transformers_logits_f32_b64: base64 of little-endian
                       float32, row-major [len(positions), n_vocab], the next-token logits at those positions
                       (llama.cpp through llama-cpp-python on the F32 GGUF, flash attention off, 2 threads,
                       the whole prompt in one batch; transformers in float32, eager attention)
      max_abs_diff     llama.cpp vs transformers, per prompt and overall
      sensitivity      max |logit change| had the scaling been ignored (transformers with default RoPE):
                       the size of error a missing rope_freqs produces, to compare with max_abs_diff
"""
import base64, hashlib, json, os, shutil, sys, tempfile

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_hf_tiny  # noqa: E402
from check_convert import run_llama_convert  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "hf-tiny-llama3rope")
GOLDEN = os.path.join(ROOT, "tests", "data", "llama3-rope-goldens.json")
LCPP = os.path.join(ROOT, "cache", "lcp", "llama_cpp_python-0.3.36", "vendor", "llama.cpp")
ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
LENGTHS = (100, 200, 300)
STRIDE = 16


def make_folder():
    torch.manual_seed(4242)
    tok = make_hf_tiny.train_tokenizer()
    cfg = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=128, intermediate_size=192, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=512,
                      rms_norm_eps=1e-5, rope_parameters=dict(ROPE), tie_word_embeddings=True,
                      bos_token_id=tok.token_to_id("<|im_start|>"), eos_token_id=tok.token_to_id("<|im_end|>"))
    cfg.architectures = ["LlamaForCausalLM"]
    model = LlamaForCausalLM(cfg)
    make_hf_tiny.scale_weights(model)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    model.to(torch.bfloat16).save_pretrained(OUT)
    gen = os.path.join(OUT, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   unk_token="<|endoftext|>", pad_token="<|im_end|>")
    fast.chat_template = make_hf_tiny.CHATML
    fast.save_pretrained(OUT)
    return tok.get_vocab_size()


def hf_logits(prompts, rope_default=False):
    kw = {}
    if rope_default:
        cfg = LlamaConfig.from_pretrained(OUT)
        cfg.rope_parameters = {"rope_type": "default", "rope_theta": ROPE["rope_theta"]}
        kw["config"] = cfg
    ref = LlamaForCausalLM.from_pretrained(OUT, dtype=torch.float32, attn_implementation="eager", **kw)
    ref.eval()
    with torch.no_grad():
        return [ref(torch.tensor([ids])).logits[0].double().numpy() for ids in prompts]


def lcpp_logits(gguf_path, prompts):
    from llama_cpp import Llama
    llm = Llama(gguf_path, n_ctx=512, n_batch=512, n_ubatch=512, n_threads=2, n_threads_batch=2, logits_all=True,
                flash_attn=False, verbose=False, seed=0)
    out = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        out.append(np.array(llm.scores[:len(ids)], dtype=np.float64))
    return out


def b64(rows):
    return base64.b64encode(np.ascontiguousarray(rows, dtype="<f4").tobytes()).decode()


def main():
    lcpp = sys.argv[1] if len(sys.argv) > 1 else LCPP
    n_vocab = make_folder()
    rng = np.random.default_rng(3)
    prompts = [[int(x) for x in rng.integers(3, n_vocab, n)] for n in LENGTHS]  # ids 0-2: special tokens
    hf = hf_logits(prompts)
    hf_plain = hf_logits(prompts, rope_default=True)
    with tempfile.TemporaryDirectory() as tmp:
        gg = os.path.join(tmp, "hf-tiny-llama3rope-f32.gguf")
        run_llama_convert(lcpp, OUT, gg, "f32", "smollm")
        raw = open(gg, "rb").read()
        import gguf
        rd = gguf.GGUFReader(gg)
        freqs = [float(x) for x in next(t for t in rd.tensors if t.name == "rope_freqs.weight").data]
        lc = lcpp_logits(gg, prompts)
    golden = {"hf_dir": "tests/data/hf-tiny-llama3rope", "rope": ROPE, "n_vocab": n_vocab, "rope_freqs": freqs,
              "gguf_f32": {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest(),
                           "made_by": "convert_hf_to_gguf.py --outtype f32 (llama-cpp-python 0.3.36 sources)"},
              "llama_cpp": "llama-cpp-python %s, n_ctx 512, one batch, flash attention off, 2 threads" %
                           __import__("llama_cpp").__version__,
              "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
              "prompts": []}
    worst, sens = 0.0, 0.0
    for ids, a, b, c in zip(prompts, lc, hf, hf_plain):
        pos = sorted(set(range(0, len(ids), STRIDE)) | {len(ids) - 1})
        d = float(np.abs(a[pos] - b[pos]).max())
        s = float(np.abs(c[pos] - b[pos]).max())
        worst, sens = max(worst, d), max(sens, s)
        golden["prompts"].append({"ids": ids, "positions": pos, "max_abs_diff": float("%.3g" % d),
                                  "sensitivity": float("%.3g" % s), "llama_cpp_logits_f32_b64": b64(a[pos]),
                                  "transformers_logits_f32_b64": b64(b[pos])})
    golden["max_abs_diff"], golden["sensitivity"] = float("%.3g" % worst), float("%.3g" % sens)
    with open(GOLDEN, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("rope_freqs", freqs)
    print("llama.cpp vs transformers max |diff| %.3g; ignoring the scaling would change logits by up to %.3g" %
          (worst, sens))
    print("wrote %s (%d bytes) and %s (%d bytes)" % (OUT, total, GOLDEN, os.path.getsize(GOLDEN)))


if __name__ == "__main__":
    main()
