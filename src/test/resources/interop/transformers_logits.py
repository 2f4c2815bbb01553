"""Loads each model directory with transformers and writes what it computes, for comparison with Crucible.

stdin: {"out": OUT.safetensors, "input_ids": [[...]], "text": str, "messages": [...], "dirs": [DIR, ...]}
Writes float32 tensor "logits.K" for the K-th directory that loaded, and prints one JSON object per directory
on stdout: {"dir", "ok", "error", "model_type", "vocab_size", "layers"}, plus, where the directory has a
tokenizer, "tokenizer_size" and "ids" (text encoded with special tokens) and, where it has a chat template,
"chat" (the messages rendered with the generation prompt). A checkpoint with missing, unexpected or mismatched
weights counts as not loaded: transformers would silently initialise those at random. Attention is "eager",
transformers' reference implementation: its default "sdpa" path drops Gemma-2's attention logit soft-capping
(relative error ~2e-4 against eager on the gemma2 fixture), which Crucible applies. One process serves all
directories so that torch's start-up is paid once.
"""
import json
import os
import sys
import traceback

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

request = json.load(sys.stdin)
input_ids = torch.tensor(request["input_ids"], dtype=torch.long)
tensors = {}
for k, d in enumerate(request["dirs"]):
    report = {"dir": d, "ok": False}
    try:
        model, info = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager",
                                                           output_loading_info=True)
        bad = {key: sorted(map(str, v)) for key, v in info.items() if key != "error_msgs" and v}
        if bad or info.get("error_msgs"):
            raise ValueError("loading info: %s %s" % (bad, info.get("error_msgs")))
        model.eval()
        with torch.no_grad():
            logits = model(input_ids).logits
        tensors["logits.%d" % k] = logits.float().contiguous()
        report.update(model_type=model.config.model_type, vocab_size=model.config.vocab_size,
                      layers=model.config.num_hidden_layers)
        if os.path.exists(os.path.join(d, "tokenizer.json")):
            tok = AutoTokenizer.from_pretrained(d)
            report.update(tokenizer_size=len(tok), ids=tok.encode(request["text"]))
            if tok.chat_template:
                report["chat"] = tok.apply_chat_template(request["messages"], tokenize=False,
                                                         add_generation_prompt=True)
        report["ok"] = True
    except Exception:
        report["error"] = traceback.format_exc(limit=3)
    print(json.dumps(report), flush=True)
save_file(tensors, request["out"])
