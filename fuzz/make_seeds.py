#!/usr/bin/env python3
"""Writes the small seed corpora in fuzz/corpus/<target>/ from the project's own test inputs.
Deterministic; run again after changing it. Every seed stays small (< 64 KB)."""
import os, struct

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.path.join(ROOT, "..", "shared")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def s(x):
    b = x.encode() if isinstance(x, str) else x
    return struct.pack("<Q", len(b)) + b


def kv(key, typ, payload):
    return s(key) + struct.pack("<I", typ) + payload


def arr(elem_type, items, pack):
    return struct.pack("<IQ", elem_type, len(items)) + b"".join(pack(i) for i in items)


def gguf(kvs, tensors=(), data=b""):
    hdr = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs)
    for name, dims, typ, off in tensors:
        hdr += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", typ, off)
    hdr += b"\0" * ((32 - len(hdr) % 32) % 32)
    return hdr + data


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- GGUF: every value type, nested arrays, tensors; tiny BPE and SPM vocabularies ---
all_types = [
    kv("u8", 0, b"\x07"), kv("i8", 1, b"\xf9"), kv("u16", 2, struct.pack("<H", 700)), kv("i16", 3, struct.pack("<h", -7)),
    kv("u32", 4, struct.pack("<I", 70000)), kv("i32", 5, struct.pack("<i", -70000)), kv("f32", 6, struct.pack("<f", 1.5)),
    kv("bool", 7, b"\x01"), kv("str", 8, s("hello")), kv("u64", 10, struct.pack("<Q", 1 << 40)),
    kv("i64", 11, struct.pack("<q", -(1 << 40))), kv("f64", 12, struct.pack("<d", 2.25)),
    kv("arr_i32", 9, arr(5, [1, 2, 3], lambda v: struct.pack("<i", v))),
    kv("arr_str", 9, arr(8, ["a", "bc"], s)),
    kv("arr_arr", 9, arr(9, [[1, 2], [3]], lambda a: arr(4, a, lambda v: struct.pack("<I", v)))),
    kv("general.alignment", 4, struct.pack("<I", 64)),
]
write("fuzz_gguf", "all_types.gguf", gguf(all_types, [("t0", [32, 2], 0, 0), ("t1", [64], 8, 256)], b"\x11" * 400))
bytes_tokens = ["!", "\"", "a", "b", "c", "ab", "abc", "Ġ", "Ġa", "<|im_end|>"]
bpe = [
    kv("general.architecture", 8, s("llama")), kv("tokenizer.ggml.model", 8, s("gpt2")), kv("tokenizer.ggml.pre", 8, s("smollm")),
    kv("tokenizer.ggml.tokens", 9, arr(8, bytes_tokens, s)),
    kv("tokenizer.ggml.token_type", 9, arr(5, [1] * 9 + [3], lambda v: struct.pack("<i", v))),
    kv("tokenizer.ggml.merges", 9, arr(8, ["a b", "ab c", "Ġ a"], s)),
    kv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 9)), kv("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 9)),
]
write("fuzz_gguf", "bpe_vocab.gguf", gguf(bpe))
spm_tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)] + ["\u2581", "a", "b", "\u2581a", "ab"]
spm = [
    kv("general.architecture", 8, s("llama")), kv("tokenizer.ggml.model", 8, s("llama")),
    kv("tokenizer.ggml.tokens", 9, arr(8, spm_tokens, s)),
    kv("tokenizer.ggml.scores", 9, arr(6, [0.0] * 259 + [-1.0, -2.0, -3.0, -1.5, -2.5], lambda v: struct.pack("<f", v))),
    kv("tokenizer.ggml.token_type", 9, arr(5, [2, 3, 3] + [6] * 256 + [1] * 5, lambda v: struct.pack("<i", v))),
    kv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 1)), kv("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", 2)),
]
write("fuzz_gguf", "spm_vocab.gguf", gguf(spm))

