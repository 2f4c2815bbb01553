"""mergekit-moe's `hidden` router rows (moe/router.py) with transformers' forward pass in float32 or bfloat16.

stdin: {"base": DIR, "experts": [[positive prompts], [negative prompts]], ...], "dtype": "float32"|"bfloat16",
"out": OUT.safetensors}. As mergekit: BOS-prefixed prompts, left-padded with pad = BOS, hidden_states[:-1] at the
last position, the hidden states taken as bfloat16 (mergekit's model is bfloat16) and averaged, negatives
subtracted and L2-normalised in bfloat16. Writes "gate.L" = [experts, hidden] per layer.
"""
import json
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

request = json.load(sys.stdin)
tok = AutoTokenizer.from_pretrained(request["base"])
tok.padding_side = "left"
tok.pad_token_id = tok.bos_token_id
model = AutoModelForCausalLM.from_pretrained(request["base"], dtype=getattr(torch, request["dtype"]))
model.eval()


def hidden(prompts):
    batch = tok([tok.bos_token + p for p in prompts], return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    states = torch.stack(out.hidden_states[:-1])[:, :, -1, :].bfloat16()
    return states.sum(dim=1) / states.shape[1]


gates = []
for positive, negative in request["experts"]:
    h = hidden(positive)
    if negative:
        h -= hidden(negative)
    h /= h.norm(p=2, dim=-1, keepdim=True).clamp(min=1e-8)
    gates.append(h)
gates = torch.stack(gates, dim=0).permute(1, 0, 2)
save_file({"gate.%d" % l: gates[l].contiguous() for l in range(gates.shape[0])}, request["out"])
print(json.dumps({"ok": True}))
