"""Hostile GGUF metadata through the CLI (red-team report, issue 12): a tiny LLaMA that carries
SmolLM2's tokenizer loads and generates; each variant below breaks one thing an attacker controls
and must give one 'kestrel:' line naming the key or tensor and the value, and a non-zero exit:
float hyperparameters out of range (every logit NaN, nothing printed, exit 0 before), special-token
ids outside the vocabulary (silently replaced before), strings with a NUL byte (cut before:
"llama\\0gpt2" loaded as llama), flags of the wrong type (ignored before), tensor names longer than
63 bytes (cut to 255 before, then "duplicate"), and tensors whose data overlap (aliased layers
loaded into one repacked copy each before: 99 MB became 4.5 GB)."""
import math, os, struct, tempfile
import numpy as np
from ks_e2e import *

T_U8, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR = 0, 4, 5, 6, 7, 8, 9
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def s(b):
    b = b if isinstance(b, bytes) else b.encode()
    return struct.pack("<Q", len(b)) + b


def skip_value(buf, pos, typ):
    if typ in FIXED:
        return pos + FIXED[typ]
    if typ == T_STR:
        return pos + 8 + struct.unpack_from("<Q", buf, pos)[0]
    et, n = struct.unpack_from("<IQ", buf, pos)
    pos += 12
    if et in FIXED:
        return pos + n * FIXED[et]
    for _ in range(n):
        pos = skip_value(buf, pos, et)
    return pos


def tokenizer_kvs(path):
    """SmolLM2's tokenizer.* metadata as raw (key, type + value bytes) pairs"""
    buf = open(path, "rb").read(8 << 20)
    _, _, n_kv = struct.unpack_from("<IQQ", buf, 4)
    pos, out = 24, {}
    for _ in range(n_kv):
        kl = struct.unpack_from("<Q", buf, pos)[0]
        key = buf[pos + 8:pos + 8 + kl].decode()
        pos += 8 + kl
        typ = struct.unpack_from("<I", buf, pos)[0]
        end = skip_value(buf, pos + 4, typ)
        if key.startswith("tokenizer."):
            out[key] = buf[pos:end]
        pos = end
    return out


def val(typ, v):
    if typ == T_STR:
        return struct.pack("<I", typ) + s(v)
    fmt = {T_U8: "<B", T_U32: "<I", T_I32: "<i", T_F32: "<f", T_BOOL: "<B"}[typ]
    return struct.pack("<I", typ) + struct.pack(fmt, v)


E, FF, L, NV = 64, 128, 1, 49152


