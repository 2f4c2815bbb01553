"""Loads a base model with a PEFT adapter (PeftModel.from_pretrained) and writes its float32 logits.

stdin: {"base": DIR, "adapter": DIR, "input_ids": [[...]], "out": OUT.safetensors}. (An adapter whose keys PEFT
did not load leaves those modules at their initial values, which the caller's logit comparison catches.)
"""
import json
import sys

import torch
from peft import PeftModel
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

request = json.load(sys.stdin)
model = AutoModelForCausalLM.from_pretrained(request["base"], dtype=torch.float32, attn_implementation="eager")
model = PeftModel.from_pretrained(model, request["adapter"])
model.eval()
with torch.no_grad():
    logits = model(torch.tensor(request["input_ids"], dtype=torch.long)).logits
save_file({"logits": logits.float().contiguous()}, request["out"])
print(json.dumps({"ok": True}))
