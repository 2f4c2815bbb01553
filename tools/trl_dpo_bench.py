"""TRL 1.13's DPOTrainer on the CPU, for `crucible bench sft --rl dpo` side by side (docs/BENCHMARKS.md).

A Llama with random weights in SmolLM2-135M's shape (hidden 576, 30 layers, 9 heads / 3 KV, intermediate 1536, vocab
49152, tied embeddings), float32, trained by DPOTrainer on --batch pairs of random tokens, each sequence --seq tokens
(prompt half, chosen or rejected half): full fine-tuning (the reference a second model, TRL's default) or LoRA (r 16,
alpha 32, all linear layers; the reference is the base with the adapter disabled). One warmup step, then --steps
timed steps; prints one JSON line with chosen+rejected tokens per second. Peak memory: run it under
/usr/bin/time -v.

Usage: python tools/trl_dpo_bench.py --method full|lora [--batch 4] [--seq 512] [--steps 1] [--threads 2]
       [--precompute]
"""
import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")

import torch
import transformers
from datasets import Dataset
from peft import LoraConfig
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainerCallback
from trl import DPOConfig, DPOTrainer


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times = []
        self.start = None

    def on_step_begin(self, args, state, control, **kwargs):
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self.start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", choices=["full", "lora"], required=True)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--steps", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precompute", action="store_true", help="precompute_ref_log_probs=True")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                         intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True, max_position_embeddings=2048,
                         rms_norm_eps=1e-5, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    with tempfile.TemporaryDirectory() as d:
        LlamaForCausalLM(config).save_pretrained(d)  # the reference model of full fine-tuning is loaded from here
        model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32)
        tok_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "hf", "tokenizers",
                                "bytelevel_bpe", "tokenizer.json")
        tok = PreTrainedTokenizerFast(tokenizer_file=tok_file, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
        g = torch.Generator().manual_seed(2)
        half = a.seq // 2
        rows = []
        for _ in range(a.batch):
            ids = torch.randint(3, config.vocab_size, (a.seq + (a.seq - half),), generator=g).tolist()
            rows.append({"prompt_ids": ids[:half], "chosen_ids": ids[half:a.seq], "rejected_ids": ids[a.seq:]})
        timer = StepTimer()
        args = DPOConfig(output_dir=os.path.join(d, "out"), per_device_train_batch_size=a.batch,
                         gradient_accumulation_steps=1, max_steps=1 + a.steps, learning_rate=1e-4,
                         lr_scheduler_type="constant", max_length=a.seq, logging_steps=1000, save_strategy="no",
                         report_to="none", bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True,
                         disable_tqdm=True, precompute_ref_log_probs=a.precompute, dataloader_num_workers=0)
        peft = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                          task_type="CAUSAL_LM") if a.method == "lora" else None
        # DPOTrainer tokenises text at construction: give it a one-row text set, then the pre-tokenised pairs
        text = Dataset.from_list([{"prompt": "a", "chosen": " b", "rejected": " c"}])
        trainer = DPOTrainer(model=model, args=args, train_dataset=text, processing_class=tok, peft_config=peft,
                             callbacks=[timer])
        trainer.train_dataset = Dataset.from_list(rows)
        if a.precompute:
            trainer.train_dataset = trainer._precompute_ref_logps(trainer.train_dataset, "train", a.batch)
        trainer.train()
    measured = timer.times[1:]
    step = sum(measured) / len(measured)
    print(json.dumps({"bench": "trl-dpo", "method": a.method, "batch": a.batch, "seq": a.seq,
                      "reference": "precomputed" if a.precompute else "every step",
                      "tokens_per_second": round(2 * a.batch * a.seq / step, 1), "step_seconds": round(step, 2),
                      "warmup_seconds": round(timer.times[0], 2), "threads": a.threads, "trl": __import__("trl").__version__,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
