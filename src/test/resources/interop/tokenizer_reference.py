"""Prints what transformers' AutoTokenizer does with each tokenizer directory given on the command line.

Input (stdin): {"dirs": [...], "texts": [...]}. Output (stdout): one JSON object per directory with the
special token ids, len(tokenizer) and, per text, the ids with and without special tokens and both decodes.
"""
import json
import sys

from transformers import AutoTokenizer

request = json.load(sys.stdin)
out = []
for d in request["dirs"]:
    tok = AutoTokenizer.from_pretrained(d)
    cases = []
    for text in request["texts"]:
        with_special = tok(text)["input_ids"]
        cases.append({
            "text": text,
            "with_special": with_special,
            "without_special": tok(text, add_special_tokens=False)["input_ids"],
            "decode": tok.decode(with_special),
            "decode_skip": tok.decode(with_special, skip_special_tokens=True),
        })
    out.append({"dir": d, "len": len(tok), "bos": tok.bos_token_id, "eos": tok.eos_token_id,
                "pad": tok.pad_token_id, "unk": tok.unk_token_id, "cases": cases})
json.dump(out, sys.stdout)
