"""Streams stopped midway (break, cancel), the model usable after them, batches of sequences,
errors from the C side as exceptions, prefix reuse."""
import threading

import numpy as np
import pytest

import kestrel
from conftest import SAN

PROMPT = "Once upon a time, in a small village,"
N = 10 if SAN else 20  # tokens per generation


def greedy(llm, prompt=PROMPT, n=N):
    return llm(prompt, max_tokens=n, temperature=0)["choices"][0]["text"]


def test_break_out_of_stream_leaves_model_usable(llm):
    ref = greedy(llm)
    for _ in range(1 if SAN else 2):  # twice: the second starts from a cache the broken stream left
        seen = []
        for chunk in llm(PROMPT, max_tokens=N, temperature=0, stream=True):
            seen.append(chunk["choices"][0]["text"])
            if len(seen) == 3:
                break
        assert ref.startswith("".join(seen)) and len(seen) == 3
        assert llm.n_tokens == len(llm.tokenize(PROMPT, special=True)) + 2  # the third token is not evaluated
        assert greedy(llm) == ref
        assert greedy(llm, "The capital of France is", 8) == greedy(llm, "The capital of France is", 8)
    # a stream left suspended is ended by the next call on the model, not resumed on a changed cache
    it = llm(PROMPT, max_tokens=N, temperature=0, stream=True)
    next(it)
    assert greedy(llm) == ref
    assert [c["choices"][0]["finish_reason"] for c in it][-1] == "cancelled"


def test_cancel(llm):
    ref = greedy(llm)
    chunks = []
    for chunk in llm(PROMPT, max_tokens=N, temperature=0, stream=True):
        chunks.append(chunk["choices"][0])
        if len(chunks) == 2:
            llm.cancel()
    assert chunks[-1]["finish_reason"] == "cancelled" and len(chunks) == 3 and chunks[-1]["text"] == ""
    assert greedy(llm) == ref
    # from another thread, during a long prompt: the decode aborts between micro-batches
    with kestrel.Llama(llm.model_path, n_ctx=512, n_batch=16, n_threads=1) as m:
        long_prompt = " ".join(["word"] * 400)
        t = threading.Timer(0.05, m.cancel)
        t.start()
        r = m(long_prompt, max_tokens=4, temperature=0)
        t.join()
        print("cancel from a thread during a 400-token prompt: %s" % r["choices"][0]["finish_reason"])
        if r["choices"][0]["finish_reason"] == "cancelled":  # (a fast machine may finish first)
            assert r["usage"]["completion_tokens"] == 0 and m.n_tokens == 0 and m.kv_cache_used() == 0
        assert m("Hello", max_tokens=3, temperature=0)["choices"][0]["finish_reason"] == "length"
        # the abort callback itself, deterministically: a decode that is told to stop
        m.reset()
        m.eval([1, 2, 3])
        m._cancel = True
        with pytest.raises(kestrel.KestrelAbortedError):
            m.eval(list(range(100, 140)))
        assert m.n_tokens == 3 and m.kv_cache_used() == 3 and m.kv_cache_seq_pos_max(0) == 2
        m._cancel = False
        m.eval([4])
        assert m.n_tokens == 4


def test_stop_strings(llm):
    ref = greedy(llm, n=N + 10)
    word = ref.split()[3]
    r = llm(PROMPT, max_tokens=N + 10, temperature=0, stop=[word])
    assert r["choices"][0]["text"] == ref[:ref.index(word)] and r["choices"][0]["finish_reason"] == "stop"
    chunks = [c["choices"][0]["text"] for c in llm(PROMPT, max_tokens=N + 10, temperature=0, stop=word, stream=True)]
    assert "".join(chunks) == ref[:ref.index(word)]
    r = llm(PROMPT, max_tokens=N + 10, temperature=0, stop=[word], echo=True)
    assert r["choices"][0]["text"] == PROMPT + ref[:ref.index(word)]
    chunks = [c["choices"][0]["text"] for c in llm(PROMPT, max_tokens=5, temperature=0, echo=True, stream=True)]
    assert chunks[0] == PROMPT and "".join(chunks) == PROMPT + greedy(llm, n=5)


def test_generate_batch_equals_one_at_a_time(llm):
    prompts = ["The capital of France is", "def fibonacci(n):", PROMPT]
    n = 6 if SAN else 10
    alone = [greedy(llm, p, n) for p in prompts]
    assert llm.generate_batch(prompts, max_tokens=n, temperature=0) == alone
    assert greedy(llm, prompts[0], n) == alone[0]  # usable afterwards
    # sampled: reproducible per seed. Not compared with one prompt at a time: after the prompts, a step
    # of several sequences is a multi-token decode, whose rounding differs from a single-token decode's
    # (logits move by up to ~0.6 on SmolLM2 Q4_1, as llama.cpp's batched-vs-sequential runs do), which
    # greedy choices survive here but a random draw need not.
    a = llm.generate_batch(prompts, max_tokens=n, temperature=1.0, seed=7)
    assert a == llm.generate_batch(prompts, max_tokens=n, temperature=1.0, seed=7) and all(a)


