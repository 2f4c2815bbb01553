"""PyTorch side of `crucible bench runtime`: prefill and decode of a Llama with SmolLM2-135M's shape.

SmolLM2-135M's shape: hidden 576, 30 layers, 9 heads, 3 KV heads, intermediate 1536, vocab 49152, tied embeddings;
random weights in the dtype given: `bfloat16` runs PyTorch's bf16 CPU kernels (oneDNN, AVX512-BF16 where the CPU has
it: bf16 activations, float32 accumulation), `float32` computes in float32 as Crucible does. `--impl transformers` is
transformers' LlamaForCausalLM (what a user runs); `--impl plain` is a minimal Llama of a few PyTorch modules (no
framework overhead: the fastest PyTorch gets on this shape). Prefill computes the logits of every position of batch x
seq random tokens (no KV cache), as the Crucible benchmark does; decode is greedy, batch 1, after a 16-token prompt,
best of `--repeat` rounds. One JSON line per measurement.

Usage: /work/venv/bin/python tools/torch_runtime_anchor.py [--impl transformers|plain] [--dtype bfloat16|float32]
       [--threads 2] [--batch 4] [--seq 512] [--decode-tokens 32] [--repeat 3] [--only prefill,decode]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn

SMOLLM2_135M = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rope_theta=100000.0,
                    rms_norm_eps=1e-5, tie_word_embeddings=True, hidden_act="silu")


class PlainLlama(nn.Module):
    """Embedding, per layer RMSNorm -> q/k/v -> rope -> causal SDPA (GQA) -> o, RMSNorm -> SiLU-gated MLP; tied head."""

    def __init__(self, c):
        super().__init__()
        h, self.heads, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = h // self.heads
        self.eps = c["rms_norm_eps"]
        self.emb = nn.Embedding(c["vocab_size"], h)
        inter = c["intermediate_size"]
        self.layers = nn.ModuleList(nn.ModuleDict(dict(
            q=nn.Linear(h, h, bias=False), k=nn.Linear(h, self.kv * self.hd, bias=False),
            v=nn.Linear(h, self.kv * self.hd, bias=False), o=nn.Linear(h, h, bias=False),
            g=nn.Linear(h, inter, bias=False), u=nn.Linear(h, inter, bias=False), d=nn.Linear(inter, h, bias=False),
            n1=nn.RMSNorm(h, eps=self.eps), n2=nn.RMSNorm(h, eps=self.eps)))
            for _ in range(c["num_hidden_layers"]))
        self.final = nn.RMSNorm(h, eps=self.eps)
        self.inv = 1.0 / c["rope_theta"] ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd)

    def rope(self, x, pos):
        ang = pos[:, None].float() * self.inv[None]
        cos = torch.cat([ang, ang], -1).cos().to(x.dtype)
        sin = torch.cat([ang, ang], -1).sin().to(x.dtype)
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, ids, start=0, cache=None):
        b, t = ids.shape
        pos = torch.arange(start, start + t)
        x = self.emb(ids)
        for i, l in enumerate(self.layers):
            h = l["n1"](x)
            q = self.rope(l["q"](h).view(b, t, self.heads, self.hd).transpose(1, 2), pos)
            k = self.rope(l["k"](h).view(b, t, self.kv, self.hd).transpose(1, 2), pos)
            v = l["v"](h).view(b, t, self.kv, self.hd).transpose(1, 2)
            if cache is not None:
                if i in cache:
                    k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=t > 1, enable_gqa=True)
            x = x + l["o"](a.transpose(1, 2).reshape(b, t, -1))
            h = l["n2"](x)
            x = x + l["d"](F.silu(l["g"](h)) * l["u"](h))
        return self.final(x) @ self.emb.weight.t()


def build(impl, dtype):
    if impl == "plain":
        return PlainLlama(SMOLLM2_135M).to(dtype).eval()
    from transformers import LlamaConfig, LlamaForCausalLM
    return LlamaForCausalLM(LlamaConfig(**SMOLLM2_135M)).to(dtype).eval()


def logits_of(model, impl, ids, start=0, cache=None):
    if impl == "plain":
        return model(ids, start, cache)
    return model(ids, use_cache=False).logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", default="plain", choices=["plain", "transformers"])
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
    model = build(a.impl, dtype)
    common = dict(torch=torch.__version__, impl=a.impl, dtype=a.dtype, threads=torch.get_num_threads())
    only = set(a.only.split(","))
    ids = torch.randint(0, SMOLLM2_135M["vocab_size"], (a.batch, a.seq))
    with torch.inference_mode():
        if "prefill" in only:
            logits_of(model, a.impl, ids[:, :64])  # warm-up
            best = float("inf")
            for _ in range(a.repeat):
                t = time.perf_counter()
                logits_of(model, a.impl, ids)
                best = min(best, time.perf_counter() - t)
            print(json.dumps(dict(case="prefill", batch=a.batch, seq=a.seq, seconds=round(best, 3),
                                  tokens_per_s=round(a.batch * a.seq / best, 1), **common)), flush=True)
        if "decode" in only:
            prompt = ids[:1, :16]
            best = 0.0
            for _ in range(a.repeat + 1):  # the first round warms up
                if a.impl == "plain":
                    cache = {}
                    nxt = model(prompt, 0, cache)[:, -1:].argmax(-1)
                    t = time.perf_counter()
                    for i in range(a.decode_tokens):
                        nxt = model(nxt, prompt.shape[1] + i, cache)[:, -1:].argmax(-1)
                else:
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
