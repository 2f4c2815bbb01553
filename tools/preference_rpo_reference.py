"""Reference for DPO with an NLL term on the chosen completions (RPO; Axolotl's rpo_alpha) from TRL 1.13 itself.

TRL 1.13 expresses RPO as DPOConfig(loss_type=["sigmoid", "sft"], loss_weights=[1.0, alpha]). This script runs
TRL's DPOTrainer that way on the fixture of tools/preference_reference.py (its tokenizer, its standard rows, its
starting adapter, all read from PREFDIR = testdata/hf/training/preference, which that script made) with beta 0.1,
max_length 36 and alpha ALPHA, and writes into PREFDIR

rpo_metrics.json: TRL's logged metrics of 3 steps, full and LoRA, settings as tools/preference_reference.py's dpo runs
(every row in one micro-batch, AdamW, cosine, max_grad_norm 1, learning rate 1e-3 full / 5e-3 LoRA), 2 threads;
rpo_gradients.safetensors:

  loss.{full,lora}            the loss of TRL's first step on the whole data set as one micro-batch
  sft.{full,lora}             that step's "sft" term alone (the chosen completions' mean cross entropy)
  grad.{full,lora}.NAME       the gradient of that loss for every trainable parameter (names as saved)

Usage: python tools/preference_rpo_reference.py PREFDIR   (CPU, float32, seconds)
"""
import json
import os
import shutil
import sys
import tempfile

import torch
import transformers
from datasets import Dataset
from safetensors.torch import save_file

import trl
from trl import DPOConfig, DPOTrainer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from preference_reference import Recorder, common_args, first_step_gradients, model_dir, start  # noqa: E402

ALPHA = 0.5  # not 1, so that a weight applied to the wrong term shows
BETA = 0.1
MAX_LENGTH = 36


def rpo_config(out, rows, lr):
    return common_args(DPOConfig, out, len(rows), learning_rate=lr, beta=BETA, loss_type=["sigmoid", "sft"],
                       loss_weights=[1.0, ALPHA], max_length=MAX_LENGTH)


def rpo_run(kind, model_path, tok_dir, adapter, rows):
    tok, model = start(kind, model_path, tok_dir, adapter)
    lr = 1e-3 if kind == "full" else 5e-3
    rec = Recorder()
    with tempfile.TemporaryDirectory() as out:
        DPOTrainer(model=model, args=rpo_config(out, rows, lr), train_dataset=Dataset.from_list(rows),
                   processing_class=tok, callbacks=[rec]).train()
    print(f"{kind}: " + ", ".join(f"{s['loss']:.6f}" for s in rec.steps), flush=True)
    return {"data": "standard", "learning_rate": lr, "max_length": MAX_LENGTH, "threads2": rec.steps}


def rpo_step(kind, model_path, tok_dir, adapter, rows):
    tok, model = start(kind, model_path, tok_dir, adapter)
    with tempfile.TemporaryDirectory() as out:
        trainer = DPOTrainer(model=model, args=rpo_config(out, rows, 1e-3), train_dataset=Dataset.from_list(rows),
                             processing_class=tok, callbacks=[Recorder()])
        out_tensors, batch = first_step_gradients(trainer, kind)
        # the sft term alone, the same way with loss_type ["sft"] (no gradient needed)
        trainer.loss_types, trainer.loss_weights = ["sft"], [1.0]
        with torch.no_grad():
            sft = trainer.compute_loss(trainer.model, batch)
        out_tensors[f"sft.{kind}"] = sft.detach().reshape(1).clone()
    print(f"{kind}: loss {out_tensors[f'loss.{kind}'].item():.8f}, sft {sft.item():.8f}", flush=True)
    return out_tensors


def main(pref_dir):
    transformers.logging.set_verbosity_error()
    tok_dir = os.path.join(pref_dir, "tokenizer")
    adapter = os.path.join(pref_dir, "adapter")
    with open(os.path.join(pref_dir, "data", "standard.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    model_path = model_dir(tok_dir)
    metrics = {"versions": {"trl": trl.__version__, "torch": torch.__version__,
                            "transformers": transformers.__version__, "peft": __import__("peft").__version__},
               "settings": {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, ALPHA], "beta": BETA, "steps": 3},
               "runs": {f"rpo/{kind}": rpo_run(kind, model_path, tok_dir, adapter, rows) for kind in ("full", "lora")}}
    with open(os.path.join(pref_dir, "rpo_metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    tensors = {}
    for kind in ("full", "lora"):
        tensors.update(rpo_step(kind, model_path, tok_dir, adapter, rows))
    save_file(tensors, os.path.join(pref_dir, "rpo_gradients.safetensors"),
              metadata={"trl": trl.__version__, "torch": torch.__version__, "alpha": str(ALPHA), "beta": str(BETA),
                        "max_length": str(MAX_LENGTH), "loss_type": "sigmoid,sft"})
    shutil.rmtree(model_path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
