"""PyTorch side of `crucible bench runtime`: prefill and decode of transformers' Llama with SmolLM2-135M's shape.

The model is transformers' LlamaForCausalLM built from SmolLM2-135M's config (hidden 576, 30 layers, 9 heads, 3 KV
heads, intermediate 1536, vocab 49152, tied embeddings) with random weights, in the dtype given: `bfloat16` runs
PyTorch's bf16 CPU kernels (oneDNN, AVX512-BF16 where the CPU has it: bf16 activations, float32 accumulation),
`float32` computes in float32 as Crucible does. Prefill computes the logits of every position of batch x seq random
tokens (no KV cache), as the Crucible benchmark does; decode is greedy, batch 1, after a 16-token prompt, best of 3
rounds. One JSON line per measurement.

Usage: /work/venv/bin/python tools/torch_runtime_anchor.py [--dtype bfloat16|float32] [--threads 2]
       [--batch 4] [--seq 512] [--decode-tokens 32] [--repeat 3] [--only prefill,decode]
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SMOLLM2_135M = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rope_theta=100000.0,
                    rms_norm_eps=1e-5, tie_word_embeddings=True, hidden_act="silu")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--decode-tokens", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", default="prefill,decode")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dtype = getattr(torch, a.dtype)
    model = LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M)).to(dtype).eval()
    common = dict(torch=torch.__version__, dtype=a.dtype, threads=torch.get_num_threads())
    only = set(a.only.split(","))
    ids = torch.randint(0, SMOLLM2_135M["vocab_size"], (a.batch, a.seq))
    with torch.inference_mode():
        if "prefill" in only:
            model(ids[:, :64], use_cache=False)  # warm-up
            best = float("inf")
            for _ in range(a.repeat):
                t = time.perf_counter()
                model(ids, use_cache=False)
                best = min(best, time.perf_counter() - t)
            print(json.dumps(dict(case="prefill", batch=a.batch, seq=a.seq, seconds=round(best, 3),
                                  tokens_per_s=round(a.batch * a.seq / best, 1), **common)), flush=True)
        if "decode" in only:
            prompt = ids[:1, :16]
            best = 0.0
            for _ in range(a.repeat + 1):  # the first round warms up
                out = model(prompt, use_cache=True)
                past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
                t = time.perf_counter()
                for _ in range(a.decode_tokens):
                    out = model(nxt, past_key_values=past, use_cache=True)
                    past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
                best = max(best, a.decode_tokens / (time.perf_counter() - t))
            print(json.dumps(dict(case="decode", batch=1, tokens=a.decode_tokens, tokens_per_s=round(best, 2),
                                  **common)), flush=True)


if __name__ == "__main__":
    main()
