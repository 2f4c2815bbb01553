#!/usr/bin/env bash
# Assembles a tiny base model (Llama fixture + byte-level BPE tokenizer with a ChatML template), fine-tunes a LoRA
# adapter on arithmetic chats, asks it held-out questions, and merges it into a complete model. Rerunnable: it
# replaces only the directories it writes (examples/models/sft-*).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
base=examples/models/sft-base
out=examples/models/sft-lora-out
merged=examples/models/sft-merged
mkdir -p "$base"
cp testdata/hf/models/llama/{config.json,generation_config.json,model.safetensors} "$base"/
cp testdata/hf/tokenizers/bytelevel_bpe/{tokenizer.json,tokenizer_config.json,chat_template.jinja} "$base"/
rm -rf "$out" "$merged"
./crucible sft examples/sft/lora.yml

# the adapter on its base, without merging: questions in a phrasing training never used
for q in "Add 3 and 4." "What do you get if you add 8 and 9?" "6 + 2 = ?"; do
  printf '%s -> ' "$q"
  ./crucible generate "$out" --chat --prompt "$q" --max-new-tokens 8 2>/dev/null
done

# fold the adapter into the base: a complete model directory for generate, chat, eval or merge
./crucible lora merge "$base" "$out" "$merged"
