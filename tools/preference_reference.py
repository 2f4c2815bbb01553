"""Reference values for preference training (DPO, IPO, robust DPO, ORPO, SimPO, KTO) from TRL 1.13 itself.

Runs TRL's own trainers (DPOTrainer, KTOTrainer, experimental ORPOTrainer and CPOTrainer) on the tiny float32 Llama
of testdata/hf/models/llama with a Llama-style byte-level tokenizer (testdata/hf/tokenizers/bytelevel_bpe plus a
post-processor that adds BOS, as Llama's does) and writes, into OUTDIR (testdata/hf/training/preference):

  tokenizer/            the fixture tokenizer (tokenizer.json with BOS, tokenizer_config.json, chat_template.jinja)
  data/*.jsonl          the rows: standard strings, conversational messages, implicit prompts, unpaired (KTO)
  adapter/              the fixed starting adapter (PEFT, r 4, every linear layer, B non-zero) for LoRA runs,
                        which TRL and Crucible both load (Axolotl's lora_model_dir)
  metrics.json          per method and full/lora: TRL's logged metrics of every step, run with 1 and with 2 torch
                        threads (their difference is TRL's own float32 noise), and the settings used (max_length
                        36 on the short rows, so that the longest is truncated; 64 on the conversational ones)
  gradients.safetensors the gradient of one DPO step (sigmoid) for every trainable parameter, full and LoRA,
                        names as saved (HF names; PEFT names without ".default"), and that step's loss
  tokenization.json     TRL's tokenised rows (prompt / completion ids, KL completions, ORPO labels) and its collated
                        batches for each data file and trainer family, with a small max_length so that truncation and
                        dropping show

Every step of a run sees every row (one micro-batch holding the whole data set), so data order cannot matter.

Usage: python tools/preference_reference.py OUTDIR   (CPU, float32, about a minute)
"""
import copy
import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import torch
import transformers
from datasets import Dataset
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from peft import LoraConfig, PeftModel, get_peft_model

import trl
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer
from trl.experimental.cpo import CPOConfig, CPOTrainer
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "testdata/hf/models/llama")
TOKENIZER = os.path.join(ROOT, "testdata/hf/tokenizers/bytelevel_bpe")
STEPS = 3
MAX_LENGTH = 40

STANDARD = [
    {"prompt": "Q: 2+3=", "chosen": " 5", "rejected": " 7"},
    {"prompt": "Q: 4+4=", "chosen": " 8", "rejected": " 9</s>"},
    {"prompt": "Name a colour of the sky.", "chosen": " Blue, on a clear day.", "rejected": " Green."},
    {"prompt": "Say hello.", "chosen": " Hello! How are you today, my friend?", "rejected": " No."},
]

CONVERSATIONAL = [
    {"prompt": [{"role": "user", "content": "What is 2+3?"}],
     "chosen": [{"role": "assistant", "content": "5"}],
     "rejected": [{"role": "assistant", "content": "7, I think"}]},
    {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Sky colour?"}],
     "chosen": [{"role": "assistant", "content": "Blue."}],
     "rejected": [{"role": "assistant", "content": "It is green."}]},
    {"prompt": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                {"role": "user", "content": "And 1+1?"}],
     "chosen": [{"role": "assistant", "content": "2"}],
     "rejected": [{"role": "assistant", "content": "11"}]},
    {"prompt": [{"role": "user", "content": "Say yes."}],
     "chosen": [{"role": "assistant", "content": "Yes."}],
     "rejected": [{"role": "assistant", "content": "No, never."}]},
]

