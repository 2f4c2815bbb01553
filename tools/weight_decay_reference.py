#!/usr/bin/env python3
"""Reference for full fine-tuning with weight decay as the Hugging Face Trainer does it (and so Axolotl and TRL).

The Trainer builds two AdamW parameter groups: `Trainer.get_decay_parameter_names(model)` (everything except biases,
norm weights and nn.LayerNorm modules) with `weight_decay`, the rest with 0. This script takes the tiny `qwen2`
fixture (q/k/v biases, RMSNorms) in float32, builds exactly those groups with the Trainer's own function, and runs two
`torch.optim.AdamW` steps (lr 1e-2, betas 0.9/0.999, eps 0.1, weight_decay 0.5, no clipping, constant rate) of
full fine-tuning on the fixture's `input_ids` with the first 4 labels of each row masked. The large eps keeps the
update a smooth function of the gradient: with eps 1e-8 Adam's first steps move every weight by about ±lr whatever the
size of its gradient, so float rounding in a gradient that is nearly zero flips whole steps. It writes

  OUT/reference.safetensors  input_ids, labels, after_step2.<name> for every parameter
  OUT/no_decay.json          {fixture: [names outside the decay group]} for every fixture model in testdata/hf/models

Usage: tools/weight_decay_reference.py [TESTDATA_HF] [OUT]   (defaults: testdata/hf, testdata/hf/training/weight_decay)
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, Trainer

HF = sys.argv[1] if len(sys.argv) > 1 else "testdata/hf"
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HF, "training", "weight_decay")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(0)


def load(name):
    return AutoModelForCausalLM.from_pretrained(os.path.join(HF, "models", name), dtype=torch.float32)


def no_decay(model):
    decay = set(Trainer.get_decay_parameter_names(None, model))  # the method does not use self
    return sorted(n for n, _ in model.named_parameters() if n not in decay)


names = {}
for arch in sorted(os.listdir(os.path.join(HF, "models"))):
    if os.path.isfile(os.path.join(HF, "models", arch, "model.safetensors")):
        names[arch] = no_decay(load(arch))

model = load("qwen2")
model.train()
ids = load_file(os.path.join(HF, "models", "qwen2", "reference.safetensors"))["input_ids"]
labels = ids.clone()
labels[:, :4] = -100
decay = set(Trainer.get_decay_parameter_names(None, model))
params = dict(model.named_parameters())
groups = [{"params": [p for n, p in params.items() if n in decay], "weight_decay": 0.5},
          {"params": [p for n, p in params.items() if n not in decay], "weight_decay": 0.0}]
opt = torch.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.999), eps=0.1)
for _ in range(2):
    opt.zero_grad()
    model(input_ids=ids, labels=labels).loss.backward()
    opt.step()
ref = {"input_ids": ids.contiguous(), "labels": labels.contiguous()}
for n, p in params.items():
    ref["after_step2." + n] = p.detach().float().contiguous()
save_file(ref, os.path.join(OUT, "reference.safetensors"),
          metadata={"transformers": transformers.__version__, "torch": torch.__version__})
with open(os.path.join(OUT, "no_decay.json"), "w") as f:
    json.dump(names, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", OUT, {k: len(v) for k, v in names.items()})
