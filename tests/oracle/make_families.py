#!/usr/bin/env python3
"""Makes one tiny random-weight Hugging Face folder per model family, written by transformers itself, and the
goldens of transformers and llama.cpp for each (issue 16: every family the seeds name).

Needs tests/oracle/requirements-hf.txt and tests/oracle/requirements.txt (torch, transformers, tokenizers,
safetensors, gguf, llama-cpp-python) and the llama.cpp sources of the llama-cpp-python sdist (bash
bench/build_llama_cpp.sh unpacks them into cache/lcp/ and builds libllama; llama-cpp-python itself may be
the pip package or the sdist's python folder on PYTHONPATH with LLAMA_CPP_LIB_PATH=/tmp/lcp-build/bin):
    .venv/bin/python tests/oracle/make_families.py [FAMILY ...]

For each family F (all by default) it writes, seeded and deterministic:
  tests/data/families/F/            the folder save_pretrained writes (F32 safetensors, config.json) and the
                                    byte-level BPE tokenizer of tests/oracle/make_hf_tiny.py (vocab 320)
  tests/data/families/F-lcpp.gguf   llama.cpp's convert_hf_to_gguf.py --outtype f32 of that folder
  tests/data/families/F.json        goldens:
      prompts[]   ids (random ids 3..319, fixed seed), positions (every 3rd and the last),
                  transformers_logits_f32_b64 (base64 of little-endian float32 [len(positions), n_vocab]:
                  transformers in float32, eager attention, the next-token logits at those positions),
                  greedy (transformers' 32 greedy tokens after the prompt, no end token),
                  llama_cpp_greedy (llama.cpp's 32 greedy tokens on F-lcpp.gguf), llama_cpp_vs_hf (max |diff|
                  of llama.cpp's logits and transformers' at those positions)
The families and what each exercises:
  qwen2          q/k/v biases, NeoX RoPE, GQA
  mistral        sliding window 8 < prompt lengths (llama.cpp's converter drops the window, so llama.cpp's
                 GGUF runs it fully causal: its goldens say so; Kestrel's converter keeps it)
  gpt2           learned positions, LayerNorm with bias, GELU (tanh), fused c_attn, Conv1D layout, tied head
  falcon         7B-style: parallel attention + MLP, multi-query, fused QKV, LayerNorm with bias, GELU
  falcon-new     new_decoder_architecture: grouped KV (2 groups), separate ln_attn / ln_mlp
  gemma3         QK-norm, pre- and post-norms, GeGLU, sqrt(n_embd) embedding scale, 6 layers (5 sliding, window
                 8, RoPE base 10000; 1 global, base 1e6), final logit soft-cap 15
"""
import base64, json, os, shutil, sys, tempfile

import numpy as np
import torch
import transformers as tf
from transformers import PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_hf_tiny  # noqa: E402
from check_convert import run_llama_convert  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "families")
LCPP = os.path.join(ROOT, "cache", "lcp", "llama_cpp_python-0.3.36", "vendor", "llama.cpp")
N_PROMPTS, LENGTHS, N_GREEDY, STRIDE = 5, (12, 20, 28, 36, 44), 32, 3
TOK = dict(vocab_size=320)


def configs(n_vocab):
    small = dict(vocab_size=n_vocab, bos_token_id=1, eos_token_id=2)
    llama_like = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, **small)
    return {
        "qwen2": (tf.Qwen2ForCausalLM, tf.Qwen2Config(tie_word_embeddings=True, rope_theta=1e6, **llama_like)),
        "mistral": (tf.MistralForCausalLM, tf.MistralConfig(tie_word_embeddings=False, rope_theta=1e4,
                                                              sliding_window=8, **llama_like)),
        "gpt2": (tf.GPT2LMHeadModel, tf.GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=128,
                                                   layer_norm_epsilon=1e-5, activation_function="gelu_new",
                                                   **small)),
        "falcon": (tf.FalconForCausalLM, tf.FalconConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                         num_kv_heads=1, multi_query=True, parallel_attn=True,
                                                         new_decoder_architecture=False, bias=False, alibi=False,
                                                         layer_norm_epsilon=1e-5, max_position_embeddings=2048,
                                                         **small)),
        "falcon-new": (tf.FalconForCausalLM, tf.FalconConfig(hidden_size=32, num_hidden_layers=2,
                                                             num_attention_heads=4, num_kv_heads=2,
                                                             new_decoder_architecture=True, parallel_attn=True,
                                                             bias=False, alibi=False, layer_norm_epsilon=1e-5,
                                                             max_position_embeddings=2048, **small)),
        "gemma3": (tf.Gemma3ForCausalLM, tf.Gemma3TextConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=6, num_attention_heads=2, num_key_value_heads=1,
            head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=256, rms_norm_eps=1e-6, sliding_window=8,
            final_logit_softcapping=15.0, tie_word_embeddings=True,
            rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                             "full_attention": {"rope_type": "default", "rope_theta": 1000000.0}}, **small)),
    }


