#!/usr/bin/env python3
"""Makes the tiny Hugging Face LLaMA folder used by the converter tests, and its goldens.

Needs PyTorch, transformers, tokenizers and safetensors (tests/oracle/requirements-hf.txt), e.g.
    python3 -m venv cache/hfvenv && cache/hfvenv/bin/pip install -r tests/oracle/requirements-hf.txt
    cache/hfvenv/bin/python tests/oracle/make_hf_tiny.py

Writes, with the real writers of those libraries (nothing hand-made):
  tests/data/hf-tiny-llama/          LlamaForCausalLM saved by transformers' save_pretrained:
      config.json                    hidden 64, 2 layers, 4 heads, 2 KV heads, tied embeddings
      model-0000N-of-0000M.safetensors + model.safetensors.index.json  (BF16 weights, sharded)
      tokenizer.json                 byte-level BPE trained here with HF tokenizers (SmolLM2-style
                                     pre-tokenizer: single digits, then GPT-2's ByteLevel regex)
      tokenizer_config.json          special tokens, ChatML chat template
  tests/data/hf-tiny-llama.json      goldens: token ids from HF tokenizers for a few strings (also with
                                     the Llama-3-style tokenizer of tests/e2e/ks_hf_variants.py), and
                                     the next-token logits transformers (float32, eager attention)
                                     computes at every position of a few prompts (logits_f32_b64:
                                     base64 of little-endian float32, row-major [n_ids, n_vocab]).
With --variant mistral|qwen2 DIR it writes only a folder of that architecture (not committed; for
tests/oracle/check_convert.py): MistralForCausalLM with untied lm_head, or Qwen2ForCausalLM with
q/k/v biases and Qwen2's split-regex pre-tokenizer.
Deterministic: a fixed seed, a fixed training text. The random weights are scaled up from HF's
default init (std 0.02 gives near-uniform logits that would test nothing).
"""
import base64, json, os, shutil, sys, tempfile

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, PreTrainedTokenizerFast,
                          Qwen2Config, Qwen2ForCausalLM)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import ks_hf_variants  # noqa: E402
OUT = os.path.join(ROOT, "tests", "data", "hf-tiny-llama")
GOLDEN = os.path.join(ROOT, "tests", "data", "hf-tiny-llama.json")

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

TRAIN_TEXT = """
The quick brown fox jumps over the lazy dog. A kestrel hovers above the field, watching the grass.
Small birds of prey hunt by hovering, then they drop onto mice and insects in the meadow below.
In 2024 there were 365 days in the year, plus one: 366. The river runs for 1234 kilometres.
Hello world! Hello again, world. It's the model's turn; we'll see what it says, won't we?
Once upon a time there was a little engine that could. It ran on tokens and numbers and words.
def main():\n    print("hello")\n    return 0\n
Café, naïve, résumé, München: words with accents. Ελληνικά and русский текст too. 日本語も少し。
""" * 3


RE_QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
            r"\s+(?!\S)|\s+")


def train_tokenizer(qwen2=False):
    tok = Tokenizer(models.BPE())
    if qwen2:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(RE_QWEN2), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TRAIN_TEXT.splitlines(), trainer=trainer)
    return tok


TOKENIZE_STRINGS = [
    "Hello world",
    " The quick brown fox, 2024!",
    "kestrel hovers\n\nabove 1234 fields",
    "Café naïve 日本語 🦅",
    "<|im_start|>user\nhi<|im_end|>",
    "   leading spaces and trailing   ",
    "it's we'll DON'T",
]
LOGIT_PROMPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "In 2024 there were 365 days",
    "<|im_start|>user\nhi<|im_end|>\n",
]


def scale_weights(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and "norm" in name:  # norms: around 1, but not all ones (the mapping must be right)
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif p.dim() == 1:  # biases
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * (0.5 / p.shape[1] ** 0.5) * (4.0 if "embed" in name else 1.0))


