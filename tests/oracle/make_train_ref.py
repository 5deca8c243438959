#!/usr/bin/env python3
"""Reference data for the trainer (tests/unit/test_train_grad.c): transformers' LlamaForCausalLM in float64.

Usage: .venv/bin/python tests/oracle/make_train_ref.py   (torch + transformers, tests/oracle/requirements-hf.txt)

For each case (a tiny LLaMA with grouped-query attention, 2 layers, dim 32, vocabulary 64: one with an untied
head, one tied) it writes tests/data/train-ref/<case>.json and <case>.bin:
  - the random initial weights (float32 values; the model then runs in float64, so the references are the
    exact result for those weights up to float64 rounding),
  - one batch (2 x 8 tokens and targets), the mean cross-entropy loss and every parameter's gradient,
  - then 10 AdamW steps (torch.optim.AdamW, weight decay on matrices only, through param groups) with linear
    warmup and cosine decay of the learning rate (set per step, formula below), global-norm clipping
    (torch.nn.utils.clip_grad_norm_) and 2 micro-batches of gradient accumulation per step (each micro-batch's
    loss divided by 2): the loss and the gradient norm of every step and the final weights; and, for scale,
    how far the same 10 steps run in float32 by PyTorch land from the float64 ones (torch_f32_drift: largest
    difference over a tensor / its largest weight). Ten AdamW steps amplify rounding where a gradient is
    near zero (its update is lr * sign): at weight scale 0.3 PyTorch's own float32 run drifted 1.6e-4 from
    float64 on the tied case; at 0.2 (used here) it stays near 1e-6, so 1e-4 tests the trainer.
Tensors are stored by their GGUF names in GGUF layout (Kestrel's tensor table): HF's q/k rows are permuted
into interleaved RoPE pairs (LlamaModel.permute), gradients the same way, shapes innermost first.
The .bin is little-endian float32 / int32 at the offsets the .json gives (offsets and counts in elements of 4
bytes).

Schedule (step s = 0-based index of the update, as src/train/adamw.c):
  s < warmup:        lr = max_lr * (s + 1) / warmup
  s >= steps:        lr = min_lr
  else:              lr = min_lr + 0.5 * (max_lr - min_lr) * (1 + cos(pi * (s - warmup) / (steps - warmup)))
"""
import copy, json, math, os

import numpy as np
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "train-ref")

HP = dict(n_vocab=64, n_embd=32, n_layer=2, n_head=4, n_head_kv=2, n_ff=64, norm_eps=1e-5, rope_theta=10000.0)
B, T = 2, 8
OPT = dict(steps=10, warmup=3, max_lr=1e-2, min_lr=1e-3, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1,
           clip=1.0, accum=2)

GLOBAL = [("token_embd.weight", "model.embed_tokens.weight"), ("output_norm.weight", "model.norm.weight"),
          ("output.weight", "lm_head.weight")]
LAYER = [("attn_norm.weight", "input_layernorm.weight"), ("attn_q.weight", "self_attn.q_proj.weight"),
         ("attn_k.weight", "self_attn.k_proj.weight"), ("attn_v.weight", "self_attn.v_proj.weight"),
         ("attn_output.weight", "self_attn.o_proj.weight"), ("ffn_norm.weight", "post_attention_layernorm.weight"),
         ("ffn_gate.weight", "mlp.gate_proj.weight"), ("ffn_up.weight", "mlp.up_proj.weight"),
         ("ffn_down.weight", "mlp.down_proj.weight")]


def names(tied):
    rows = [(g, h) for g, h in GLOBAL if not (tied and g == "output.weight")]
    for il in range(HP["n_layer"]):
        rows += [(f"blk.{il}.{g}", f"model.layers.{il}.{h}") for g, h in LAYER]
    return rows