# --- whole models: tiny llama GGUFs (F32; Q8_0/Q4_0 matrices) for fuzz_model ---
def tiny_llama(E, ff, n_vocab, mat_type, row_bytes):
    hp = [kv("general.architecture", 8, s("llama"))] + [
        kv("llama." + k, 4, struct.pack("<I", v)) for k, v in
        [("embedding_length", E), ("block_count", 1), ("attention.head_count", 2), ("attention.head_count_kv", 1),
         ("feed_forward_length", ff), ("context_length", 64)]]
    shapes = [("token_embd.weight", [E, n_vocab]), ("output_norm.weight", [E]), ("blk.0.attn_norm.weight", [E]),
              ("blk.0.attn_q.weight", [E, E]), ("blk.0.attn_k.weight", [E, E // 2]), ("blk.0.attn_v.weight", [E, E // 2]),
              ("blk.0.attn_output.weight", [E, E]), ("blk.0.ffn_norm.weight", [E]), ("blk.0.ffn_gate.weight", [E, ff]),
              ("blk.0.ffn_up.weight", [E, ff]), ("blk.0.ffn_down.weight", [ff, E])]
    tensors, data = [], b""
    for name, dims in shapes:
        typ = 0 if len(dims) == 1 else mat_type
        n = (dims[0] * 4 if typ == 0 else row_bytes(dims[0])) * (dims[1] if len(dims) > 1 else 1)
        tensors.append((name, dims, typ, len(data)))
        blob = bytes((i * 37 + len(data)) % 251 for i in range(n))
        if typ == 0:  # small finite floats
            blob = b"".join(struct.pack("<f", ((i % 17) - 8) / 16.0) for i in range(n // 4))
        data += blob + b"\0" * ((32 - len(blob) % 32) % 32)
    return gguf(hp, tensors, data)


write("fuzz_model", "f32.gguf", tiny_llama(8, 16, 4, 0, None))
write("fuzz_model", "q8_0.gguf", tiny_llama(32, 32, 3, 8, lambda ne0: ne0 // 32 * (2 + 32)))
write("fuzz_model", "q4_0.gguf", tiny_llama(32, 64, 2, 2, lambda ne0: ne0 // 32 * (2 + 16)))
write("fuzz_model", "q5_0.gguf", tiny_llama(32, 64, 2, 6, lambda ne0: ne0 // 32 * (2 + 4 + 16)))
# k-quants need rows of 256 (~150-220 KB models: scripts/fuzz.sh gives fuzz_model a larger max_len)
write("fuzz_model", "q4_k.gguf", tiny_llama(256, 256, 2, 12, lambda ne0: ne0 // 256 * 144))
write("fuzz_model", "q6_k.gguf", tiny_llama(256, 256, 2, 14, lambda ne0: ne0 // 256 * 210))

# a tiny llama2.c checkpoint for the tok512 tokenizer: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head
dim, hidden, vocab, seq_len, kv_dim = 8, 16, 512, 16, 4
n_floats = vocab * dim + dim + dim * dim + 2 * dim * kv_dim + dim * dim + dim + 3 * hidden * dim + dim + 2 * seq_len * (dim // 2 // 2)
write("fuzz_model", "llama2c.bin", struct.pack("<7i", dim, hidden, 1, 2, 1, vocab, seq_len) +
      b"".join(struct.pack("<f", ((i % 13) - 6) / 32.0) for i in range(n_floats)))

# --- llama2.c: checkpoint header (+ a little data) and the tok512 tokenizer ---
l2c = os.path.join(SHARED, "testdata", "llama2c")
ck = open(os.path.join(l2c, "stories260K.bin"), "rb").read()
tok = open(os.path.join(l2c, "tok512.bin"), "rb").read()
write("fuzz_llama2c", "header", ck[:4096])
write("fuzz_llama2c", "tok512", struct.pack("<H", 509) + tok)  # (509 % 1024) + 3 = 512 tokens

# --- tokenizer input text: the oracle corpus, a few strings per seed ---
inp = open(os.path.join(ROOT, "tests", "data", "smollm2-tokenizer.inp"), encoding="utf-8", newline="").read()
strings = inp.split("\n__ggml_vocab_test__\n")[:-1]
for i in range(0, len(strings), 20):
    write("fuzz_tokenize", "corpus%03d" % i, "".join(strings[i:i + 20]).encode("utf-8")[:4000])
write("fuzz_tokenize", "special", b"<|im_start|>user\nhi<|im_end|>\n<s> </s> <|endoftext|>")
write("fuzz_tokenize", "invalid_utf8", b"\xff\xfe abc \xc3 \xe2\x82 \xf0\x9f\x98")

# --- chat templates: template NUL message NUL message ---
tdir = os.path.join(ROOT, "tests", "data", "chat_templates")
for name in sorted(os.listdir(tdir)):
    t = open(os.path.join(tdir, name), "rb").read()
    write("fuzz_chat", name, t + b"\0You are terse.\0Hello there!")
write("fuzz_chat", "chatml_name", b"chatml\0sys\0hi")
# --- safetensors files and whole Hugging Face folders (fuzz_safetensors, fuzz_hf) ---
import json


def safetensors(tensors, meta=None):
    """tensors: [(name, dtype, shape, raw bytes)] -> a safetensors file"""
    hdr, data = {}, b""
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32s(n, k=0):
    return b"".join(struct.pack("<f", ((i * 7 + k) % 11 - 5) / 8.0) for i in range(n))


def halfs(n, k=0):  # arbitrary 16-bit patterns of modest finite values (valid F16 and BF16)
    return b"".join(struct.pack("<H", 0x3800 + (i * 13 + k) % 0x0400) for i in range(n))


write("fuzz_safetensors", "mixed.safetensors", safetensors(
    [("a.weight", "F32", [2, 3], f32s(6)), ("b.weight", "F16", [4], halfs(4)), ("c.weight", "BF16", [2, 2], halfs(4, 1)),
     ("d.idx", "I64", [2], struct.pack("<2q", 1, -1)), ("e.empty", "F32", [0, 4], b""), ("f.scalar", "U8", [], b"\x07")],
    {"format": "pt"}))
write("fuzz_safetensors", "empty.safetensors", safetensors([]))
write("fuzz_safetensors", "holes.safetensors", struct.pack("<Q", 64) +
      b'{"x":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}'.ljust(64) + bytes(12))

E, FF, NV, HD = 8, 16, 6, 4  # hidden, ffn, vocab, head size: 2 heads, 1 kv head
tiny = [("model.embed_tokens.weight", "BF16", [NV, E]), ("model.norm.weight", "F32", [E])]
for l in range(1):
    p = "model.layers.%d." % l
    tiny += [(p + "input_layernorm.weight", "F32", [E]), (p + "post_attention_layernorm.weight", "F32", [E]),
             (p + "self_attn.q_proj.weight", "F16", [E, E]), (p + "self_attn.k_proj.weight", "F16", [HD, E]),
             (p + "self_attn.v_proj.weight", "F16", [HD, E]), (p + "self_attn.o_proj.weight", "F16", [E, E]),
             (p + "mlp.gate_proj.weight", "BF16", [FF, E]), (p + "mlp.up_proj.weight", "BF16", [FF, E]),
             (p + "mlp.down_proj.weight", "BF16", [E, FF])]
weights = safetensors([(n, d, sh, f32s(sh[0] * (sh[1] if len(sh) > 1 else 1)) if d == "F32" else halfs(sh[0] * (sh[1] if len(sh) > 1 else 1)))
                       for n, d, sh in tiny])
write("fuzz_safetensors", "tiny_llama.safetensors", weights)
config = {"architectures": ["LlamaForCausalLM"], "hidden_size": E, "num_hidden_layers": 1, "num_attention_heads": 2,
          "num_key_value_heads": 1, "intermediate_size": FF, "vocab_size": NV, "max_position_embeddings": 32,
          "rms_norm_eps": 1e-5, "rope_parameters": {"rope_theta": 10000.0, "rope_type": "default"},
          "tie_word_embeddings": True, "bos_token_id": 4, "eos_token_id": 5}
tokenizer = {"version": "1.0", "added_tokens": [{"id": 4, "content": "<|im_start|>", "special": True},
                                                {"id": 5, "content": "<|im_end|>", "special": True}],
             "normalizer": None, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                 {"type": "Digits", "individual_digits": True}, {"type": "ByteLevel", "use_regex": True}]},
             "post_processor": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"},
             "model": {"type": "BPE", "byte_fallback": False, "ignore_merges": False,
                       "vocab": {"a": 0, "b": 1, "\u0120": 2, "ab": 3}, "merges": [["a", "b"], "\u0120 a"]}}
tok_config = {"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}, "add_bos_token": False,
              "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}


def folder(cfg, tok, tc, st):
    return b"\0".join(json.dumps(x).encode() for x in (cfg, tok, tc)) + b"\0" + st


write("fuzz_hf", "tiny_llama", folder(config, tokenizer, tok_config, weights))
llama3 = dict(config, rope_parameters={"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0,
                                       "original_max_position_embeddings": 16})
tok3 = dict(tokenizer, pre_tokenizer={"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": False}, {"type": "ByteLevel", "use_regex": False}]},
            post_processor={"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}},
                                                                     {"Sequence": {"id": "A", "type_id": 0}}]})
write("fuzz_hf", "llama3_rope", folder(llama3, tok3, tok_config, weights))

# --- command lines for fuzz_args: first byte picks the command (0 generate, 1 chat, 2 bench, 3 perplexity,
# 4 tokenize), then NUL-separated arguments: the red-team report's values and every kind of option ---
ARGS = {
    "generate_huge_n": (0, ["-m", "M", "-p", "Hi", "-n", "4611686018427387905", "-c", "20", "--temp", "0"]),
    "generate_sampling": (0, ["-n", "-1", "--temp", "1e-45", "--top-k", "2147483647", "--top-p", "1", "--min-p", "0",
                              "--repeat-penalty", "1.1", "--repeat-last-n", "-1", "--presence-penalty", "-3.4e38",
                              "--frequency-penalty", "nan", "--seed", "-1", "-s", "18446744073709551615"]),
    "chat_limits": (1, ["-n", "0", "-c", "-1", "-t", "2147483648", "--max-input-bytes", "1099511627777", "--system", ""]),
    "bench_sizes": (2, ["-p", "4611686018427387904", "-n", "9223372036854775807", "-r", "2147483648", "--json"]),
    "perplexity": (3, ["-f", "x.txt", "-c", "0x10", "-b", "", "--chunks", "-9223372036854775808", "-t", "-1"]),
    "tokenize_help": (4, ["--pieces", "--no-bos", "--parse-special", "-f", "/dev/zero", "--max-input-bytes", "1", "-h"]),
}
for name, (cmd, args) in ARGS.items():
    write("fuzz_args", name, bytes([cmd]) + b"\0".join(a.encode() for a in args))
print("seeds written to", OUT)
