#!/usr/bin/env python3
"""make_chat_goldens.py - render reference conversations through the reference
chat templates with jinja2 exactly as Hugging Face transformers'
apply_chat_template does, and write tests/data/chat_goldens.txt for
tests/unit/test_chat.c.

Setup:  python3 -m venv /work/cache/chatvenv && /work/cache/chatvenv/bin/pip install jinja2 gguf
Run:    /work/cache/chatvenv/bin/python tests/oracle/make_chat_goldens.py [path/to/SmolLM2-135M-Instruct.gguf]

The SmolLM2 template is read from the GGUF's tokenizer.chat_template (and
written to tests/data/chat_templates/smollm2.jinja); when the GGUF is absent
the committed copy is used. The other templates are the public
tokenizer_config.json chat_template strings of meta-llama/Meta-Llama-3-8B-Instruct,
meta-llama/Llama-2-7b-chat-hf, HuggingFaceH4/zephyr-7b-beta, google/gemma-7b-it.

Golden format (bytes, no escaping; every payload is followed by one '\n'):
    case <name> <template file> <add_generation_prompt 0|1> <n_msgs>
    role <len>\n<bytes>\n  content <len>\n<bytes>\n      (n_msgs times)
    expect <len>\n<bytes>\n   or   raises <len>\n<message>\n
"""
import os
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TDIR = os.path.join(ROOT, "tests", "data", "chat_templates")
OUT = os.path.join(ROOT, "tests", "data", "chat_goldens.txt")
GGUF = os.path.join(os.environ.get("KS_CACHE_DIR", "/work/cache"), "models", "SmolLM2-135M-Instruct.Q4_1.gguf")

# special tokens each model's tokenizer passes to its template (special_tokens_map)
TOKENS = {
    "smollm2.jinja": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
    "llama3.jinja": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama2.jinja": {"bos_token": "<s>", "eos_token": "</s>"},
    "zephyr.jinja": {"bos_token": "<s>", "eos_token": "</s>"},
    "gemma.jinja": {"bos_token": "<bos>", "eos_token": "<eos>"},
}

S, U, A = "system", "user", "assistant"
CONVERSATIONS = {
    "one_user": [(U, "Hello!")],
    "system_user": [(S, "You are a terse assistant."), (U, "What is 2+2?")],
    "multi_turn": [(S, "You are a helpful assistant"), (U, "Hello"), (A, "Hi there"), (U, "Who are you"),
                   (A, "   I am an assistant   "), (U, "Another question")],
    "no_system_multi": [(U, "Hi"), (A, "Hello! How can I help?"), (U, "Tell me a joke.")],
    "ends_with_assistant": [(U, "Name a colour."), (A, "Blue.")],
    "unicode": [(U, "H\u00e9llo, \u4e16\u754c! \U0001F999 \u2014 \u00fcn\u00efc\u00f6d\u00e9"),
                (A, "\u00a0\u3000R\u00e9ponse: \u03c0 \u2248 3.14159\u2003\n"), (U, "\u2028\u65e5\u672c\u8a9e\u3067\uff1f")],
    "whitespace": [(S, "  sys with spaces  "), (U, "\n\t  spaced out \t\n"), (A, " \r\n"), (U, "")],
    "empty_content": [(U, "")],
    "newlines": [(U, "line one\nline two\n\nline four"), (A, "a\nb"), (U, "{{ not a template }} {% neither %}")],
    "empty": [],
}


def hf_environment():
    """The environment transformers' _compile_jinja_template builds."""
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["raise_exception"] = raise_exception
    return env


def smollm2_template():
    path = os.path.join(TDIR, "smollm2.jinja")
    gguf_path = sys.argv[1] if len(sys.argv) > 1 else GGUF
    if os.path.exists(gguf_path):
        import gguf
        f = gguf.GGUFReader(gguf_path).fields["tokenizer.chat_template"]
        text = bytes(f.parts[f.data[0]]).decode("utf-8")
        with open(path, "w", encoding="utf-8", newline="") as fp:
            fp.write(text)
    elif not os.path.exists(path):
        sys.exit("no SmolLM2 GGUF at %s and no committed smollm2.jinja" % gguf_path)


def record(out, key, payload):
    data = payload.encode("utf-8")
    out.write(b"%s %d\n" % (key.encode(), len(data)))
    out.write(data + b"\n")


def main():
    smollm2_template()
    env = hf_environment()
    n_cases = n_raises = 0
    with open(OUT, "wb") as out:
        out.write(b"# chat goldens from tests/oracle/make_chat_goldens.py (jinja2 %s); do not edit\n"
                  % jinja2.__version__.encode())
        for tfile in sorted(TOKENS):
            with open(os.path.join(TDIR, tfile), encoding="utf-8", newline="") as fp:
                tmpl = env.from_string(fp.read())
            for name, conv in CONVERSATIONS.items():
                for add_gen in (False, True):
                    msgs = [{"role": r, "content": c} for r, c in conv]
                    out.write(b"case %s %s %d %d\n" % (name.encode(), tfile.encode(), add_gen, len(msgs)))
                    for m in msgs:
                        record(out, "role", m["role"])
                        record(out, "content", m["content"])
                    try:
                        text = tmpl.render(messages=msgs, add_generation_prompt=add_gen, **TOKENS[tfile])
                        record(out, "expect", text)
                    except jinja2.exceptions.TemplateError as e:
                        record(out, "raises", str(e))
                        n_raises += 1
                    except IndexError as e:  # messages[0] of an empty conversation: HF fails too
                        record(out, "raises", "IndexError: %s" % e)
                        n_raises += 1
                    n_cases += 1
    print("wrote %s: %d cases (%d raise in jinja)" % (OUT, n_cases, n_raises))


if __name__ == "__main__":
    main()