def to_gguf(gname, t):
    """HF tensor (outermost first) -> GGUF layout as a float32 numpy array (still outermost first in memory)"""
    a = t.detach().to(torch.float64).cpu().numpy()
    hd = HP["n_embd"] // HP["n_head"]
    for key, n_h in (("attn_q.weight", HP["n_head"]), ("attn_k.weight", HP["n_head_kv"])):
        if gname.endswith(key):  # GGUF row h*hd + 2i + j = HF row h*hd + j*hd/2 + i
            a = a.reshape(n_h, 2, hd // 2, -1).transpose(0, 2, 1, 3).reshape(a.shape)
    return a.astype(np.float32)


def lr_at(s):
    o = OPT
    if s < o["warmup"]:
        return o["max_lr"] * (s + 1) / o["warmup"]
    if s >= o["steps"]:
        return o["min_lr"]
    p = (s - o["warmup"]) / (o["steps"] - o["warmup"])
    return o["min_lr"] + 0.5 * (o["max_lr"] - o["min_lr"]) * (1.0 + math.cos(math.pi * p))


class Blob:
    def __init__(self):
        self.parts, self.n = [], 0

    def add(self, arr):
        arr = np.ascontiguousarray(arr)
        assert arr.dtype in (np.float32, np.int32)
        off = self.n
        self.parts.append(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        self.n += arr.size
        return off


def tensor_entry(blob, a):
    return {"off": blob.add(a), "ne": list(reversed(a.shape)) + [1] * (2 - a.ndim)}


def adamw_steps(model, loss_of):
    decay = [p for _, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for _, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": OPT["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=OPT["max_lr"], betas=(OPT["beta1"], OPT["beta2"]), eps=OPT["eps"])
    steps = []
    for s in range(OPT["steps"]):
        opt.zero_grad()
        total = 0.0
        for a in range(OPT["accum"]):
            loss = loss_of(1 + s * OPT["accum"] + a) / OPT["accum"]
            loss.backward()
            total += loss.item()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), OPT["clip"]).item()
        lr = lr_at(s)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        steps.append({"loss": total, "grad_norm": norm, "lr": lr})
    return steps


def make_case(name, tied, seed):
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=HP["n_vocab"], hidden_size=HP["n_embd"], intermediate_size=HP["n_ff"],
                      num_hidden_layers=HP["n_layer"], num_attention_heads=HP["n_head"],
                      num_key_value_heads=HP["n_head_kv"], max_position_embeddings=64, rms_norm_eps=HP["norm_eps"],
                      rope_theta=HP["rope_theta"], tie_word_embeddings=tied, attention_bias=False, mlp_bias=False)
    cfg._attn_implementation = "eager"
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # weights far from HF's tiny default init, so every gradient is sizeable
        for pname, p in model.named_parameters():
            if p.ndim == 1:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.2 * torch.randn_like(p))
    model32 = copy.deepcopy(model)
    model = model.to(torch.float64)
    model.train()
    rows = names(tied)
    params = dict(model.named_parameters())
    gen = torch.Generator().manual_seed(seed + 1)
    n_micro = 1 + OPT["steps"] * OPT["accum"]
    tokens = torch.randint(0, HP["n_vocab"], (n_micro, B, T), generator=gen)
    targets = torch.randint(0, HP["n_vocab"], (n_micro, B, T), generator=gen)

    def loss_of(i, model=model):
        logits = model(input_ids=tokens[i]).logits
        return F.cross_entropy(logits.reshape(-1, HP["n_vocab"]), targets[i].reshape(-1))

    blob = Blob()
    doc = {"hparams": HP, "batch": [B, T], "tied": tied, "opt": OPT,
           "tokens": blob.add(tokens.numpy().astype(np.int32)), "targets": blob.add(targets.numpy().astype(np.int32)),
           "n_micro": n_micro, "tensors": {}}
    for g, h in rows:
        doc["tensors"][g] = {"init": tensor_entry(blob, to_gguf(g, params[h]))}

    # gradient check on micro-batch 0
    model.zero_grad()
    loss = loss_of(0)
    loss.backward()
    doc["loss"] = loss.item()
    for g, h in rows:
        doc["tensors"][g]["grad"] = tensor_entry(blob, to_gguf(g, params[h].grad))

    # 10 AdamW steps over micro-batches 1.. (2 per step), in float64 and, for scale, in float32
    doc["steps"] = adamw_steps(model, loss_of)
    adamw_steps(model32, lambda i: loss_of(i, model32))
    p32 = dict(model32.named_parameters())
    doc["torch_f32_drift"] = max(((p32[h].double() - params[h]).abs().max() / params[h].abs().max()).item()
                                 for _, h in rows)
    for g, h in rows:
        doc["tensors"][g]["final"] = tensor_entry(blob, to_gguf(g, params[h]))

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"".join(blob.parts))
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{name}: loss {doc['loss']:.6f}, step losses {[round(s['loss'], 4) for s in doc['steps']]}, "
          f"grad norms {[round(s['grad_norm'], 3) for s in doc['steps']]}, torch float32 vs float64 after 10 steps "
          f"{doc['torch_f32_drift']:.2g}")


def main():
    torch.set_num_threads(1)
    make_case("llama-gqa", tied=False, seed=1)
    make_case("llama-gqa-tied", tied=True, seed=2)


if __name__ == "__main__":
    main()
