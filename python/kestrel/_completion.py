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
        if not all(toks):
            raise ValueError("a prompt is empty after tokenization")
        if seed is None or seed < 0:
            seed = self._seed
        random = seed is None or seed < 0 or seed == 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: random per sequence
        self.reset()
        lib.ks_kv_clear(self._c())
        seqs = []
        try:
            for i, t in enumerate(toks):
                sampling = self._sampling(temperature, top_k, top_p, min_p, repeat_penalty, 0.0, 0.0,
                                          -1 if random else seed + i)
                seqs.append(_BatchSeq(self, i, t, self._sampler(**sampling)))
            with Batch(max(sum(map(len, toks)), n)) as b:
                for q in seqs:
                    for j, tok in enumerate(q.prompt):
                        q.out_idx = b.add(tok, j, q.seq, logits=j == len(q.prompt) - 1)
                self.decode_batch(b)
                active = seqs
                for step in range(max_tokens):
                    active = [q for q in active if q.step()]
                    if not active or step + 1 == max_tokens:
                        break
                    b.clear()
                    for q in active:
                        q.out_idx = b.add(q.prev, q.pos, q.seq, logits=True)
                        q.pos += 1
                    self.decode_batch(b)
            return [q.finish() for q in seqs]
        finally:
            for q in seqs:
                lib.ks_sampler_free(q.smpl)
            lib.ks_kv_clear(self._ctx)


class _BatchSeq:
    """One sequence of generate_batch: its sampler (owned), detokenizer stream and text."""

    def __init__(self, llm, seq, prompt, smpl):
        self.llm, self.seq, self.prompt, self.smpl = llm, seq, prompt, smpl
        for tok in prompt:
            lib.ks_sampler_accept(smpl, tok)
        self.ds = _lib.ks_detok_stream()
        lib.ks_detok_stream_init(ctypes.byref(self.ds))
        self.buf = ctypes.create_string_buffer(llm._piece_cap)
        self.out, self.pos, self.prev, self.out_idx = b"", len(prompt), prompt[-1], 0

    def step(self):
        """Samples the next token from the last decode; False at the end of generation."""
        llm = self.llm
        tok = lib.ks_sampler_sample(self.smpl, lib.ks_context_logits(llm._ctx, self.out_idx), llm._n_vocab)
        if tok < 0 or llm.token_is_eog(tok):
            return False
        lib.ks_sampler_accept(self.smpl, tok)
        self.ds.after_bos = self.prev == llm.token_bos()
        nb = lib.ks_detok_stream_push(ctypes.byref(self.ds), llm._tok, tok, self.buf, llm._piece_cap)
        self.out += self.buf.raw[:max(nb, 0)]
        self.prev = tok
        return True

    def finish(self):
        nf = lib.ks_detok_stream_flush(ctypes.byref(self.ds), self.buf, self.llm._piece_cap)
        return (self.out + self.buf.raw[:max(nf, 0)]).decode("utf-8", "replace")
