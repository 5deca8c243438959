"""Variants of the committed Hugging Face test folder (tests/data/hf-tiny-llama), made by editing
its JSON files only, shared by the e2e test and the oracle scripts so both see the same folder.

llama3tok: the same weights and vocabulary with a Llama-3-style tokenizer: the Llama 3 split regex
then ByteLevel without its regex, model.ignore_merges, and a TemplateProcessing post-processor
that adds the BOS token (<|im_start|> here); tokenizer_config asks for add_bos_token.
Usage: python3 tests/e2e/ks_hf_variants.py OUT_PARENT  -> OUT_PARENT/hf-tiny-llama3tok"""
import json, os, shutil, sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "hf-tiny-llama")
RE_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
             r"\s*[\r\n]+|\s+(?!\S)|\s+")


def llama3tok(parent):
    """copies the folder to parent/hf-tiny-llama3tok with a Llama-3-style tokenizer; returns its path"""
    out = os.path.join(parent, "hf-tiny-llama3tok")
    if os.path.isdir(out):
        shutil.rmtree(out)
    shutil.copytree(SRC, out)
    p = os.path.join(out, "tokenizer.json")
    t = json.load(open(p, encoding="utf-8"))
    t["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": RE_LLAMA3}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    bos = {"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}
    t["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing", "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, dict(bos, SpecialToken=dict(bos["SpecialToken"], type_id=1)),
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}}}]}
    t["model"]["ignore_merges"] = True
    json.dump(t, open(p, "w", encoding="utf-8"), ensure_ascii=False)
    p = os.path.join(out, "tokenizer_config.json")
    c = json.load(open(p, encoding="utf-8"))
    c["add_bos_token"] = True
    json.dump(c, open(p, "w", encoding="utf-8"), indent=2)
    return out


if __name__ == "__main__":
    print(llama3tok(sys.argv[1]))