def tensors(n_layer=L, alias_from=None):
    """(name, dims, ggml type, bytes or index of the tensor whose data it shares)"""
    rng = np.random.default_rng(1)
    f32 = lambda *shape: (rng.standard_normal(shape).astype(np.float32) * 0.05).tobytes()
    t = [("token_embd.weight", [E, NV], 1, (rng.standard_normal((NV, E)) * 0.05).astype(np.float16).tobytes()),
         ("output_norm.weight", [E], 0, np.ones(E, np.float32).tobytes())]
    for il in range(n_layer):
        if alias_from is not None and il >= alias_from:
            first = 2 + (il % alias_from) * 9
            t += [(name.replace("blk.%d." % (il % alias_from), "blk.%d." % il), dims, typ, first + k)
                  for k, (name, dims, typ, _) in enumerate(t[first:first + 9])]
            continue
        t += [("blk.%d.attn_norm.weight" % il, [E], 0, np.ones(E, np.float32).tobytes()),
              ("blk.%d.attn_q.weight" % il, [E, E], 0, f32(E, E)),
              ("blk.%d.attn_k.weight" % il, [E, E // 2], 0, f32(E // 2, E)),
              ("blk.%d.attn_v.weight" % il, [E, E // 2], 0, f32(E // 2, E)),
              ("blk.%d.attn_output.weight" % il, [E, E], 0, f32(E, E)),
              ("blk.%d.ffn_norm.weight" % il, [E], 0, np.ones(E, np.float32).tobytes()),
              ("blk.%d.ffn_gate.weight" % il, [E, FF], 0, f32(FF, E)),
              ("blk.%d.ffn_up.weight" % il, [E, FF], 0, f32(FF, E)),
              ("blk.%d.ffn_down.weight" % il, [FF, E], 0, f32(E, FF))]
    return t


def gguf(kvs, tens):
    """kvs: {key: type + value bytes}; tensors sharing data point at an earlier one's offset"""
    data, offs = b"", []
    for name, dims, typ, d in tens:
        if isinstance(d, (int, tuple)):  # index of an earlier tensor, or (index, bytes into its data)
            offs.append(offs[d] if isinstance(d, int) else offs[d[0]] + d[1])
            continue
        offs.append(len(data))
        data += d + b"\0" * ((32 - len(d) % 32) % 32)
    hdr = b"GGUF" + struct.pack("<IQQ", 3, len(tens), len(kvs))
    hdr += b"".join(s(k) + v for k, v in kvs.items())
    for (name, dims, typ, _), off in zip(tens, offs):
        hdr += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", x) for x in dims)
        hdr += struct.pack("<IQ", typ, off)
    return hdr + b"\0" * ((32 - len(hdr) % 32) % 32) + data


def base_kvs(tok):
    kv = {"general.architecture": val(T_STR, "llama"),
          "llama.embedding_length": val(T_U32, E), "llama.block_count": val(T_U32, L),
          "llama.attention.head_count": val(T_U32, 4), "llama.attention.head_count_kv": val(T_U32, 2),
          "llama.feed_forward_length": val(T_U32, FF), "llama.context_length": val(T_U32, 256),
          "llama.attention.layer_norm_rms_epsilon": val(T_F32, 1e-5), "llama.rope.freq_base": val(T_F32, 10000.0)}
    kv.update(tok)
    return kv


def variant(tok, **changes):
    kv = base_kvs(tok)
    for k, v in changes.items():
        k = k.replace("__", ".")
        if v is None:
            kv.pop(k, None)
        else:
            kv[k] = v
    return kv


model = need_model()
tok = tokenizer_kvs(model)
check("tokenizer.ggml.tokens" in tok and "tokenizer.chat_template" in tok, "SmolLM2's tokenizer metadata read")
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.gguf")

    def write(kvs, tens=None):
        with open(path, "wb") as f:
            f.write(gguf(kvs, tensors() if tens is None else tens))

    def bad(name, kvs, words, tens=None, cmd="generate"):
        write(kvs, tens)
        args = {"generate": ["generate", "-m", path, "-p", "Hello", "-n", "4", "--temp", "0"],
                "info": ["info", "-m", path]}[cmd]
        r = run(args, timeout=120)
        err = r.stderr.decode("utf-8", "replace").strip()
        ok = check(r.returncode > 0, "%s: exit %d (want an error; negative = signal): %r" % (name, r.returncode, err[-300:]))
        ok = check(len(err.split("\n")) == 1 and err.startswith("kestrel:"), "%s: not one kestrel: line: %r" % (name, err[-300:])) and ok
        for w in words:
            ok = check(w in err, "%s: message lacks %r: %r" % (name, w, err)) and ok
        if ok:
            print("ok  %-28s -> %s" % (name, err))

    # the unmodified tiny model works, so each error below comes from the one change
    write(base_kvs(tok))
    r = run(["generate", "-m", path, "-p", "Hello", "-n", "4", "--temp", "0"])
    check(r.returncode == 0 and len(r.stdout) > 0, "tiny model generates: %d %r" % (r.returncode, r.stderr[-300:]))

    # 7. float hyperparameters
    eps = "llama.attention.layer_norm_rms_epsilon"
    bad("epsilon -1", variant(tok, **{eps: val(T_F32, -1.0)}), [eps, "= -1", "(0, 1]"])
    bad("epsilon 0", variant(tok, **{eps: val(T_F32, 0.0)}), [eps, "= 0 "])
    bad("epsilon 2", variant(tok, **{eps: val(T_F32, 2.0)}), [eps, "= 2 "])
    bad("epsilon NaN", variant(tok, **{eps: val(T_F32, math.nan)}), [eps, "nan"])
    bad("rope base NaN", variant(tok, **{"llama.rope.freq_base": val(T_F32, math.nan)}), ["llama.rope.freq_base", "nan"])
    bad("rope base 0", variant(tok, **{"llama.rope.freq_base": val(T_F32, 0.0)}), ["llama.rope.freq_base = 0 "])
    bad("rope base -inf", variant(tok, **{"llama.rope.freq_base": val(T_F32, -math.inf)}), ["llama.rope.freq_base = -inf"])
    # 7. integer hyperparameters: the message names the key (a combined check used to fire first)
    bad("context_length 0", variant(tok, **{"llama.context_length": val(T_U32, 0)}),
        ["llama.context_length = 0 is out of range"])
    bad("head_count 0", variant(tok, **{"llama.attention.head_count": val(T_U32, 0)}),
        ["llama.attention.head_count = 0 is out of range"])
    bad("heads not dividing", variant(tok, **{"llama.attention.head_count_kv": val(T_U32, 3)}),
        ["llama.attention.head_count = 4 is not a multiple of llama.attention.head_count_kv = 3"])
    bad("block_count 5000", variant(tok, **{"llama.block_count": val(T_U32, 5000)}), ["llama.block_count = 5000"])
    bad("key_length 0", variant(tok, **{"llama.attention.key_length": val(T_U32, 0)}),
        ["llama.attention.key_length = 0"])
    # 8. special-token ids outside the vocabulary, of the wrong type; flags of the wrong type
    bos = "tokenizer.ggml.bos_token_id"
    bad("bos 10^9", variant(tok, **{bos: val(T_U32, 10**9)}), [bos + " = 1000000000 is outside the vocabulary [0, 49152)"])
    bad("eos -1", variant(tok, **{"tokenizer.ggml.eos_token_id": val(T_I32, -1)}), ["tokenizer.ggml.eos_token_id = -1 is outside"])
    bad("padding 49152", variant(tok, **{"tokenizer.ggml.padding_token_id": val(T_U32, 49152)}), ["padding_token_id = 49152"])
    bad("sep 10^9", variant(tok, **{"tokenizer.ggml.seperator_token_id": val(T_U32, 10**9)}), ["seperator_token_id"])
    bad("bos a string", variant(tok, **{bos: val(T_STR, "1")}), [bos, "string", "integer"])
    bad("add_bos a u8", variant(tok, **{"tokenizer.ggml.add_bos_token": val(T_U8, 1)}), ["add_bos_token has type u8, expected bool"])
    # 8. strings with a NUL byte where they are used as C strings
    bad("architecture with NUL", variant(tok, **{"general.architecture": val(T_STR, b"llama\0gpt2")}),
        ["general.architecture", "NUL"])
    bad("pre-tokenizer with NUL", variant(tok, **{"tokenizer.ggml.pre": val(T_STR, b"smollm\0x")}), ["tokenizer.ggml.pre", "NUL"])
    bad("chat template with NUL", variant(tok, **{"tokenizer.chat_template": val(T_STR, b"<|im_start|>\0{{x}}")}),
        ["tokenizer.chat_template", "NUL"])
    bad("key with NUL", dict(variant(tok), **{"general.name\0x": val(T_STR, "x")}), ["NUL"], cmd="info")
    # 8. tensor names: longer than llama.cpp's 63 bytes (two such names used to collide when cut)
    t = tensors()
    long_name = "blk.0." + "x" * 300
    t += [(long_name + "a", [E], 0, np.ones(E, np.float32).tobytes()), (long_name + "b", [E], 0, np.ones(E, np.float32).tobytes())]
    bad("tensor name of 307 bytes", variant(tok), ["tensor name too long", "307 bytes", "at most 63"], tens=t, cmd="info")
    t = tensors()
    t[1] = ("output_norm.weight\0x", [E], 0, np.ones(E, np.float32).tobytes())
    bad("tensor name with NUL", variant(tok), ["NUL"], tens=t, cmd="info")
    # 5. aliased tensors: 200 layers, 1..199 pointing at layer 0's data
    bad("aliased layers", variant(tok, **{"llama.block_count": val(T_U32, 200)}),
        ["overlap", "blk.0.attn_norm.weight", "blk.1.attn_norm.weight"], tens=tensors(200, alias_from=1))
    t = tensors()
    t[1] = (t[1][0], [E * 2], 0, t[1][3] * 2)  # output_norm runs into the next tensor
    t[2] = (t[2][0], t[2][1], t[2][2], (1, 256))
    bad("partial overlap", variant(tok), ["overlap"], tens=t, cmd="info")
done()
