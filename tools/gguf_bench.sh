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

# One exclusive section runs several timed commands back to back (fewer waits for the shared lock); each line:
# "label seconds load1" with the load average read just before that command.
section() {
  flock -x "$lock" bash -c '
    while [ $# -gt 0 ]; do
      label="$1"; shift; cmd=(); while [ "$1" != ";" ]; do cmd+=("$1"); shift; done; shift
      l=$(cut -d" " -f1 /proc/loadavg); s=$(date +%s.%N); "${cmd[@]}" >/dev/null 2>&1; e=$(date +%s.%N)
      echo "$label $(echo "$e - $s" | bc) $l"
    done' _ "$@"
}
convert() { echo env PYTHONPATH="$llama/gguf-py" "$python" "$llama/convert_hf_to_gguf.py" "$model" --outfile "$work/llama.$1.gguf" --outtype "$1"; }

for round in 1 2 3; do # one exclusive section per round (about a minute): the shared lock is contended
  section \
    crucible-f16 "$root/crucible" export gguf "$model" "$work/crucible.f16.gguf" --outtype f16 --quiet --overwrite ";" \
    crucible-q8_0 "$root/crucible" export gguf "$model" "$work/crucible.q8_0.gguf" --outtype q8_0 --quiet --overwrite ";" \
    crucible-q4_k_m "$root/crucible" export gguf "$model" "$work/crucible.q4_k_m.gguf" --outtype q4_k_m --quiet --overwrite ";" \
    convert-f16 $(convert f16) ";" convert-q8_0 $(convert q8_0) ";" convert-bf16 $(convert bf16) ";" \
    quantize-q4_k_m "$llama/build/bin/llama-quantize" "$work/llama.bf16.gguf" "$work/llama.q4_k_m.gguf" Q4_K_M ";"
done
for t in f16 q8_0 q4_k_m; do
  cmp "$work/crucible.$t.gguf" "$work/llama.$t.gguf" && echo "crucible.$t.gguf identical to llama.cpp's"
done
# AutoQuant (every type in one pass over the weights, with Crucible's size table), then decode tokens/s of
# Crucible and llama-bench on the same files, in one exclusive section.
flock -x "$lock" bash -c "
  cat /proc/loadavg; time '$root/crucible' export gguf '$model' --all-types --out-dir '$work/all' --overwrite --quiet
  for t in q8_0 q4_k_m; do
    cat /proc/loadavg; '$root/crucible' bench gguf --decode '$work/crucible.\$t.gguf' --tokens 32
    cat /proc/loadavg; '$llama/build/bin/llama-bench' -m '$work/crucible.\$t.gguf' -p 0 -n 32 -r 3 -t 2
  done"
# Peak resident memory of the export (streaming: about the same for a 4M- and a 443M-parameter model).
small="$work/Kquant-small"
if [ ! -f "$small/config.json" ]; then
  "$root/crucible" bench gguf --write-model "$small" --shape kquant
  cp "$root"/testdata/gguf/tokenizers/spm/* "$small/"
fi
for m in "$small" "$model"; do
  for t in f16 q4_k_m; do
    flock -s "$lock" /usr/bin/time -f "peak-rss $(basename "$m") $t %M KiB" \
      "$root/crucible" export gguf "$m" "$work/rss.gguf" --outtype "$t" --quiet --overwrite
  done
done
flock -s "$lock" /usr/bin/time -o "$work/peak.txt" -f "peak-rss convert_hf_to_gguf.py Base-443M f16 %M KiB" \
  $(convert f16) >/dev/null 2>&1
cat "$work/peak.txt"