def variant(arch, out):
    """a folder of another architecture, for check_convert.py (not committed)"""
    torch.manual_seed(99)
    tok = train_tokenizer(qwen2=arch == "qwen2")
    kw = dict(vocab_size=tok.get_vocab_size(), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6,
              bos_token_id=tok.token_to_id("<|im_start|>"), eos_token_id=tok.token_to_id("<|im_end|>"))
    if arch == "mistral":
        cfg, cls = MistralConfig(tie_word_embeddings=False, rope_theta=1e6, **kw), MistralForCausalLM
        cfg.architectures = ["MistralForCausalLM"]
    else:
        cfg, cls = Qwen2Config(tie_word_embeddings=True, rope_theta=1e6, **kw), Qwen2ForCausalLM
        cfg.architectures = ["Qwen2ForCausalLM"]
    model = cls(cfg)
    scale_weights(model)
    if os.path.isdir(out):
        shutil.rmtree(out)
    model.to(torch.float16 if arch == "mistral" else torch.bfloat16).save_pretrained(out)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    fast.save_pretrained(out)
    print("wrote", out, file=sys.stderr)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--variant":
        return variant(sys.argv[2], sys.argv[3])
    torch.manual_seed(1234)
    tok = train_tokenizer()
    n_vocab = tok.get_vocab_size()
    cfg = LlamaConfig(vocab_size=n_vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      rms_norm_eps=1e-5, rope_theta=50000.0, tie_word_embeddings=True,
                      bos_token_id=tok.token_to_id("<|im_start|>"), eos_token_id=tok.token_to_id("<|im_end|>"))
    cfg.architectures = ["LlamaForCausalLM"]
    model = LlamaForCausalLM(cfg)
    scale_weights(model)
    model = model.to(torch.bfloat16)

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    model.save_pretrained(OUT, max_shard_size="100KB")
    for f in os.listdir(OUT):  # weights and config only; generation_config is not part of the test
        if f == "generation_config.json":
            os.remove(os.path.join(OUT, f))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   unk_token="<|endoftext|>", pad_token="<|im_end|>")
    fast.chat_template = CHATML
    fast.save_pretrained(OUT)

    # goldens: HF tokenizers on tokenizer.json, transformers in float32 on the saved folder
    hf_tok = Tokenizer.from_file(os.path.join(OUT, "tokenizer.json"))
    golden = {"tokenize": [{"text": s, "ids": hf_tok.encode(s).ids} for s in TOKENIZE_STRINGS],
              "n_vocab": n_vocab, "prompts": []}
    with tempfile.TemporaryDirectory() as tmp:  # the Llama-3-style tokenizer variant (tests/e2e/ks_hf_variants.py)
        v_tok = Tokenizer.from_file(os.path.join(ks_hf_variants.llama3tok(tmp), "tokenizer.json"))
        golden["tokenize_llama3tok"] = [{"text": s, "ids": v_tok.encode(s).ids} for s in TOKENIZE_STRINGS]
    ref = LlamaForCausalLM.from_pretrained(OUT, dtype=torch.float32, attn_implementation="eager")
    ref.eval()
    for p in LOGIT_PROMPTS:
        ids = hf_tok.encode(p).ids
        with torch.no_grad():
            logits = ref(torch.tensor([ids])).logits[0].double().numpy()
        raw = base64.b64encode(logits.astype("<f4").tobytes()).decode()
        golden["prompts"].append({"text": p, "ids": ids, "logits_f32_b64": raw})
    golden["versions"] = {"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                          "tokenizers": __import__("tokenizers").__version__}
    with open(GOLDEN, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %s (%d files, %d bytes) and %s (%d bytes)" % (OUT, len(os.listdir(OUT)), total, GOLDEN,
                                                               os.path.getsize(GOLDEN)), file=sys.stderr)


if __name__ == "__main__":
    main()
