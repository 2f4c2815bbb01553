#!/usr/bin/env bash
# Export time of `crucible export gguf` against llama.cpp's convert_hf_to_gguf.py (+ llama-quantize for q4_k_m)
# on the 443M-parameter synthetic bf16 model, best of 3 interleaved rounds, each run alone under the exclusive
# CPU lock with the load average recorded; then decode tokens/s of Crucible and llama-bench on the same files.
#
#   tools/gguf_bench.sh [WORK_DIR]        (LLAMA_CPP: a llama.cpp checkout with build/bin/llama-quantize and
#                                          llama-bench built by its own cmake; PYTHON: torch, transformers, numpy)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/crucible-gguf-bench}"
llama="${LLAMA_CPP:-/work/peers/llama.cpp}"
python="${PYTHON:-/work/venv/bin/python}"
lock=/tmp/crucible-cpu.lock
model="$work/Base-443M"
mkdir -p "$work"
if [ ! -f "$model/config.json" ]; then
  "$root/crucible" bench gguf --write-model "$model" --shape baseline
  cp "$root"/testdata/gguf/tokenizers/spm/* "$model/"
fi

timed() { # label command...: one run under the exclusive lock, prints "label seconds load1"
  local label="$1"; shift
  flock -x "$lock" bash -c 'l=$(cut -d" " -f1 /proc/loadavg); s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N);
    echo "'"$label"' $(echo "$e - $s" | bc) $l"' _ "$@"
}

for round in 1 2 3; do
  for t in f16 q8_0 q4_k_m; do
    timed "crucible-$t" "$root/crucible" export gguf "$model" "$work/crucible.$t.gguf" --outtype "$t" --quiet
  done
  for t in f16 q8_0; do
    timed "convert-$t" env PYTHONPATH="$llama/gguf-py" "$python" "$llama/convert_hf_to_gguf.py" "$model" \
      --outfile "$work/llama.$t.gguf" --outtype "$t"
  done
  timed "convert-bf16" env PYTHONPATH="$llama/gguf-py" "$python" "$llama/convert_hf_to_gguf.py" "$model" \
    --outfile "$work/llama.bf16.gguf" --outtype bf16
  timed "quantize-q4_k_m" "$llama/build/bin/llama-quantize" "$work/llama.bf16.gguf" "$work/llama.q4_k_m.gguf" Q4_K_M
done
for t in q8_0 q4_k_m; do
  cmp "$work/crucible.$t.gguf" "$work/llama.$t.gguf" && echo "crucible.$t.gguf identical to llama.cpp's"
done
for t in q8_0 q4_k_m; do
  flock -x "$lock" bash -c "cat /proc/loadavg; '$root/crucible' bench gguf --decode '$work/crucible.$t.gguf' --tokens 32"
  flock -x "$lock" bash -c "cat /proc/loadavg; '$llama/build/bin/llama-bench' -m '$work/crucible.$t.gguf' -p 0 -n 32 -r 3 -t 2"
done
