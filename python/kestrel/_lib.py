"""The ctypes layer over include/kestrel.h (ABI mode: nothing is compiled at install time).

Finding libkestrel, in this order (the first that exists is loaded; a failure to load it is
an error, not a reason to try the next):
  1. the KESTREL_LIBRARY environment variable: the path of libkestrel.so (or of a folder
     holding it);
  2. next to this package: kestrel/libkestrel.so* (copy it there before `pip install` to
     ship it inside the wheel);
  3. the build tree, when the package is imported from a Kestrel checkout
     (python/kestrel -> build/libkestrel.so);
  4. the system's dynamic loader: libkestrel.so.0 through LD_LIBRARY_PATH and the ldconfig
     cache (an installed prefix such as /usr/local/lib), then ctypes.util.find_library.
"""
import ctypes
import ctypes.util
import glob
import os

from . import _errors

ABI_MAJOR = "0"  # KS_VERSION_MAJOR this module is written for
SONAME = "libkestrel.so.0"

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_float_p = ctypes.POINTER(ctypes.c_float)
c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_int64_p = ctypes.POINTER(ctypes.c_int64)

PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_float, ctypes.c_void_p)
ABORT_FN = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class CStruct(ctypes.Structure):
    """A struct of kestrel.h; c_name is its C name (tests compare offsets with a C compiler)."""
    c_name = None


class ks_err(CStruct):
    c_name = "ks_err"
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class ks_model_params(CStruct):
    c_name = "ks_model_params"
    _fields_ = [("tokenizer_path", ctypes.c_char_p), ("no_mmap", ctypes.c_bool), ("no_repack", ctypes.c_bool),
                ("f16_exact", ctypes.c_bool), ("progress_callback", PROGRESS_FN), ("progress_data", ctypes.c_void_p)]


class ks_model_info(CStruct):
    c_name = "ks_model_info"
    _fields_ = [("arch", ctypes.c_char_p), ("format", ctypes.c_char_p), ("gguf_version", ctypes.c_uint32),
                ("has_weights", ctypes.c_bool), ("tied_output", ctypes.c_bool), ("has_tokenizer", ctypes.c_bool),
                ("has_chat_template", ctypes.c_bool)] + \
               [(n, ctypes.c_int64) for n in ("n_vocab", "n_embd", "n_layer", "n_head", "n_head_kv", "n_ff",
                                             "n_ctx_train", "head_dim", "n_rot")] + \
               [("norm_eps", ctypes.c_float), ("rope_theta", ctypes.c_float), ("n_tensors", ctypes.c_int64),
                ("n_params", ctypes.c_uint64), ("n_bytes", ctypes.c_uint64), ("kv_type", ctypes.c_int32)]


class ks_context_params(CStruct):
    c_name = "ks_context_params"
    _fields_ = [("n_ctx", ctypes.c_int64), ("n_batch", ctypes.c_int64), ("n_seq_max", ctypes.c_int),
                ("n_threads", ctypes.c_int), ("n_threads_batch", ctypes.c_int), ("kv_type", ctypes.c_int32),
                ("kv_type_v", ctypes.c_int32), ("flash_attn", ctypes.c_int32), ("kv_unified", ctypes.c_bool),
                ("logits_all", ctypes.c_bool), ("embeddings", ctypes.c_bool), ("abort_callback", ABORT_FN),
                ("abort_data", ctypes.c_void_p)]


class ks_batch(CStruct):
    c_name = "ks_batch"
    _fields_ = [("n_tokens", ctypes.c_int64), ("cap", ctypes.c_int64), ("token", c_int32_p), ("pos", c_int32_p),
                ("seq", ctypes.POINTER(ctypes.c_uint64)), ("seq_first", c_int32_p),
                ("logits", ctypes.POINTER(ctypes.c_int8))]


class ks_sampler_params(CStruct):
    c_name = "ks_sampler_params"
    _fields_ = [("temp", ctypes.c_float), ("top_k", ctypes.c_int32), ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float), ("repeat_penalty", ctypes.c_float), ("repeat_last_n", ctypes.c_int32),
                ("presence_penalty", ctypes.c_float), ("frequency_penalty", ctypes.c_float),
                ("seed", ctypes.c_uint64)]


class ks_detok_stream(CStruct):
    c_name = "ks_detok_stream"
    _fields_ = [("pending", ctypes.c_char * 8), ("n_pending", ctypes.c_size_t), ("after_bos", ctypes.c_bool)]


