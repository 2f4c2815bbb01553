#!/usr/bin/env bash
# Writes the example's data: every sum a + b of two digits asked in six phrasings (600 chats). One phrasing of each
# sum is held out of training (held-out.jsonl, question and answer) to check that the fine-tuned model answers
# questions it never saw; the other 500 chats are the training set (arithmetic.jsonl).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
awk 'BEGIN {
  p[0] = "What is %d plus %d?"; p[1] = "Add %d and %d."; p[2] = "%d + %d = ?"
  p[3] = "What do you get if you add %d and %d?"; p[4] = "Compute %d+%d."; p[5] = "Please sum %d and %d."
  for (a = 0; a < 10; a++) for (b = 0; b < 10; b++) for (i = 0; i < 6; i++) {
    q = sprintf(p[i], a, b)
    if (i == (3 * a + b) % 6) {
      printf "{\"question\": \"%s\", \"answer\": \"%d\"}\n", q, a + b > "held-out.jsonl"
    } else {
      printf "{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"}, {\"role\": \"assistant\", \"content\": \"%d\"}]}\n", q, a + b > "arithmetic.jsonl"
    }
  }
}'
