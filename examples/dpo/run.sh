#!/usr/bin/env bash
# Assembles a tiny base model (Llama fixture + byte-level BPE tokenizer with a ChatML template), fine-tunes it on
# two-digit sums (SFT), then aligns it with DPO to prefer right sums over wrong ones, and compares the two models'
# perplexity on the chosen and on the rejected answers. Rerunnable: it replaces only examples/models/dpo-*.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
base=examples/models/dpo-base
mkdir -p "$base"
cp testdata/hf/models/llama/{config.json,generation_config.json,model.safetensors} "$base"/
cp testdata/hf/tokenizers/bytelevel_bpe/{tokenizer.json,tokenizer_config.json,chat_template.jinja} "$base"/
rm -rf examples/models/dpo-sft examples/models/dpo-lora-out
./crucible train examples/dpo/sft.yml
./crucible train examples/dpo/dpo.yml --dry-run
./crucible train examples/dpo/dpo.yml

# reward accuracy and margin by step (TRL's metric names)
grep -o '"step":[0-9]*\|"rewards/accuracies":[0-9.]*\|"rewards/margins":[-0-9.]*' \
  examples/models/dpo-lora-out/metrics.jsonl | paste - - -

# per-token negative log-likelihood of the right and of the wrong answers, before and after DPO
for side in chosen rejected; do
  printf 'SFT %-8s ' "$side"; ./crucible eval perplexity examples/models/dpo-sft --data "examples/dpo/$side.jsonl" --json 2>/dev/null
  printf 'DPO %-8s ' "$side"; ./crucible eval perplexity examples/models/dpo-sft --adapter examples/models/dpo-lora-out \
    --data "examples/dpo/$side.jsonl" --json 2>/dev/null
done
