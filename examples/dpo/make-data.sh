#!/usr/bin/env bash
# Writes the example's data: every sum a + b of two digits as a chat for the SFT stage (chats.jsonl), the same
# questions as preference pairs whose chosen answer is the sum and whose rejected one is a wrong number
# (pairs.jsonl, TRL's conversational format: prompt / chosen / rejected message lists), and both completions rendered
# as ChatML text for `crucible eval perplexity` (chosen.jsonl, rejected.jsonl).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
awk 'BEGIN {
  for (a = 0; a < 10; a++) for (b = 0; b < 10; b++) {
    q = sprintf("%d + %d = ?", a, b); s = a + b; w = s + 1 + (a * b) % 3
    printf "{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"}, {\"role\": \"assistant\", \"content\": \"%d\"}]}\n", q, s > "chats.jsonl"
    printf "{\"prompt\": [{\"role\": \"user\", \"content\": \"%s\"}], \"chosen\": [{\"role\": \"assistant\", \"content\": \"%d\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"%d\"}]}\n", q, s, w > "pairs.jsonl"
    printf "{\"text\": \"<|im_start|>user\\n%s<|im_end|>\\n<|im_start|>assistant\\n%d<|im_end|>\\n\"}\n", q, s > "chosen.jsonl"
    printf "{\"text\": \"<|im_start|>user\\n%s<|im_end|>\\n<|im_start|>assistant\\n%d<|im_end|>\\n\"}\n", q, w > "rejected.jsonl"
  }
}'
