"""Loads each model directory with transformers and writes its float32 logits for the same input ids.

usage: transformers_logits.py OUT.safetensors INPUT_IDS_JSON DIR...
Writes tensor "logits.K" for the K-th directory that loaded, and prints one JSON object per directory on
stdout: {"dir", "ok", "error", "model_type", "vocab_size", "layers"}. A checkpoint with missing, unexpected or
mismatched weights counts as not loaded: transformers would silently initialise those at random.
Attention is "eager", transformers' reference implementation: its default "sdpa" path drops Gemma-2's attention
logit soft-capping (relative error ~2e-4 against eager on the gemma2 fixture), which Crucible applies. One process serves all directories so
that torch's start-up is paid once.
"""
import json
import sys
import traceback

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

out_path, ids_json, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
input_ids = torch.tensor(json.loads(ids_json), dtype=torch.long)
tensors = {}
for k, d in enumerate(dirs):
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
        report.update(ok=True, model_type=model.config.model_type, vocab_size=model.config.vocab_size,
                      layers=model.config.num_hidden_layers)
    except Exception:
        report["error"] = traceback.format_exc(limit=3)
    print(json.dumps(report), flush=True)
save_file(tensors, out_path)