def make_folder(name, cls, cfg, tok, seed):
    torch.manual_seed(seed)
    cfg.architectures = [cls.__name__]
    model = cls(cfg)
    make_hf_tiny.scale_weights(model)
    out = os.path.join(OUT, name)
    if os.path.isdir(out):
        shutil.rmtree(out)
    model.to(torch.float32).save_pretrained(out)
    for f in ("generation_config.json",):
        if os.path.exists(os.path.join(out, f)):
            os.remove(os.path.join(out, f))
    path = os.path.join(out, "config.json")
    c = json.load(open(path))
    if name == "falcon":  # multi-query: one KV head, which convert_hf_to_gguf.py reads from num_kv_heads
        c["num_kv_heads"] = 1
    if name == "gpt2":  # as openai-community/gpt2's config.json (convert_hf_to_gguf.py reads it)
        c["n_ctx"] = c["n_positions"]
    json.dump(c, open(path, "w"), indent=2)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   unk_token="<|endoftext|>", pad_token="<|im_end|>")
    fast.save_pretrained(out)
    return out


def hf_run(cls, folder, prompts):
    ref = cls.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    ref.eval()
    logits, greedy = [], []
    with torch.no_grad():
        for ids in prompts:
            logits.append(ref(torch.tensor([ids])).logits[0].double().numpy())
            seq = list(ids)
            for _ in range(N_GREEDY):  # plain loop: no generation_config, no end token
                seq.append(int(ref(torch.tensor([seq])).logits[0, -1].argmax()))
            greedy.append(seq[len(ids):])
    return logits, greedy


def lcpp_run(gguf_path, prompts):
    from llama_cpp import Llama
    llm = Llama(gguf_path, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=2, n_threads_batch=2, logits_all=True,
                flash_attn=False, verbose=False, seed=0)
    logits, greedy = [], []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        logits.append(np.array(llm.scores[:len(ids)], dtype=np.float64))
        out = []
        for _ in range(N_GREEDY):
            t = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            out.append(t)
            llm.eval([t])
        greedy.append(out)
    return logits, greedy


def b64(rows):
    return base64.b64encode(np.ascontiguousarray(rows, dtype="<f4").tobytes()).decode()


def main():
    lcpp = os.environ.get("LLAMA_CPP_DIR", LCPP)
    tok = make_hf_tiny.train_tokenizer()
    n_vocab = tok.get_vocab_size()
    table = configs(n_vocab)
    names = sys.argv[1:] or list(table)
    os.makedirs(OUT, exist_ok=True)
    for fi, name in enumerate(table):
        if name not in names:
            continue
        cls, cfg = table[name]
        folder = make_folder(name, cls, cfg, tok, 1600 + fi)
        rng = np.random.default_rng(16 + fi)
        prompts = [[int(x) for x in rng.integers(3, n_vocab, n)] for n in LENGTHS[:N_PROMPTS]]
        hf, hf_greedy = hf_run(cls, folder, prompts)
        gg = os.path.join(OUT, name + "-lcpp.gguf")
        run_llama_convert(lcpp, folder, gg, "f32", "smollm")
        lc, lc_greedy = lcpp_run(gg, prompts)
        golden = {"family": name, "hf_dir": "tests/data/families/" + name, "lcpp_gguf": "tests/data/families/%s-lcpp.gguf"
                  % name, "n_vocab": n_vocab, "n_greedy": N_GREEDY,
                  "llama_cpp": "llama-cpp-python %s, F32 GGUF, F16 KV cache, flash attention off, 2 threads"
                               % __import__("llama_cpp").__version__,
                  "versions": {"torch": torch.__version__, "transformers": tf.__version__}, "prompts": []}
        worst, same = 0.0, 0
        for ids, a, b, g, lg in zip(prompts, hf, lc, hf_greedy, lc_greedy):
            pos = sorted(set(range(0, len(ids), STRIDE)) | {len(ids) - 1})
            d = float(np.abs(a[pos] - b[pos]).max())
            worst = max(worst, d)
            same += g == lg
            golden["prompts"].append({"ids": ids, "positions": pos, "transformers_logits_f32_b64": b64(a[pos]),
                                      "greedy": g, "llama_cpp_greedy": lg, "llama_cpp_vs_hf": float("%.3g" % d)})
        golden["llama_cpp_vs_hf"] = float("%.3g" % worst)
        golden["llama_cpp_greedy_same"] = same
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(golden, f, separators=(",", ":"))
            f.write("\n")
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        print("%-10s folder %6d B, gguf %6d B; llama.cpp vs transformers max |diff| %.3g, greedy same %d/%d" %
              (name, size, os.path.getsize(gg), worst, same, len(prompts)))


if __name__ == "__main__":
    main()
