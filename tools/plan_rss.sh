#!/usr/bin/env bash
# Checks `crucible plan`'s memory estimates against the peak resident memory of real `crucible train` runs: for each
# shape (tools/random_llama.py), method and gradient-checkpointing setting, the run's --dry-run gives the estimate and
# the heap to run with; the run itself (3 steps of BATCH x SEQ padded rows) runs under /usr/bin/time -v with that heap,
# in one exclusive section of the shared CPU lock per shape. One line per run: estimate, measured peak RSS, their ratio.
#
# usage: [HEAP_FRACTION=0.8] tools/plan_rss.sh [WORK_DIR] [SHAPES] [METHODS] [BATCH] [SEQ]
#   defaults: /tmp/crucible-plan-rss "tiny smollm-135m" "full lora qlora" 2 256; METHODS from full lora qlora dora qdora
#   HEAP_FRACTION runs with that share of the planned heap instead, to see how tight the plan is (a run that needs
#   more than it was given fails with "out of memory")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-/tmp/crucible-plan-rss}"; shapes="${2:-tiny smollm-135m}"; methods="${3:-full lora qlora}"
batch="${4:-2}"; seq="${5:-256}"
python="${CRUCIBLE_PYTHON:-python3}"
mkdir -p "$work"
# rows of text long enough that every row is cut to sequence_len and padded to nothing: each micro-batch is BATCH x SEQ
"$python" -c "
import json, random
random.seed(1)
words = 'the cat sat on a mat and then ran to the red house where two dogs slept in the sun'.split()
with open('$work/text.jsonl', 'w') as f:
    for i in range(64):
        f.write(json.dumps({'text': ' '.join(random.choice(words) for _ in range(2000))}) + '\n')
"
for shape in $shapes; do
  [ -f "$work/$shape/model.safetensors" ] || nice -n 10 "$python" "$root/tools/random_llama.py" "$shape" "$work/$shape"
  runs=()
  for method in $methods; do
    for ckpt in false true; do
      name="$shape-$method-$ckpt"
      {
        echo "base_model: $work/$shape"
        echo "datasets: [{path: $work/text.jsonl, type: completion}]"
        echo "sequence_len: $seq"
        echo "pad_to_sequence_len: true"
        echo "micro_batch_size: $batch"
        echo "max_steps: 3"
        echo "learning_rate: 1e-4"
        echo "gradient_checkpointing: $ckpt"
        echo "output_dir: $work/out-$name"
        case "$method" in
          full) ;;
          # QDoRA is Axolotl's QLoRA with peft_use_dora (there is no adapter: qdora)
          qdora) echo "adapter: qlora"; echo "peft_use_dora: true" ;;
          *) echo "adapter: $method" ;;
        esac
        if [ "$method" != full ]; then
          echo "lora_r: 16"; echo "lora_alpha: 32"; echo "lora_target_linear: true"
        fi
      } >"$work/$name.yml"
      "$root/crucible" train "$work/$name.yml" --dry-run >"$work/$name.dry" 2>/dev/null
      runs+=("$name")
    done
  done
  # one exclusive section per shape (the estimates above ran outside it, and made the launcher's class-data archive:
  # a run that dumps it holds more memory; do not rebuild the jar while this runs)
  (
    flock -x 9
    for name in "${runs[@]}"; do
      heap="$(sed -n 's/.*-Xmx\([0-9]*\)m.*/\1/p' "$work/$name.dry")"
      heap="$(echo "$heap * ${HEAP_FRACTION:-1} / 1" | bc)"
      expected="$(sed -n 's/.*expected peak resident memory \([0-9]*\) MiB.*/\1/p' "$work/$name.dry")"
      load="$(cut -d' ' -f1-3 /proc/loadavg)"
      if ! /usr/bin/time -v -o "$work/$name.time" env CRUCIBLE_JAVA_OPTS="-Xmx${heap}m" \
          "$root/crucible" train "$work/$name.yml" --overwrite >"$work/$name.out" 2>&1; then
        echo "$name failed with -Xmx${heap}m: $(grep -m1 -i 'error' "$work/$name.out")"
        continue
      fi
      rss=$(( $(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$name.time") / 1024 ))
      secs="$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$work/$name.time")"
      printf '%-28s -Xmx%5sm  estimate %5s MiB  measured %5s MiB  measured/estimate %.2f  (%s wall, load before %s)\n' \
        "$name" "$heap" "$expected" "$rss" "$(echo "$rss / $expected" | bc -l)" "$secs" "$load"
    done
  ) 9</tmp/crucible-cpu.lock
done
