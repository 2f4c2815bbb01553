"""Float64 logits of models/llama + each PEFT adapter fixture, to measure float32 error against the truth.

The adapters' reference.safetensors hold PEFT's float32 logits, which carry float32 rounding of their own (about
9e-6 relative for rsLoRA, whose scale alpha/sqrt(r) is twice LoRA's). This computes the same forward in float64 (the
bf16 weights widened exactly, the adapter applied unmerged as PEFT applies it), so a test can bound Crucible's error
against the exact result instead of against another float32 implementation.

Writes testdata/hf/adapters/<kind>/reference_f64.safetensors: logits_f64 [2,12,512] F64 for that reference's input_ids.
Usage: python tools/adapter_float64_reference.py [TESTDATA_HF]   (default testdata/hf; CPU, seconds)
"""
import os
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

root = sys.argv[1] if len(sys.argv) > 1 else "testdata/hf"
base = os.path.join(root, "models", "llama")
for kind in ("lora", "rslora", "dora"):
    adapter = os.path.join(root, "adapters", kind)
    ids = load_file(os.path.join(adapter, "reference.safetensors"))["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).to(torch.float64)
    peft = PeftModel.from_pretrained(model, adapter).to(torch.float64).eval()
    with torch.no_grad():
        logits = peft(ids).logits
    save_file({"logits_f64": logits.contiguous()}, os.path.join(adapter, "reference_f64.safetensors"))
    print(kind, tuple(logits.shape), "max |logit|", logits.abs().max().item())
