"""Llama: the high-level class, shaped as llama-cpp-python's (llama_cpp.Llama) over libkestrel."""
import ctypes
import os
import sys

import numpy as np

from . import _errors, _lib
from ._batch import SequenceOps
from ._completion import CompletionMixin
from ._lib import lib

LLAMA_DEFAULT_SEED = 0xFFFFFFFF  # as llama-cpp-python: a random seed per call

_log_cb = None  # the installed log callback (kept alive for the library)


def _log_to_stderr(level, text, _ud):
    sys.stderr.write("kestrel: %s\n" % text.decode("utf-8", "replace"))


class LlamaState:
    """A saved cache (Llama.save_state): input_ids, the library's state bytes, scores."""

    def __init__(self, input_ids, state, scores=None):
        self.input_ids, self.state, self.scores = input_ids, state, scores

    @property
    def n_tokens(self):
        return len(self.input_ids)


class Llama(CompletionMixin, SequenceOps):
    """A model and one context (KV cache) over it.

    Sequence 0 is the high-level calls' conversation: eval() appends to it, and every
    completion reuses the longest prefix it shares with the tokens already evaluated
    (input_ids[:n_tokens]). The batch calls (Batch, decode_batch, generate_batch) use
    sequences 0..n_seq_max-1."""

    def __init__(self, model_path, *, n_ctx=512, n_batch=512, n_threads=None, n_threads_batch=None,
                 seed=LLAMA_DEFAULT_SEED, logits_all=False, embedding=False, n_seq_max=1, flash_attn=False,
                 kv_unified=True, use_mmap=True, chat_format=None, tokenizer_path=None, verbose=False):
        self.model_path = os.fspath(model_path)
        self.verbose = verbose
        self._model = self._ctx = None
        global _log_cb
        if verbose and _log_cb is None:
            _log_cb = _lib.LOG_FN(_log_to_stderr)
            lib.ks_log_set(_log_cb, None)
        mp = lib.ks_model_default_params()
        mp.no_mmap = not use_mmap
        if tokenizer_path is not None:
            mp.tokenizer_path = os.fsencode(tokenizer_path)
        m = ctypes.c_void_p()
        _lib.call(lib.ks_model_load_from_file, os.fsencode(self.model_path), ctypes.byref(mp), ctypes.byref(m))
        self._model = m
        buf = ctypes.create_string_buffer(4 * ctypes.sizeof(_lib.ks_model_info))  # room for appended fields
        lib.ks_model_get_info(m, buf)
        self._info = _lib.ks_model_info.from_buffer_copy(buf)
        self._tok = lib.ks_model_tokenizer(m)
        self._n_vocab = lib.ks_model_n_vocab(m)
        self._stop_on_bos = self._info.format == b"llama2.c"  # its end of text is BOS (as ks_generate)
        self._piece_cap = lib.ks_tokenizer_max_piece_len(self._tok) + 8 if self._tok else 0
        self.chat_format = chat_format
        self._seed = seed
        self._cancel = False
        self._gen_id = 0
        self._abort_cb = _lib.ABORT_FN(lambda _ud: self._cancel)
        cp = lib.ks_context_default_params()
        cp.n_ctx, cp.n_batch, cp.n_seq_max = n_ctx, n_batch, n_seq_max
        cp.n_threads = n_threads or 0
        cp.n_threads_batch = n_threads_batch or 0
        cp.flash_attn = 1 if flash_attn else 0
        cp.logits_all, cp.embeddings, cp.kv_unified = logits_all, embedding, kv_unified
        cp.abort_callback = self._abort_cb
        c = ctypes.c_void_p()
        _lib.call(lib.ks_context_new, m, ctypes.byref(cp), ctypes.byref(c))
        self._ctx = c
        self._n_ctx = lib.ks_context_n_ctx(c)
        self._n_seq_max = max(n_seq_max, 1)
        self._logits_all = logits_all
        self.n_tokens = 0
        self.input_ids = np.zeros(self._n_ctx, dtype=np.int32)
        self._scores = np.zeros((self._n_ctx, self._n_vocab), dtype=np.float32) if logits_all else None

    # ---- lifetime ----
    def close(self):
        """Frees the context and the model (also done when the object is collected)."""
        if self._ctx:
            lib.ks_context_free(self._ctx)
        if self._model:
            lib.ks_model_free(self._model)
        self._ctx = self._model = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # at interpreter exit the module may be gone before us
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _seq0_changed(self, seq, pos):
        if seq <= 0:
            self.n_tokens = min(self.n_tokens, max(pos, 0))

    def _c(self):
        if not self._ctx:
            raise ValueError("the Llama was closed")
        return self._ctx

    # ---- model facts ----
    def n_ctx(self):
        return self._n_ctx

    def n_vocab(self):
        return self._n_vocab

    def n_embd(self):
        return self._info.n_embd

    def token_bos(self):
        return lib.ks_tokenizer_bos(self._tok)

    def token_eos(self):
        return lib.ks_tokenizer_eos(self._tok)

    def token_is_eog(self, token):
        """True if generation stops at this token (EOS, end-of-turn tokens; BOS for llama2.c)."""
        if self._stop_on_bos:
            return token == self.token_bos()
        return bool(lib.ks_token_is_eog(self._tok, token))

    @property
    def chat_template(self):
        t = lib.ks_model_chat_template(self._model)
        return t.decode("utf-8", "replace") if t else None

    @property
    def metadata(self):
        """The GGUF key/value pairs as strings (ks_model_meta_val_str's text form)."""
        out = {}
        for i in range(lib.ks_model_meta_count(self._model)):
            kb, kn = _lib.call_sized(lib.ks_model_meta_key_by_index, self._model, i)
            key = kb.raw[:kn]
            vb, vn = _lib.call_sized(lib.ks_model_meta_val_str, self._model, key)
            out[key.decode("utf-8", "replace")] = vb.raw[:vn].decode("utf-8", "replace")
        return out

    @staticmethod
    def system_info():
        return lib.ks_system_info().decode()

    # ---- tokenizer ----
    def tokenize(self, text, add_bos=True, special=False):
        """Token ids of text (bytes or str). add_bos: BOS/EOS as the model declares (the CLI
        without --no-bos); special: special-token text becomes those tokens (--parse-special)."""
        if isinstance(text, str):
            text = text.encode("utf-8")
        buf, n = _lib.call_sized(lib.ks_tokenizer_tokenize, self._tok, bytes(text), len(text), bool(add_bos),
                                 bool(special), cap=len(text) + 8, elem=ctypes.c_int32)
        return list(buf[:n])

    def detokenize(self, tokens, prev_tokens=None, special=False):
        """Bytes of tokens (control tokens rendered only when special). With prev_tokens, the
        bytes tokens add after them (the leading-space rule depends on what precedes)."""
        if prev_tokens:
            full, head = self.detokenize(list(prev_tokens) + list(tokens), special=special), \
                self.detokenize(prev_tokens, special=special)
            return full[len(head):] if full.startswith(head) else full
        tokens = list(tokens)
        arr = (ctypes.c_int32 * max(len(tokens), 1))(*tokens)
        buf, n = _lib.call_sized(lib.ks_tokenizer_detokenize, self._tok, arr, len(tokens), bool(special),
                                 cap=8 * len(tokens) + 16)
        return buf.raw[:n]

    def token_to_piece(self, token, special=False):
        n = ctypes.c_size_t(0)
        p = lib.ks_token_to_piece(self._tok, token, special, ctypes.byref(n))
        if not p:
            raise IndexError("token %d is out of the vocabulary" % token)
        return ctypes.string_at(p, n.value)

    # ---- evaluation (sequence 0) ----
    def reset(self):
        """Forgets sequence 0's tokens (the next eval starts at position 0)."""
        self.n_tokens = 0

    def eval(self, tokens):
        """Evaluates tokens after the n_tokens already in sequence 0. Logits of the last token
        (every token with logits_all) are then read with logits() / eval_logits / scores."""
        tokens = [int(t) for t in tokens]
        if not tokens:
            return
        arr = (ctypes.c_int32 * len(tokens))(*tokens)
        try:
            _lib.call(lib.ks_decode, self._c(), arr, len(tokens), self.n_tokens, self._logits_all)
        except _errors.KestrelAbortedError:
            lib.ks_seq_rm(self._ctx, 0, self.n_tokens, -1)  # drop the micro-batches that did run
            raise
        n0, n1 = self.n_tokens, self.n_tokens + len(tokens)
        if self._logits_all:
            for i in range(len(tokens)):
                self._scores[n0 + i] = self._row(i)
        self.input_ids[n0:n1] = tokens
        self.n_tokens = n1

    def _row(self, i):
        p = lib.ks_context_logits(self._c(), i)
        if not p:
            raise IndexError("token %d of the last decode has no logits" % i)
        return np.ctypeslib.as_array(p, shape=(self._n_vocab,))

    def logits(self):
        """Logits of the last token of the last decode: numpy float32 [n_vocab] (a copy)."""
        return self._row(-1).copy()

    @property
    def eval_logits(self):
        """With logits_all: the logits of every token of sequence 0, float32 [n_tokens, n_vocab]
        (a view, valid until the next eval). Else the last token's, [1, n_vocab]."""
        if self._logits_all:
            return self._scores[:self.n_tokens]
        return self.logits()[None, :]

    scores = eval_logits

    # ---- state ----
    def save_state(self):
        """The whole cache with the last logits (ks_state_save) and sequence 0's tokens."""
        size = lib.ks_state_size(self._c(), -1)
        buf, n = (ctypes.c_uint8 * max(size, 1))(), ctypes.c_size_t(0)
        _lib.call(lib.ks_state_save, self._ctx, -1, buf, size, ctypes.byref(n))
        return LlamaState(self.input_ids[:self.n_tokens].copy(), bytes(buf)[:n.value],
                          self._scores[:self.n_tokens].copy() if self._logits_all else None)

    def load_state(self, state):
        """Restores a save_state (of this model and cache shape: else KestrelFormatError, and
        the cache is as before)."""
        data = state.state
        _lib.call(lib.ks_state_load, self._c(), -1, data, len(data))
        self.n_tokens = len(state.input_ids)
        self.input_ids[:self.n_tokens] = state.input_ids
        if self._logits_all and state.scores is not None:
            self._scores[:self.n_tokens] = state.scores

    # ---- sampling and generation ----
    def set_seed(self, seed):
        self._seed = seed

    def cancel(self):
        """Stops the generation in progress (from another thread or between streamed chunks):
        the running decode aborts between micro-batches and the stream ends with finish_reason
        "cancelled". The model stays usable."""
        self._cancel = True

    def _sampler(self, temp, top_k, top_p, min_p, repeat_penalty, repeat_last_n, frequency_penalty,
                 presence_penalty, seed):
        sp = lib.ks_sampler_default_params()
        sp.temp, sp.top_k, sp.top_p, sp.min_p = temp, top_k, top_p, min_p
        sp.repeat_penalty, sp.repeat_last_n = repeat_penalty, min(repeat_last_n, self._n_ctx)
        sp.frequency_penalty, sp.presence_penalty = frequency_penalty, presence_penalty
        if seed is None:
            seed = self._seed
        if seed is None or seed == LLAMA_DEFAULT_SEED or seed < 0:
            seed = int.from_bytes(os.urandom(8), "little")
        sp.seed = seed
        s = ctypes.c_void_p()
        _lib.call(lib.ks_sampler_init, ctypes.byref(s), ctypes.byref(sp), self._n_vocab)
        return s

    def _tokens(self, prompt_tokens, max_tokens, sampling, state):
        """Yields (token, complete UTF-8 bytes) after prompt_tokens, as ks_generate does:
        sampled, then yielded, then evaluated, so the cache always holds exactly
        input_ids[:n_tokens] at a yield (breaking out leaves the model usable). Sets
        state["finish_reason"]."""
        gen_id = self._gen_id = self._gen_id + 1
        self._cancel = False
        n = len(prompt_tokens)
        if n == 0:
            raise ValueError("empty prompt: nothing to condition on")
        if n > self._n_ctx:
            raise _errors.KestrelLimitError("prompt of %d tokens exceeds the context of %d" % (n, self._n_ctx))
        keep = 0
        while keep < min(self.n_tokens, n - 1) and self.input_ids[keep] == prompt_tokens[keep]:
            keep += 1
        self.n_tokens = keep
        room = self._n_ctx - n + 1  # the last token is sampled, never evaluated
        n_max = room if max_tokens is None or max_tokens <= 0 else min(max_tokens, room)
        smpl = self._sampler(**sampling)
        state["finish_reason"] = "length"
        try:
            for t in prompt_tokens:
                lib.ks_sampler_accept(smpl, t)
            try:
                self.eval(prompt_tokens[keep:])
            except _errors.KestrelAbortedError:
                state["finish_reason"] = "cancelled"
                return
            ds = _lib.ks_detok_stream()
            lib.ks_detok_stream_init(ctypes.byref(ds))
            buf = ctypes.create_string_buffer(self._piece_cap)
            bos, prev = self.token_bos(), prompt_tokens[-1]
            for i in range(n_max):
                if self._cancel or self._gen_id != gen_id:
                    state["finish_reason"] = "cancelled"
                    break
                tok = lib.ks_sampler_sample(smpl, lib.ks_context_logits(self._ctx, -1), self._n_vocab)
                if tok < 0:
                    raise _errors.KestrelError("sampling failed (no logits)")
                if self.token_is_eog(tok):
                    state["finish_reason"] = "stop"
                    break
                lib.ks_sampler_accept(smpl, tok)
                ds.after_bos = prev == bos
                nb = lib.ks_detok_stream_push(ctypes.byref(ds), self._tok, tok, buf, self._piece_cap)
                prev = tok
                yield tok, buf.raw[:max(nb, 0)]
                if self._gen_id != gen_id:  # a newer call on the model: its cache is not ours any more
                    state["finish_reason"] = "cancelled"
                    return
                if i + 1 == n_max:
                    break
                try:
                    self.eval([tok])
                except _errors.KestrelAbortedError:
                    state["finish_reason"] = "cancelled"
                    break
            nf = lib.ks_detok_stream_flush(ctypes.byref(ds), buf, self._piece_cap)
            if nf > 0:  # held-back bytes of an incomplete character
                yield -1, buf.raw[:nf]
        finally:
            lib.ks_sampler_free(smpl)
            if self._gen_id == gen_id:
                self._cancel = False

    def generate(self, tokens, top_k=40, top_p=0.95, min_p=0.05, temp=0.80, repeat_penalty=1.0,
                 frequency_penalty=0.0, presence_penalty=0.0, seed=None, max_tokens=None):
        """Yields generated token ids after tokens (stops at end-of-generation, max_tokens, or
        a full context)."""
        sampling = dict(temp=temp, top_k=top_k, top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                        repeat_last_n=64, frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
                        seed=seed)
        for tok, _ in self._tokens(list(tokens), max_tokens, sampling, {}):
            if tok >= 0:
                yield tok
