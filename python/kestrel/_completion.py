"""Completions, chat and batched generation in llama-cpp-python's shapes (OpenAI-style dicts)."""
import ctypes
import time
import uuid

from . import _errors, _lib
from ._batch import Batch
from ._lib import lib


def _hold_back(text, stops):
    """Characters at the end of text that could begin a stop string (not emitted yet)."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:k]):
                hold = k
                break
    return hold


def _messages(messages):
    """A ks_chat_msg array (and the bytes it points to, kept alive by the caller)."""
    keep = []
    arr = (_lib.ks_chat_msg * max(len(messages), 1))()
    for i, m in enumerate(messages):
        role, content = m["role"].encode("utf-8"), (m.get("content") or "").encode("utf-8")
        keep += [role, content]
        arr[i].role, arr[i].content = role, content
    return arr, keep


class CompletionMixin:
    """create_completion / __call__, create_chat_completion, generate_batch for Llama."""

    def _sampling(self, temperature, top_k, top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty,
                  seed, repeat_last_n=64):
        return dict(temp=temperature, top_k=top_k, top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                    repeat_last_n=repeat_last_n, frequency_penalty=frequency_penalty,
                    presence_penalty=presence_penalty, seed=seed)

    def _prompt_tokens(self, prompt):
        if isinstance(prompt, (str, bytes)):  # as the CLI's generate: BOS as the model says, specials parsed
            return self.tokenize(prompt, add_bos=True, special=True)
        return [int(t) for t in prompt]

    def _text_chunks(self, prompt_tokens, max_tokens, stop, sampling, state):
        """Yields text (str) chunks, cut at the first stop string; state gets finish_reason and
        completion_tokens."""
        stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if s]
        pending, state["completion_tokens"] = "", 0
        it = self._tokens(prompt_tokens, max_tokens, sampling, state)
        try:
            for tok, chunk in it:
                state["completion_tokens"] += tok >= 0
                pending += chunk.decode("utf-8", "replace")
                hits = [i for i in (pending.find(s) for s in stops) if i >= 0]
                if hits:
                    state["finish_reason"] = "stop"
                    if min(hits):
                        yield pending[:min(hits)]
                    return
                hold = _hold_back(pending, stops)
                out, pending = pending[:len(pending) - hold], pending[len(pending) - hold:]
                if out:
                    yield out
            if pending:
                yield pending
        finally:
            it.close()

    def _completion_chunks(self, prompt_tokens, max_tokens, stop, sampling, make_chunk):
        state = {}
        for text in self._text_chunks(prompt_tokens, max_tokens, stop, sampling, state):
            yield make_chunk(text, None, state)
        yield make_chunk("", state.get("finish_reason", "length"), state)

    def create_completion(self, prompt, suffix=None, max_tokens=16, temperature=0.8, top_p=0.95, min_p=0.05,
                          echo=False, stop=None, frequency_penalty=0.0, presence_penalty=0.0, repeat_penalty=1.0,
                          top_k=40, stream=False, seed=None, logprobs=None):
        """A completion of prompt (str, bytes or token ids) as llama-cpp-python returns it:
        {"choices": [{"text", "finish_reason", ...}], "usage": {...}}; with stream=True a
        generator of such chunks (the last one empty with the finish_reason). Breaking out of
        the stream leaves the model usable. finish_reason: "stop" (end of generation or a stop
        string), "length" (max_tokens or a full context), "cancelled" (cancel())."""
        if suffix is not None or logprobs is not None:
            raise NotImplementedError("suffix and logprobs are not supported")
        prompt_tokens = self._prompt_tokens(prompt)
        sampling = self._sampling(temperature, top_k, top_p, min_p, repeat_penalty, frequency_penalty,
                                  presence_penalty, seed)
        cid, created = "cmpl-" + str(uuid.uuid4()), int(time.time())
        prefix = (prompt if isinstance(prompt, str) else self.detokenize(prompt_tokens).decode(
            "utf-8", "replace")) if echo else ""

        def chunk(text, finish, state):
            return {"id": cid, "object": "text_completion", "created": created, "model": self.model_path,
                    "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]}

        if stream:
            def gen():
                if prefix:
                    yield chunk(prefix, None, None)
                yield from self._completion_chunks(prompt_tokens, max_tokens, stop, sampling, chunk)
            return gen()
        state, parts, finish = {}, [prefix], "length"
        for c in self._completion_chunks(prompt_tokens, max_tokens, stop, sampling, lambda t, f, s: (t, f, s)):
            parts.append(c[0])
            finish, state = c[1] or finish, c[2]
        n_gen = state.get("completion_tokens", 0)
        return {"id": cid, "object": "text_completion", "created": created, "model": self.model_path,
                "choices": [{"text": "".join(parts), "index": 0, "logprobs": None, "finish_reason": finish}],
                "usage": {"prompt_tokens": len(prompt_tokens), "completion_tokens": n_gen,
                          "total_tokens": len(prompt_tokens) + n_gen}}

    def __call__(self, prompt, **kwargs):
        return self.create_completion(prompt, **kwargs)

    # ---- chat ----
    def _template(self):
        tmpl = self.chat_format or self.chat_template
        if tmpl is None:
            raise _errors.KestrelNotFoundError("%s has no chat template: pass chat_format= (a family such as "
                                               "\"chatml\")" % self.model_path)
        return tmpl.encode("utf-8")

    def apply_chat_template(self, messages, add_generation_prompt=True):
        """The prompt text of messages under the model's template (or chat_format)."""
        arr, _keep = _messages(messages)
        buf, n = _lib.call_sized(lib.ks_chat_apply_template, self._template(), arr, len(messages),
                                 bool(add_generation_prompt), cap=4096)
        return buf.raw[:n].decode("utf-8", "replace")

    def tokenize_chat(self, messages, add_generation_prompt=True):
        """Token ids of messages under the template: control tokens from the template's markup
        only, message content as plain text (ks_tokenizer_tokenize_chat)."""
        arr, _keep = _messages(messages)
        buf, n = _lib.call_sized(lib.ks_tokenizer_tokenize_chat, self._tok, self._template(), arr, len(messages),
                                 bool(add_generation_prompt), False, cap=1024, elem=ctypes.c_int32)
        return list(buf[:n])

    def create_chat_completion(self, messages, temperature=0.2, top_p=0.95, top_k=40, min_p=0.05, stream=False,
                               stop=None, seed=None, max_tokens=None, presence_penalty=0.0, frequency_penalty=0.0,
                               repeat_penalty=1.0):
        """The assistant's reply to messages ([{"role", "content"}]) rendered with the model's
        chat template: {"choices": [{"message": {"role": "assistant", "content"}, ...}],
        "usage"}; with stream=True chunks with "delta"s as llama-cpp-python's."""
        prompt_tokens = self.tokenize_chat(messages)
        sampling = self._sampling(temperature, top_k, top_p, min_p, repeat_penalty, frequency_penalty,
                                  presence_penalty, seed)
        cid, created = "chatcmpl-" + str(uuid.uuid4()), int(time.time())

        def chunk(text, finish, state):
            delta = {"content": text} if finish is None else {}
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": self.model_path,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        if stream:
            def gen():
                yield {"id": cid, "object": "chat.completion.chunk", "created": created, "model": self.model_path,
                       "choices": [{"index": 0, "delta": {"role": "assistant"}, "logprobs": None,
                                    "finish_reason": None}]}
                yield from self._completion_chunks(prompt_tokens, max_tokens, stop, sampling, chunk)
            return gen()
        c = self.create_completion(prompt_tokens, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                                   min_p=min_p, stop=stop, frequency_penalty=frequency_penalty,
                                   presence_penalty=presence_penalty, repeat_penalty=repeat_penalty, top_k=top_k,
                                   seed=seed)
        return {"id": cid, "object": "chat.completion", "created": created, "model": self.model_path,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": c["choices"][0]["text"]},
                             "logprobs": None, "finish_reason": c["choices"][0]["finish_reason"]}],
                "usage": c["usage"]}

    # ---- batches ----
    def generate_batch(self, prompts, max_tokens=16, temperature=0.8, top_k=40, top_p=0.95, min_p=0.05,
                       repeat_penalty=1.0, seed=None):
        """Continuations of several prompts decoded together (one batch per step, sequence i
        for prompt i; needs n_seq_max >= len(prompts)). Returns a list of str. Sequence 0's
        conversation is reset and the cache cleared afterwards. Sampler i is seeded seed + i."""
        n = len(prompts)
        if not 0 < n <= self._n_seq_max:
            raise ValueError("generate_batch: %d prompts for n_seq_max=%d" % (n, self._n_seq_max))
        toks = [self._prompt_tokens(p) for p in prompts]
        if seed is None or seed < 0:
            seed = self._seed
        if seed is None or seed < 0 or seed == 0xFFFFFFFF:  # LLAMA_DEFAULT_SEED: a random seed per sequence
            seed = None
        self.reset()
        lib.ks_kv_clear(self._c())
        smpl, ds, outs = [], [], [b"" for _ in toks]
        buf = ctypes.create_string_buffer(self._piece_cap)
        try:
            for i, t in enumerate(toks):
                if not t:
                    raise ValueError("prompt %d is empty after tokenization" % i)
                s = -1 if seed is None else seed + i
                smpl.append(self._sampler(**self._sampling(temperature, top_k, top_p, min_p, repeat_penalty, 0.0,
                                                           0.0, s)))
                for tok in t:
                    lib.ks_sampler_accept(smpl[i], tok)
                d = _lib.ks_detok_stream()
                lib.ks_detok_stream_init(ctypes.byref(d))
                ds.append(d)
            with Batch(max(sum(map(len, toks)), n)) as b:
                out_idx = [0] * n
                for i, t in enumerate(toks):
                    for j, tok in enumerate(t):
                        out_idx[i] = b.add(tok, j, i, logits=j == len(t) - 1)
                self.decode_batch(b)
                pos, prev, active = [len(t) for t in toks], [t[-1] for t in toks], list(range(n))
                bos = self.token_bos()
                for step in range(max_tokens):
                    nxt = []
                    for i in active:
                        tok = lib.ks_sampler_sample(smpl[i], lib.ks_context_logits(self._ctx, out_idx[i]),
                                                    self._n_vocab)
                        if tok < 0 or self.token_is_eog(tok):
                            continue
                        lib.ks_sampler_accept(smpl[i], tok)
                        ds[i].after_bos = prev[i] == bos
                        nb = lib.ks_detok_stream_push(ctypes.byref(ds[i]), self._tok, tok, buf, self._piece_cap)
                        outs[i] += buf.raw[:max(nb, 0)]
                        prev[i] = tok
                        nxt.append((i, tok))
                    active = [i for i, _ in nxt]
                    if not nxt or step + 1 == max_tokens:
                        break
                    b.clear()
                    for i, tok in nxt:
                        out_idx[i] = b.add(tok, pos[i], i, logits=True)
                        pos[i] += 1
                    self.decode_batch(b)
            for i in range(n):
                nf = lib.ks_detok_stream_flush(ctypes.byref(ds[i]), buf, self._piece_cap)
                outs[i] += buf.raw[:max(nf, 0)]
        finally:
            for s in smpl:
                lib.ks_sampler_free(s)
            lib.ks_kv_clear(self._ctx)
        return [o.decode("utf-8", "replace") for o in outs]
