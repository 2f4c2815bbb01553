#!/usr/bin/env bash
# requests/s of a 4-choice, 5-shot multiple-choice task (~600 tokens of context) on a SmolLM2-135M-shaped random
# model: `crucible eval tasks` (through `crucible bench eval-tasks`) against lm-eval 0.4.13's HF backend (float32,
# the same task file and data), side by side, ROUNDS times interleaved, each run alone under an exclusive lock.
#
# Usage: tools/lm_eval_bench.sh [ROUNDS=3] [DOCS=6] [LM_EVAL_BATCH=4]
#   PYTHON (default /work/venv/bin/python) must have lm_eval, torch and transformers; PYTHONPATH may add stand-ins
#   for lm_eval's optional imports (see tools/lm_eval_fixtures.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds="${1:-3}"
docs="${2:-6}"
batch="${3:-4}"
python="${PYTHON:-/work/venv/bin/python}"
dir=/tmp/crucible-bench/eval-tasks
lock=/tmp/crucible-cpu.lock

"$root/crucible" bench eval-tasks --dir "$dir" --docs "$docs" --prepare-only \
  --tokenizer "$root/testdata/hf/tokenizers/bytelevel_bpe" 2>/dev/null

lm_eval_run() {
  local out log start end
  log="$(mktemp)"
  ( cd "$dir/tasks" && HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
      "$python" -m lm_eval --model hf --model_args "pretrained=$dir/model,dtype=float32" --device cpu \
      --tasks "$dir/tasks/bench_mc.yaml" --batch_size "$batch" >"$log" 2>&1 )
  # tqdm's final line of the request phase: "Running loglikelihood requests: 100%|...| N/N [MM:SS<00:00, ...]"
  python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read().replace("\r", "\n")
lines = [l for l in text.split("\n") if l.startswith("Running loglikelihood requests: 100%")]
m = re.search(r"\| (\d+)/\d+ \[(?:(\d+):)?(\d+):(\d+)<", lines[-1])
n, h, mi, s = int(m.group(1)), int(m.group(2) or 0), int(m.group(3)), int(m.group(4))
sec = h * 3600 + mi * 60 + s
print('{"bench": "lm_eval", "requests": %d, "request_seconds": %d, "requests_per_s": %.3f}' % (n, sec, n / sec))
PY
  rm -f "$log"
}

for r in $(seq 1 "$rounds"); do
  echo "# round $r"
  flock -x "$lock" bash -c "echo \"load before: \$(cut -d' ' -f1-3 /proc/loadavg)\"; \
    \"$root/crucible\" bench eval-tasks --dir \"$dir\" --docs $docs --tokenizer \"$root/testdata/hf/tokenizers/bytelevel_bpe\" 2>/dev/null"
  flock -x "$lock" bash -c "echo \"load before: \$(cut -d' ' -f1-3 /proc/loadavg)\"; $(declare -f lm_eval_run); \
    dir=\"$dir\" batch=$batch python=\"$python\" lm_eval_run"
done
