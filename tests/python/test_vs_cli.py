"""The package's outputs equal the CLI's on SmolLM2: tokens (`kestrel tokenize`), logits at
every position (`kestrel logits`, float32; tolerance 1e-5 absolute, expected exact: the same
library code runs), greedy and seeded text (`kestrel generate`), chat through the template."""
import os

import numpy as np
import pytest

import kestrel
from conftest import SAN, THREADS, cli

TEXTS = ["Hello world", "The quick brown fox jumps over the lazy dog.", "  leading spaces\tand\ttabs\n\nnewlines",
         "Ünïcödé: 日本語のテキスト, emoji 🦅", "<|im_start|>user\nhi<|im_end|>", ""]


@pytest.mark.parametrize("flags", [(), ("--no-bos",), ("--parse-special",), ("--no-bos", "--parse-special")])
def test_tokens_equal_cli(llm, model_path, flags):
    for text in TEXTS:
        if not text:
            continue
        out = cli("tokenize", "-m", model_path, "-p", text, *flags).stdout.split()
        ids = llm.tokenize(text, add_bos="--no-bos" not in flags, special="--parse-special" in flags)
        assert ids == [int(x) for x in out], text
        assert llm.tokenize(text.encode("utf-8"), add_bos="--no-bos" not in flags,
                            special="--parse-special" in flags) == ids


def test_detokenize_round_trip(llm):
    for text in TEXTS:
        ids = llm.tokenize(text, add_bos=False)
        assert llm.detokenize(ids) == text.encode("utf-8")
    ids = llm.tokenize("<|im_start|>user", add_bos=False, special=True)
    assert llm.detokenize(ids) == b"user" and llm.detokenize(ids, special=True) == b"<|im_start|>user"


@pytest.mark.parametrize("n_ctx", [0, 512])  # 0: as the CLI (n_ctx = the prompt's length)
def test_logits_equal_cli(model_path, tmp_path, n_ctx):
    ids = kestrel.Llama(model_path, n_ctx=8, n_threads=THREADS).tokenize("The capital of France is Paris, and")
    out = tmp_path / "logits.bin"
    cli("logits", "-m", model_path, "--ids", " ".join(map(str, ids)), "-o", out, "-t", THREADS)
    ref = np.fromfile(out, dtype=np.float32).reshape(len(ids), -1)
    with kestrel.Llama(model_path, n_ctx=n_ctx or len(ids), n_batch=n_ctx or len(ids), n_threads=THREADS,
                       logits_all=True) as m:
        m.eval(ids)
        got = m.scores
        assert got.dtype == np.float32 and got.shape == ref.shape == (len(ids), m.n_vocab())
        diff = float(np.abs(got - ref).max())
        print("logits vs CLI, n_ctx %d: max |diff| %.3g over %d positions" % (n_ctx, diff, len(ids)))
        assert diff <= 1e-5
        assert np.array_equal(m.logits(), ref[-1])
    with kestrel.Llama(model_path, n_ctx=64, n_threads=THREADS) as m:  # without logits_all: the last row only
        m.eval(ids)
        assert float(np.abs(m.logits() - ref[-1]).max()) <= 1e-5 and m.eval_logits.shape == (1, ref.shape[1])


PROMPTS = ["The capital of France is", "def fibonacci(n):"]
N = 12 if SAN else 24  # tokens generated


def cli_text(model_path, prompt, n, *sampling):
    r = cli("generate", "-m", model_path, "-p", prompt, "-n", n, "-t", THREADS, *sampling)
    return r.stdout.decode("utf-8", "replace")


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_text_equals_cli(llm, model_path, prompt):
    ref = cli_text(model_path, prompt, N, "--temp", "0")
    r = llm(prompt, max_tokens=N, temperature=0)
    assert r["choices"][0]["text"] == ref
    assert r["usage"]["prompt_tokens"] == len(llm.tokenize(prompt, special=True))
    assert r["choices"][0]["finish_reason"] in ("length", "stop")
    streamed = "".join(c["choices"][0]["text"] for c in llm(prompt, max_tokens=N, temperature=0, stream=True))
    assert streamed == ref


def test_seeded_sampling_equals_cli(llm, model_path):
    ref = cli_text(model_path, PROMPTS[0], 16, "--temp", "0.9", "--seed", "1234")
    assert llm(PROMPTS[0], max_tokens=16, temperature=0.9, seed=1234)["choices"][0]["text"] == ref


def test_chat_completion_uses_template(llm, model_path):
    msgs = [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"}]
    text = llm.apply_chat_template(msgs)
    assert "<|im_start|>user\nWhat is the capital of France?<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    ids = llm.tokenize_chat(msgs)
    assert ids == llm.tokenize(text, add_bos=True, special=True)
    r = llm.create_chat_completion(msgs, max_tokens=N + 16, temperature=0)
    reply = r["choices"][0]["message"]
    assert reply["role"] == "assistant" and reply["content"].strip()
    # the CLI on the rendered prompt, up to the end-of-turn token, gives the same reply
    assert reply["content"] == cli_text(model_path, text, N + 16, "--temp", "0")
    assert r["usage"]["prompt_tokens"] == len(ids)
    chunks = list(llm.create_chat_completion(msgs, max_tokens=N + 16, temperature=0, stream=True))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == reply["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == r["choices"][0]["finish_reason"]
    # content is plain text: control-token text in a message is not markup
    inj = [{"role": "user", "content": "<|im_end|>"}]
    assert llm.tokenize_chat(inj) != llm.tokenize(llm.apply_chat_template(inj), add_bos=True, special=True)


def test_bad_model_path_raises_with_the_c_message(tmp_path):
    missing = str(tmp_path / "missing.gguf")
    with pytest.raises(kestrel.KestrelIOError) as e:
        kestrel.Llama(missing)
    msg = cli("info", "-m", missing, check=False).stderr.decode()
    assert missing in str(e.value) and e.value.message in msg, (str(e.value), msg)
    assert e.value.status == -1 and isinstance(e.value, kestrel.KestrelError)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 60)
    with pytest.raises(kestrel.KestrelUnsupportedError) as e:  # a version no reader knows
        kestrel.Llama(str(bad))
    assert e.value.message in cli("info", "-m", bad, check=False).stderr.decode() and e.value.status == -4
    assert e.value.status_name == "unsupported" and isinstance(e.value, NotImplementedError)
