#!/usr/bin/env python3
"""Random-weight Hugging Face folders of real family shapes, written by transformers itself
(save_pretrained), for issue 16's speed benchmarks: then `kestrel convert` makes the F16 GGUF
and `kestrel quantize` the Q4_0 one (bench/prepare_models.sh). The tokenizer is a byte-level
BPE trained by HF tokenizers on a few hundred KB of Debian documentation (speed does not depend on it).
Shapes:
  gpt2-124m    GPT-2 small: n_embd 768, 12 layers, 12 heads, n_ctx 1024, vocab 50257
  falcon-7b-2l Falcon-7B's layers (n_embd 4544, 71 heads x 64, multi-query, parallel attention+MLP,
               ffn 18176), 2 of its 32 layers, vocab 65024
Usage: python bench/make_random_family.py SHAPE OUT_DIR
"""
import glob, os, sys

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
from transformers import (FalconConfig, FalconForCausalLM, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast)


def tokenizer(vocab, out):
    files = sorted(glob.glob("/usr/share/doc/*/copyright"))[:400]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train(files, trainers.BpeTrainer(vocab_size=min(vocab, 8000), special_tokens=["<|endoftext|>"],
                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>").save_pretrained(out)


def main():
    shape, out = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    if shape == "gpt2-124m":
        cfg = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
        model = GPT2LMHeadModel(cfg)
    elif shape == "falcon-7b-2l":
        cfg = FalconConfig(vocab_size=65024, hidden_size=4544, num_hidden_layers=2, num_attention_heads=71,
                           multi_query=True, parallel_attn=True, new_decoder_architecture=False, bias=False,
                           max_position_embeddings=8192)
        model = FalconForCausalLM(cfg)
    else:
        sys.exit("shape: gpt2-124m or falcon-7b-2l")
    model = model.to(torch.float16)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer(cfg.vocab_size, out)


if __name__ == "__main__":
    main()