def test_low_level_batch_and_sequences(llm):
    ids = llm.tokenize(PROMPT)
    llm.reset()
    llm.kv_cache_clear()
    with kestrel.Batch(len(ids)) as b:
        for i, t in enumerate(ids):  # the prompt shared by sequences 0 and 1: one KV cell per token
            b.add(t, i, [0, 1], logits=i == len(ids) - 1)
        llm.decode_batch(b)
        assert llm.kv_cache_used() == len(ids) and llm.kv_cache_seq_pos_max(1) == len(ids) - 1
        first = llm.logits_ith(len(ids) - 1)
        b.clear()
        top = np.argsort(first)[::-1][:2]
        for s in (0, 1):  # two different continuations
            b.add(int(top[s]), len(ids), s, logits=True)
        llm.decode_batch(b)
        l0, l1 = llm.logits_ith(0), llm.logits_ith(1)
    assert not np.array_equal(l0, l1)
    llm.kv_cache_clear()
    llm.eval(ids + [int(top[1])])  # sequence 1's continuation, alone
    assert np.array_equal(llm.logits(), l1)
    assert llm.n_tokens == len(ids) + 1
    llm.kv_cache_seq_rm(0, 3)  # the record of sequence 0 follows the cache
    assert llm.n_tokens == 3
    llm.kv_cache_seq_rm(-1)
    assert llm.n_tokens == 0
    with pytest.raises(IndexError):
        llm.logits_ith(5)


def test_errors_are_exceptions(llm):
    with kestrel.Llama(llm.model_path, n_ctx=16, n_threads=1) as m:
        with pytest.raises(kestrel.KestrelLimitError) as e:
            m.eval(list(range(100, 120)))
        assert "16" in e.value.message
        with pytest.raises(kestrel.KestrelInvalidArgumentError):
            m.eval([m.n_vocab() + 5])
        m.eval([1, 2, 3])
        assert m.n_tokens == 3
        with pytest.raises(kestrel.KestrelLimitError):
            m("word " * 40, max_tokens=2)
    with pytest.raises(kestrel.KestrelLimitError):
        kestrel.Llama(llm.model_path, n_ctx=10 ** 7)
    with pytest.raises(kestrel.KestrelError) as e:
        kestrel.Batch(0)
    assert e.value.status == -6
    with pytest.raises(kestrel.KestrelNotFoundError):
        with kestrel.Llama(llm.model_path, n_ctx=16, n_threads=1) as m:
            m.chat_format = None
            m._template = lambda: (_ for _ in ()).throw(kestrel.KestrelNotFoundError("no template"))
            m.create_chat_completion([{"role": "user", "content": "hi"}])


def test_model_facts(llm):
    assert llm.n_vocab() == 49152 and llm.n_ctx() == 512 and llm.n_embd() == 576
    md = llm.metadata
    assert md["general.architecture"] == "llama" and "tokenizer.chat_template" in md
    assert llm.token_is_eog(llm.tokenize("<|im_end|>", add_bos=False, special=True)[0])
    assert llm.token_to_piece(llm.tokenize(" hello", add_bos=False)[0]) == b" hello"
    assert "KERNELS" in kestrel.Llama.system_info() or "|" in kestrel.Llama.system_info()


def test_state_save_load(llm):
    ref = greedy(llm)
    llm.reset()
    llm.eval(llm.tokenize(PROMPT, special=True))
    logits, st = llm.logits(), llm.save_state()
    assert st.n_tokens == llm.n_tokens and len(st.state) > 0
    greedy(llm, "Something else entirely", 5)
    llm.load_state(st)
    assert llm.n_tokens == st.n_tokens and np.array_equal(llm.logits(), logits)
    assert greedy(llm) == ref  # the prompt is reused from the restored cache
    bad, n0 = kestrel.LlamaState(st.input_ids, b"XXXX" + st.state[4:]), llm.n_tokens
    with pytest.raises(kestrel.KestrelFormatError) as e:
        llm.load_state(bad)
    assert "not a Kestrel state" in e.value.message and llm.n_tokens == n0 and llm.kv_cache_used() == n0
    with kestrel.Llama(llm.model_path, n_ctx=64, n_threads=1) as other:  # a smaller cache holds it too
        other.load_state(st)
        assert np.array_equal(other.logits(), logits)
