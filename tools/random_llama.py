"""Writes a tied-embedding Llama with random bf16 weights in one of `crucible bench sft`'s shapes, with the byte-level
BPE fixture tokenizer (testdata/hf/tokenizers/bytelevel_bpe; its 509 ids lie inside every shape's vocabulary), for
runs of `crucible train` whose memory is measured (tools/plan_rss.sh).

usage: random_llama.py tiny|smollm-135m OUT_DIR
"""
import shutil
import sys
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {  # hidden, layers, heads, kv heads, intermediate, vocab: SftBenchmark.Shape
    "tiny": (256, 4, 8, 4, 688, 8192),
    "smollm-135m": (576, 30, 9, 3, 1536, 49152),
}

shape, out = sys.argv[1], Path(sys.argv[2])
hidden, layers, heads, kv, inter, vocab = SHAPES[shape]
torch.manual_seed(0)
config = LlamaConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                     intermediate_size=inter, vocab_size=vocab, tie_word_embeddings=True, max_position_embeddings=2048,
                     bos_token_id=1, eos_token_id=2, pad_token_id=0)
model = LlamaForCausalLM(config).to(torch.bfloat16)
model.save_pretrained(out)
tokenizer = Path(__file__).resolve().parent.parent / "testdata/hf/tokenizers/bytelevel_bpe"
for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
    shutil.copy(tokenizer / name, out / name)
