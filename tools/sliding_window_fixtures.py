"""Reference fixture for Qwen2's per-layer sliding window (use_sliding_window + max_window_layers).

transformers (Qwen2Config.__post_init__) drops sliding_window unless use_sliding_window is true, and then
slides only the layers i >= max_window_layers; the rest attend to everything. This writes a tiny float32
Qwen2 (vocab 256, hidden 64, 4 layers, max_window_layers 2, sliding_window 4) whose 12-token sequence runs
well past the window, so a forward that slides the wrong layers shows in every number:
  qwen2_sliding/  model.safetensors (float32, as save_pretrained writes it), config.json without layer_types
                  (as Qwen2 configs on the Hub have none, so the reader must apply max_window_layers itself),
                  reference.safetensors:
                    input_ids [2,12], logits [2,12,V]            model(input_ids).logits
                    labels [2,12]                                input_ids, the first 4 of each row -100
                    loss []                                      transformers' causal-LM loss for those labels
                    grad.<name>                                  d loss / d every parameter (HF names)
                    logits_all_sliding [2,12,V]                  the logits if every layer slid (what the
                                                                 reference must differ from, to be a test)

Usage: python tools/sliding_window_fixtures.py OUTDIR   (e.g. testdata/hf/models; CPU, deterministic, seconds)
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

from rope_fixtures import randomize  # bf16-representable values, stored and computed in float32

V, H, LAYERS, WINDOW, MAX_WINDOW_LAYERS, SEQ = 256, 64, 4, 4, 2, 12


def config(**kw):
    d = dict(model_type="qwen2", vocab_size=V, hidden_size=H, num_hidden_layers=LAYERS, num_attention_heads=4,
             num_key_value_heads=2, intermediate_size=128, max_position_embeddings=64, rms_norm_eps=1e-5,
             rope_theta=10000.0, tie_word_embeddings=False, use_sliding_window=True, sliding_window=WINDOW,
             max_window_layers=MAX_WINDOW_LAYERS, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    d.update(kw)
    cfg = AutoConfig.for_model(**d)
    cfg._attn_implementation = "eager"
    return cfg


def main():
    out = os.path.join(sys.argv[1], "qwen2_sliding")
    g = torch.Generator().manual_seed(11)
    cfg = config()
    expected = ["full_attention"] * MAX_WINDOW_LAYERS + ["sliding_attention"] * (LAYERS - MAX_WINDOW_LAYERS)
    assert cfg.layer_types == expected, cfg.layer_types
    model = AutoModelForCausalLM.from_config(cfg).to(torch.float32)
    randomize(model, g)
    model.save_pretrained(out)
    path = os.path.join(out, "config.json")
    saved = json.load(open(path))
    saved.pop("layer_types")
    json.dump(saved, open(path, "w"), indent=2, sort_keys=True)

    ids = torch.randint(3, V, (2, SEQ), generator=g)
    labels = ids.clone()
    labels[:, :4] = -100
    model.train()  # no dropout in Qwen2 (attention_dropout 0); train() as a Trainer step would run it
    result = model(input_ids=ids, labels=labels)
    result.loss.backward()
    ref = {"input_ids": ids, "labels": labels, "logits": result.logits.detach().float(),
           "loss": result.loss.detach().float()}
    for name, p in model.named_parameters():
        ref["grad." + name] = p.grad.detach().float()

    slid = AutoModelForCausalLM.from_config(config(max_window_layers=0)).to(torch.float32).eval()
    slid.load_state_dict(model.state_dict())
    with torch.no_grad():
        ref["logits_all_sliding"] = slid(input_ids=ids).logits.float()
    diff = (ref["logits_all_sliding"] - ref["logits"]).abs().max().item()
    print("max |logits(all layers slide) - logits|:", diff)
    assert diff > 1e-2, "the window must change the logits for the fixture to test anything"
    save_file({k: v.clone().contiguous() for k, v in ref.items()}, os.path.join(out, "reference.safetensors"))
    print("transformers", transformers.__version__, "torch", torch.__version__, sorted(os.listdir(out)),
          "loss", result.loss.item())


if __name__ == "__main__":
    main()
