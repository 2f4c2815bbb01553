#!/usr/bin/env python3
"""Runs llama.cpp's convert_hf_to_gguf.py unchanged, several times in one process, with one addition: a `pre`.

    gguf_convert_reference.py LLAMA_CPP JOBS.json

JOBS.json is a list of {"argv": [convert_hf_to_gguf.py arguments...], "pre": NAME or null}. One process serves
every job so that torch and transformers load once.

The converter names a BPE pre-tokenizer by hashing the ids of a fixed text and refuses tokenizers it does not
know. The test fixtures use a tiny byte-level BPE tokenizer that no table knows, so for them `pre` makes an
unrecognised hash resolve to NAME, exactly what `crucible export gguf --pre NAME` does. A recognised hash keeps
the converter's own answer.
"""
import json
import runpy
import sys
from pathlib import Path

llama_cpp = Path(sys.argv[1])
jobs = json.loads(Path(sys.argv[2]).read_text())

sys.path.insert(0, str(llama_cpp))
sys.path.insert(1, str(llama_cpp / "gguf-py"))
import conversion.base as base  # noqa: E402

original = base.TextModel.get_vocab_base_pre
current_pre = None


def get_vocab_base_pre(self, tokenizer):
    try:
        return original(self, tokenizer)
    except NotImplementedError:
        if current_pre is None:
            raise
        return current_pre


base.TextModel.get_vocab_base_pre = get_vocab_base_pre

for job in jobs:
    current_pre = job.get("pre")
    sys.argv = [str(llama_cpp / "convert_hf_to_gguf.py")] + job["argv"]
    runpy.run_path(str(llama_cpp / "convert_hf_to_gguf.py"), run_name="__main__")
