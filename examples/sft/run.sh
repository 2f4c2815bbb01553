#!/usr/bin/env bash
# Assembles a tiny base model (Llama fixture + byte-level BPE tokenizer) and fine-tunes a LoRA on it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
base=examples/models/sft-base
mkdir -p "$base"
cp testdata/hf/models/llama/{config.json,generation_config.json,model.safetensors} "$base"/
cp testdata/hf/tokenizers/bytelevel_bpe/{tokenizer.json,tokenizer_config.json,chat_template.jinja} "$base"/
rm -rf examples/models/sft-lora-out
./crucible sft examples/sft/lora.yml
# fold the adapter into the base: a complete model directory
./crucible lora merge "$base" examples/models/sft-lora-out examples/models/sft-merged --overwrite