class ks_chat_msg(CStruct):
    c_name = "ks_chat_msg"
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


class ks_perf_data(CStruct):
    c_name = "ks_perf_data"
    _fields_ = [("t_prompt_s", ctypes.c_double), ("t_gen_s", ctypes.c_double), ("n_prompt", ctypes.c_int64),
                ("n_gen", ctypes.c_int64), ("n_decode", ctypes.c_int64)]


STRUCTS = [ks_err, ks_model_params, ks_model_info, ks_context_params, ks_batch, ks_sampler_params, ks_detok_stream,
           ks_chat_msg, ks_perf_data]

P = ctypes.c_void_p  # opaque handles (ks_model *, ks_context *, ks_sampler *, const ks_tokenizer *)
E = ctypes.POINTER(ks_err)
S = ctypes.c_int  # ks_status
I32, I64, SZ, B, F = ctypes.c_int32, ctypes.c_int64, ctypes.c_size_t, ctypes.c_bool, ctypes.c_float
CP = ctypes.c_char_p
BUF = ctypes.c_void_p  # char * / uint8_t * buffers (passed as ctypes arrays or None)

# name: (restype, argtypes) for every function the package calls
PROTOTYPES = {
    "ks_status_str": (CP, [S]),
    "ks_version": (CP, []),
    "ks_system_info": (CP, []),
    "ks_kernels_isa": (CP, []),
    "ks_log_set": (None, [LOG_FN, P]),
    "ks_model_default_params": (ks_model_params, []),
    "ks_model_load_from_file": (S, [CP, ctypes.POINTER(ks_model_params), ctypes.POINTER(P), E]),
    "ks_model_free": (None, [P]),
    "ks_model_has_weights": (B, [P]),
    "ks_model_n_vocab": (I32, [P]),
    "ks_model_n_ctx_train": (I64, [P]),
    "ks_model_n_embd": (I64, [P]),
    "ks_model_arch": (CP, [P]),
    "ks_model_chat_template": (CP, [P]),
    "ks_model_tokenizer": (P, [P]),
    "ks_model_get_info": (None, [P, P]),
    "ks_model_meta_count": (I64, [P]),
    "ks_model_meta_key_by_index": (S, [P, I64, BUF, SZ, c_size_p, E]),
    "ks_model_meta_val_str": (S, [P, CP, BUF, SZ, c_size_p, E]),
    "ks_tokenizer_bos": (I32, [P]),
    "ks_tokenizer_eos": (I32, [P]),
    "ks_tokenizer_add_bos": (B, [P]),
    "ks_token_is_eog": (B, [P, I32]),
    "ks_tokenizer_tokenize": (S, [P, CP, SZ, B, B, c_int32_p, SZ, c_size_p, E]),
    "ks_token_to_piece": (ctypes.POINTER(ctypes.c_char), [P, I32, B, c_size_p]),
    "ks_tokenizer_max_piece_len": (SZ, [P]),
    "ks_tokenizer_detokenize": (S, [P, c_int32_p, SZ, B, BUF, SZ, c_size_p, E]),
    "ks_detok_stream_init": (None, [ctypes.POINTER(ks_detok_stream)]),
    "ks_detok_stream_push": (I64, [ctypes.POINTER(ks_detok_stream), P, I32, BUF, SZ]),
    "ks_detok_stream_flush": (I64, [ctypes.POINTER(ks_detok_stream), BUF, SZ]),
    "ks_chat_template_family": (CP, [CP]),
    "ks_chat_apply_template": (S, [CP, ctypes.POINTER(ks_chat_msg), SZ, B, BUF, SZ, c_size_p, E]),
    "ks_tokenizer_tokenize_chat": (S, [P, CP, ctypes.POINTER(ks_chat_msg), SZ, B, B, c_int32_p, SZ, c_size_p, E]),
    "ks_context_default_params": (ks_context_params, []),
    "ks_context_new": (S, [P, ctypes.POINTER(ks_context_params), ctypes.POINTER(P), E]),
    "ks_context_free": (None, [P]),
    "ks_context_n_ctx": (I64, [P]),
    "ks_context_n_batch": (I64, [P]),
    "ks_batch_init": (S, [ctypes.POINTER(ks_batch), I64, E]),
    "ks_batch_free": (None, [ctypes.POINTER(ks_batch)]),
    "ks_batch_clear": (None, [ctypes.POINTER(ks_batch)]),
    "ks_batch_add": (S, [ctypes.POINTER(ks_batch), I32, I32, c_int32_p, ctypes.c_int, B, E]),
    "ks_decode_batch": (S, [P, ctypes.POINTER(ks_batch), E]),
    "ks_decode": (S, [P, c_int32_p, I64, I64, B, E]),
    "ks_context_logits": (c_float_p, [P, I64]),
    "ks_context_embeddings": (c_float_p, [P, I64]),
    "ks_seq_rm": (None, [P, I32, I32, I32]),
    "ks_seq_cp": (None, [P, I32, I32, I32, I32]),
    "ks_seq_keep": (None, [P, I32]),
    "ks_seq_add": (None, [P, I32, I32, I32, I32]),
    "ks_seq_pos_max": (I32, [P, I32]),
    "ks_seq_pos_min": (I32, [P, I32]),
    "ks_kv_used": (I64, [P]),
    "ks_kv_clear": (None, [P]),
    "ks_state_size": (SZ, [P, I32]),
    "ks_state_save": (S, [P, I32, BUF, SZ, c_size_p, E]),
    "ks_state_load": (S, [P, I32, BUF, SZ, E]),
    "ks_perf_get": (None, [P, ctypes.POINTER(ks_perf_data)]),
    "ks_perf_reset": (None, [P]),
    "ks_sampler_default_params": (ks_sampler_params, []),
    "ks_sampler_init": (S, [ctypes.POINTER(P), ctypes.POINTER(ks_sampler_params), I32, E]),
    "ks_sampler_free": (None, [P]),
    "ks_sampler_reset": (None, [P]),
    "ks_sampler_accept": (None, [P, I32]),
    "ks_sampler_sample": (I32, [P, c_float_p, I32]),
}


