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
  # Times HFLM.loglikelihood (request tokenization + scoring: the phase `bench eval-tasks` times) with
  # perf_counter, instead of tqdm's whole-second display.
  local log
  log="$(mktemp)"
  ( cd "$dir/tasks" && HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
      "$python" - --model hf --model_args "pretrained=$dir/model,dtype=float32" --device cpu \
      --tasks "$dir/tasks/bench_mc.yaml" --batch_size "$batch" 2>"$log" <<'PY' | grep '^{"bench"'
import sys, time
from lm_eval.models.huggingface import HFLM
from lm_eval.__main__ import cli_evaluate

scored = HFLM.loglikelihood

def timed(self, requests, disable_tqdm=False):
    start = time.perf_counter()
    out = scored(self, requests, disable_tqdm=disable_tqdm)
    sec = time.perf_counter() - start
    print('{"bench": "lm_eval", "requests": %d, "request_seconds": %.2f, "requests_per_s": %.3f}'
          % (len(requests), sec, len(requests) / sec), flush=True)
    return out

HFLM.loglikelihood = timed
sys.argv[0] = "lm_eval"
cli_evaluate()
PY
  ) || { echo "lm_eval failed:" >&2; tail -n 20 "$log" >&2; }
  rm -f "$log"
}

for r in $(seq 1 "$rounds"); do
  echo "# round $r"
  flock -x "$lock" bash -c "echo \"load before: \$(cut -d' ' -f1-3 /proc/loadavg)\"; \
    \"$root/crucible\" bench eval-tasks --dir \"$dir\" --docs $docs --tokenizer \"$root/testdata/hf/tokenizers/bytelevel_bpe\" 2>/dev/null"
  flock -x "$lock" bash -c "echo \"load before: \$(cut -d' ' -f1-3 /proc/loadavg)\"; $(declare -f lm_eval_run); \
    dir=\"$dir\" batch=$batch python=\"$python\" lm_eval_run"
done
