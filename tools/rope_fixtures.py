"""Reference fixtures for the scaled rope types (yarn, longrope) from the real transformers stack.

Writes tiny randomly initialised float32-computed checkpoints whose test sequence runs past
original_max_position_embeddings, so the scaled regime is what gets compared:
  phi3_longrope  phi3, longrope short/long factors, partial_rotary_factor 0.75, original max 16
                 (config.json in transformers-5 keys: rope_parameters)
  qwen2_yarn     qwen2, yarn factor 4 over an original max of 32
                 (config.json rewritten to transformers-4 keys: rope_theta + rope_scaling)
Each directory gets the bf16 checkpoint as save_pretrained writes it plus reference.safetensors:
input_ids [2,24], logits [2,24,V], logits_short (the first 12 positions alone: longrope's short factors),
greedy_prompt [1,10] and greedy_ids (prompt + 14 greedy tokens, crossing position 16, each token from a
forward over the whole sequence so far; see greedy_without_cache for why not generate()).

Usage: python tools/rope_fixtures.py OUTDIR   (e.g. testdata/hf/models; CPU, deterministic, a few seconds)
"""
import copy
import json
import math
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

V, H, HEADS = 256, 64, 4


def base(**kw):
    d = dict(vocab_size=V, hidden_size=H, num_hidden_layers=2, num_attention_heads=HEADS, intermediate_size=128,
             max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0, rms_norm_eps=1e-5)
    d.update(kw)
    return d


def factors(g, n):
    return [round(1.0 + 3.0 * float(x), 4) for x in torch.rand(n, generator=g)]


def fixtures(g):
    rot = int(H // HEADS * 0.75) // 2
    return {
        "phi3_longrope": base(model_type="phi3", num_key_value_heads=2, rope_theta=10000.0, tie_word_embeddings=False,
                              partial_rotary_factor=0.75, original_max_position_embeddings=16,
                              rope_scaling={"rope_type": "longrope", "short_factor": factors(g, rot),
                                            "long_factor": factors(g, rot)}),
        "qwen2_yarn": base(model_type="qwen2", num_key_value_heads=2, rope_theta=10000.0, tie_word_embeddings=True,
                           use_sliding_window=False, max_position_embeddings=128,
                           rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}),
    }


def randomize(model, g):
    """bf16-representable random values, std 1/sqrt(fan_in); norms 1 +- 0.1 (as tools in /work/shared do)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                v = (1.0 if "norm" in name else 0.0) + 0.1 * torch.randn(p.shape, generator=g)
            elif "embed" in name:
                v = 0.5 * torch.randn(p.shape, generator=g)
            else:
                v = torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1])
            p.copy_(v.to(torch.bfloat16).to(torch.float32))


def greedy_without_cache(model, prompt, steps):
    """Greedy tokens, each from a forward over the whole sequence so far. For longrope this is what the cache
    recompute in Phi3ForCausalLM.prepare_inputs_for_generation intends; generate() in transformers 5.18 drops
    the cache at the switch but then feeds only the newest token, so every later token loses its context."""
    ids = prompt
    for _ in range(steps):
        ids = torch.cat([ids, model(input_ids=ids).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return ids


def to_v4_keys(path):
    """transformers-4 style: rope_theta at the top, the scaling under rope_scaling, torch_dtype."""
    cfg = json.load(open(path))
    params = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = params.pop("rope_theta")
    cfg["rope_scaling"] = params
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    json.dump(cfg, open(path, "w"), indent=2, sort_keys=True)


def main():
    out = sys.argv[1]
    g = torch.Generator().manual_seed(5)
    for name, kw in fixtures(g).items():
        cfg = AutoConfig.for_model(**kw)
        cfg._attn_implementation = "eager"
        model = AutoModelForCausalLM.from_config(cfg).to(torch.float32).eval()
        randomize(model, g)
        d = os.path.join(out, name)
        copy.deepcopy(model).to(torch.bfloat16).save_pretrained(d)
        if name == "qwen2_yarn":
            to_v4_keys(os.path.join(d, "config.json"))
        ids = torch.randint(3, V, (2, 24), generator=g)
        with torch.no_grad():
            logits = model(input_ids=ids).logits.float()
            short = model(input_ids=ids[:, :12]).logits.float()
            prompt = ids[:1, :10]
            gen = greedy_without_cache(model, prompt, 14)
            cached = model.generate(prompt, max_new_tokens=14, do_sample=False, pad_token_id=0, eos_token_id=None)
            print(name, "generate() agrees with the uncached greedy loop:", torch.equal(gen, cached))
        ref = {"input_ids": ids, "logits": logits, "logits_short": short, "greedy_prompt": prompt,
               "greedy_ids": gen.to(torch.int64)}
        save_file({k: v.clone().contiguous() for k, v in ref.items()},
                  os.path.join(d, "reference.safetensors"))
        print(name, "transformers", transformers.__version__, "torch", torch.__version__, sorted(os.listdir(d)))


if __name__ == "__main__":
    main()