# chosen/rejected only: the prompt is their longest common prefix (TRL's extract_prompt)
IMPLICIT = [
    {"chosen": [{"role": "user", "content": "What is 3+3?"}, {"role": "assistant", "content": "6"}],
     "rejected": [{"role": "user", "content": "What is 3+3?"}, {"role": "assistant", "content": "33"}]},
    {"chosen": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris."}],
     "rejected": [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Rome."}]},
]
IMPLICIT_STANDARD = [
    {"chosen": "The sum of 2 and 2 is 4.", "rejected": "The sum of 2 and 2 is 5."},
    {"chosen": "Water boils at 100 C.", "rejected": "Water boils at 50 C."},
]

KTO_ROWS = [
    {"prompt": "Q: 2+3=", "completion": " 5", "label": True},
    {"prompt": "Q: 2+3=", "completion": " 7", "label": False},
    {"prompt": "Say hello.", "completion": " Hello there, friend!", "label": True},
    {"prompt": "Name a colour of the sky.", "completion": " Green.", "label": False},
]

# rows for the tokenisation fixture: a prompt that fills MAX_LENGTH (dropped by DPO/KTO), completions cut by it
LONG = [
    {"prompt": "This prompt is far too long to fit: " + "word " * 12, "chosen": " yes", "rejected": " no"},
    {"prompt": "Short?", "chosen": " A long answer that goes on and on and on and on for a long while.", "rejected": " Brief."},
]
KTO_LONG = [
    {"prompt": "This prompt is far too long to fit: " + "word " * 12, "completion": " yes", "label": True},
    {"prompt": "Short?", "completion": " A long answer that goes on and on and on and on for a long while.", "label": False},
    {"prompt": "Q: 1+1=", "completion": " 2", "label": True},
]


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def make_tokenizer(out):
    """The byte-level BPE fixture with a post-processor that adds BOS to every encoding (Llama's behaviour)."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(TOKENIZER, "tokenizer.json")) as f:
        tok = json.load(f)
    tok["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
    }
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    for name in ("tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(os.path.join(TOKENIZER, name), os.path.join(out, name))


def model_dir(tokenizer_dir):
    """A model directory as a user has it: the fixture weights plus the tokenizer."""
    d = tempfile.mkdtemp(prefix="pref-model-")
    for name in os.listdir(MODEL):
        if name != "reference.safetensors":
            shutil.copy(os.path.join(MODEL, name), d)
    for name in os.listdir(tokenizer_dir):
        shutil.copy(os.path.join(tokenizer_dir, name), d)
    return d


def make_adapter(model_path, out):
    """A fixed PEFT adapter with non-zero B, so that the reference (base + this adapter) differs from the base."""
    torch.manual_seed(7)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    peft = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape) * 0.05)
    peft.save_pretrained(out)
    os.remove(os.path.join(out, "README.md"))  # PEFT's generated model card


class Recorder(TrainerCallback):
    def __init__(self):
        self.steps = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.steps.append({k: float(v) for k, v in logs.items()})


def common_args(cls, out, rows, **kw):
    return cls(output_dir=out, per_device_train_batch_size=rows, gradient_accumulation_steps=1, max_steps=STEPS,
               lr_scheduler_type="cosine", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch",
               logging_steps=1, save_strategy="no", report_to="none", bf16=False, fp16=False,
               gradient_checkpointing=False, use_cpu=True, seed=42, dataloader_num_workers=0, disable_tqdm=True, **kw)


# method -> (data rows, lr full, lr lora, trainer factory)
def trainer_for(method, model, tok, rows, lr, out, recorder, max_length=MAX_LENGTH):
    ds = Dataset.from_list(rows)
    n = len(rows)
    if method in ("dpo", "ipo", "dpo_robust"):
        loss = {"dpo": "sigmoid", "ipo": "ipo", "dpo_robust": "robust"}[method]
        args = common_args(DPOConfig, out, n, learning_rate=lr, beta=0.1, loss_type=[loss],
                           label_smoothing=0.1 if method == "dpo_robust" else 0.0, max_length=max_length)
        return DPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[recorder])
    if method == "kto":
        args = common_args(KTOConfig, out, n, learning_rate=lr, beta=0.1, desirable_weight=1.0,
                           undesirable_weight=1.0, max_length=max_length, train_sampling_strategy="sequential")
        return KTOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[recorder])
    if method == "orpo":
        args = common_args(ORPOConfig, out, n, learning_rate=lr, beta=0.1, max_length=max_length)
        return ORPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[recorder])
    if method == "simpo":
        args = common_args(CPOConfig, out, n, learning_rate=lr, beta=2.0, loss_type="simpo", simpo_gamma=0.5,
                           cpo_alpha=0.5, max_length=max_length)
        return CPOTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[recorder])
    raise ValueError(method)


def load_model(model_path, adapter):
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter, is_trainable=True)
    return model


RUNS = {  # method -> (data set name, learning rate full, learning rate lora, max_length)
    "dpo": ("standard", 1e-3, 5e-3, 36),
    "dpo_robust": ("standard", 1e-3, 5e-3, 36),
    "ipo": ("conversational", 1e-3, 5e-3, 64),
    "orpo": ("standard", 1e-3, 5e-3, 36),
    "simpo": ("conversational", 1e-3, 5e-3, 64),
    "kto": ("kto", 1e-3, 5e-3, 36),
}


def start(kind, model_path, tok_dir, adapter, threads=2):
    """Threads and seed set, then the tokenizer and the model (full, or with the starting adapter for lora)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tok_dir)
    return tok, load_model(model_path, adapter if kind == "lora" else None)


def run(method, kind, model_path, tok_dir, adapter, data, threads):
    tok, model = start(kind, model_path, tok_dir, adapter, threads)
    name, lr_full, lr_lora, max_length = RUNS[method]
    rec = Recorder()
    lr = lr_full if kind == "full" else lr_lora
    with tempfile.TemporaryDirectory() as out:
        trainer_for(method, model, tok, data[name], lr, out, rec, max_length).train()
    return {"data": name, "learning_rate": lr, "max_length": max_length, "steps": rec.steps}


def saved_name(name):
    return name.replace(".default.", ".").replace("base_model.model.", "base_model.model.", 1)


def dpo_gradients(kind, model_path, tok_dir, adapter, data):
    """The gradient of TRL's first DPO step: its loss on the (whole-data-set) batch, backward."""
    tok, model = start(kind, model_path, tok_dir, adapter)
    with tempfile.TemporaryDirectory() as out:
        trainer = trainer_for("dpo", model, tok, data["standard"], 1e-3, out, Recorder(), RUNS["dpo"][3])
        return first_step_gradients(trainer, kind)[0]


def first_step_gradients(trainer, kind):
    """TRL's loss on its first batch (the whole data set) and, after backward, every trainable parameter's gradient,
    as {"loss.KIND", "grad.KIND.NAME"}; and that batch."""
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    grads = {}
    for name, p in trainer.model.named_parameters():
        if p.requires_grad and p.grad is not None and ".ref." not in name:
            grads[f"grad.{kind}.{saved_name(name)}"] = p.grad.detach().clone().contiguous()
    grads[f"loss.{kind}"] = loss.detach().reshape(1).clone()
    return grads, batch


def tokenization(model_path, tok_dir, data):
    """TRL's prepared rows and collated batch, per family and data file, at max_length MAX_LENGTH."""
    tok = AutoTokenizer.from_pretrained(tok_dir)
    cases = {}
    sets = {
        "dpo": ["standard", "conversational", "implicit", "implicit_standard", "long"],
        "kto": ["kto", "kto_long"],
        "orpo": ["standard", "conversational", "implicit", "long"],
    }
    for family, names in sets.items():
        for name in names:
            rows = [dict(r, id=i) for i, r in enumerate(data[name])]
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
            with tempfile.TemporaryDirectory() as out:
                if family == "dpo":
                    trainer = trainer_for("dpo", model, tok, rows, 1e-3, out, Recorder())
                    keys = ["id", "prompt_ids", "chosen_ids", "rejected_ids"]
                elif family == "kto":
                    trainer = trainer_for("kto", model, tok, rows, 1e-3, out, Recorder())
                    keys = ["id", "prompt_ids", "completion_ids", "KL_completion_ids", "label"]
                else:
                    trainer = trainer_for("orpo", model, tok, rows, 1e-3, out, Recorder())
                    keys = ["id", "prompt_input_ids", "chosen_input_ids", "chosen_labels", "rejected_input_ids",
                            "rejected_labels"]
                ds = trainer.train_dataset
                trainer._set_signature_columns_if_needed()
                prepared = [{k: ds[i][k] for k in keys} for i in range(len(ds))]
                features = [{k: v for k, v in ds[i].items() if k in trainer._signature_columns}
                            for i in range(len(ds))] if family != "orpo" else None
                collated = None
                if features is not None:
                    b = trainer.data_collator(features)
                    collated = {k: v.tolist() for k, v in b.items() if isinstance(v, torch.Tensor)}
            cases[f"{family}/{name}"] = {"rows": len(rows), "prepared": prepared, "collated": collated}
    return cases


def main(out):
    transformers.logging.set_verbosity_error()
    os.makedirs(out, exist_ok=True)
    tok_dir = os.path.join(out, "tokenizer")
    make_tokenizer(tok_dir)
    data_dir = os.path.join(out, "data")
    os.makedirs(data_dir, exist_ok=True)
    data = {"standard": STANDARD, "conversational": CONVERSATIONAL, "implicit": IMPLICIT,
            "implicit_standard": IMPLICIT_STANDARD, "kto": KTO_ROWS, "long": LONG, "kto_long": KTO_LONG}
    for name, rows in data.items():
        write_jsonl(os.path.join(data_dir, name + ".jsonl"), rows)
    model_path = model_dir(tok_dir)
    adapter = os.path.join(out, "adapter")
    make_adapter(model_path, adapter)

    metrics = {"versions": {"trl": trl.__version__, "torch": torch.__version__,
                            "transformers": transformers.__version__,
                            "peft": __import__("peft").__version__},
               "settings": {"steps": STEPS, "lr_scheduler": "cosine", "max_grad_norm": 1.0,
                            "optimizer": "adamw_torch", "beta": {"dpo": 0.1, "dpo_robust": 0.1, "ipo": 0.1,
                                                                 "kto": 0.1, "orpo": 0.1, "simpo": 2.0},
                            "label_smoothing": {"dpo_robust": 0.1}, "simpo_gamma": 0.5, "cpo_alpha": 0.5,
                            "micro_batch": "every row", "lora": "adapter/ (r 4, alpha 8, all linear)"},
               "runs": {}}
    noise = 0.0
    for method in RUNS:
        for kind in ("full", "lora"):
            one = run(method, kind, model_path, tok_dir, adapter, data, 1)
            two = run(method, kind, model_path, tok_dir, adapter, data, 2)
            for a, b in zip(one["steps"], two["steps"]):
                for k in b:
                    if k in a and isinstance(b[k], float) and abs(b[k]) > 1e-6 and k not in ("epoch",):
                        noise = max(noise, abs(a[k] - b[k]) / abs(b[k]))
            metrics["runs"][f"{method}/{kind}"] = {"data": two["data"], "learning_rate": two["learning_rate"],
                                                   "max_length": two["max_length"], "threads2": two["steps"],
                                                   "threads1": one["steps"]}
            print(f"{method}/{kind}: " + ", ".join(f"{s['loss']:.6f}" for s in two["steps"]), flush=True)
    metrics["thread_noise_max_relative"] = noise
    print(f"largest relative difference between 1 and 2 threads: {noise:.3g}")
    with open(os.path.join(out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)

    grads = {}
    grads.update(dpo_gradients("full", model_path, tok_dir, adapter, data))
    grads.update(dpo_gradients("lora", model_path, tok_dir, adapter, data))
    save_file(grads, os.path.join(out, "gradients.safetensors"))

    with open(os.path.join(out, "tokenization.json"), "w") as f:
        json.dump({"max_length": MAX_LENGTH, "cases": tokenization(model_path, tok_dir, data)}, f)
    shutil.rmtree(model_path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