def _candidates():
    env = os.environ.get("KESTREL_LIBRARY")
    if env:
        yield "KESTREL_LIBRARY", os.path.join(env, "libkestrel.so") if os.path.isdir(env) else env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(glob.glob(os.path.join(here, "libkestrel.so*")), key=len):
        yield "package", name
    repo = os.path.dirname(os.path.dirname(here))
    if os.path.exists(os.path.join(repo, "include", "kestrel.h")):
        yield "build tree", os.path.join(repo, "build", "libkestrel.so")
    yield "system", SONAME
    found = ctypes.util.find_library("kestrel")
    if found:
        yield "system", found


def _load():
    tried = []
    for where, path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            if where == "KESTREL_LIBRARY":
                raise ImportError("KESTREL_LIBRARY=%s: no such file" % path)
            tried.append(path)
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            if os.path.sep in path:  # a file that exists but does not load: say why
                raise ImportError("cannot load %s (%s): %s" % (path, where, e)) from e
            tried.append(path)
            continue
        return lib, os.path.abspath(path) if os.path.sep in path else path
    raise ImportError("libkestrel not found (tried %s): set KESTREL_LIBRARY to the path of libkestrel.so, "
                      "build it (scripts/build.sh) or install it (cmake --install)" % ", ".join(tried))


lib, path = _load()
for _name, (_res, _args) in PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args
version = lib.ks_version().decode()
if version.split(".")[0] != ABI_MAJOR:
    raise ImportError("%s is libkestrel %s; this package needs %s.x" % (path, version, ABI_MAJOR))


def raise_for(status, err):
    """Raises the KestrelError subclass for a failed call (status != 0) with err's message."""
    if status:
        name = lib.ks_status_str(status).decode()
        raise _errors.error_for(status, err.msg.decode("utf-8", "replace"), name)


def call(fn, *args):
    """Calls a function whose last argument is ks_err *, raising on failure."""
    err = ks_err()
    raise_for(fn(*args, ctypes.byref(err)), err)


def call_sized(fn, *args, cap=256, elem=ctypes.c_char):
    """A (buf, cap, *len, err) call: tries cap, retries once with the size needed. Returns
    (array, n)."""
    for _ in range(2):
        buf, n, err = (elem * cap)(), ctypes.c_size_t(0), ks_err()
        st = fn(*args, buf, cap, ctypes.byref(n), ctypes.byref(err))
        if st == _errors.ERR_LIMIT and n.value + 1 > cap:
            cap = n.value + 1
            continue
        raise_for(st, err)
        return buf, n.value
    raise_for(st, err)
