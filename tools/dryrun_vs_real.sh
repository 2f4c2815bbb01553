#!/usr/bin/env bash
# Checks `crucible merge --dry-run`'s expected wall time against the real merge, for two builds side by side.
# For each round and config, in one exclusive section of the shared CPU lock: for each page-cache state of the inputs
# (warm: every input shard read once; cold: dropped from the page cache with posix_fadvise DONTNEED, which needs no
# privilege and touches only these files) and each build, the dry run, then the real merge into a fresh directory,
# both under /usr/bin/time. One line each: expected, real wall time, their ratio, load average before and after.
#
# usage: tools/dryrun_vs_real.sh BEFORE_LAUNCHER AFTER_LAUNCHER ROUNDS "CONFIGS" ["warm cold"] [OUT_DIR]
#   the launchers are copies of ./crucible with their own target/ (so that a rebuild cannot change a build mid-run)
set -euo pipefail
before=$1; after=$2; rounds=$3; configs=$4; states="${5:-warm cold}"; work="${6:-/tmp/crucible-dryrun-vs-real}"
mkdir -p "$work"
drop() { python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$@"; }
for r in $(seq 1 "$rounds"); do
  for cfg in $configs; do
    name="$(basename "$cfg" .yml)"
    # the input shards: every model path in the config, as given or relative to the config's directory
    inputs=$(grep -oE '(model|base_model): *[^ ,}]+' "$cfg" | sed 's/.*: *//' | sort -u | while read -r m; do
      [ -d "$m" ] || m="$(dirname "$cfg")/$m"; ls "$m"/*.safetensors; done)
    (
      flock -x 9
      for st in $states; do
        for v in before after; do
          cru=$before; [ $v = after ] && cru=$after
          out="$work/$v-$name"; rm -rf "$out"
          if [ "$st" = warm ]; then cat $inputs >/dev/null; else drop $inputs; fi
          load=$(cut -d' ' -f1 /proc/loadavg)
          /usr/bin/time -f %e -o "$work/dry.time" "$cru" merge "$cfg" "$out" --dry-run --no-copy-tokenizer \
            >"$work/dry.txt" 2>/dev/null
          expected=$(sed -n 's/.*expected wall time: ~\([0-9.e+-]*\) s.*/\1/p' "$work/dry.txt")
          /usr/bin/time -f %e -o "$work/real.time" "$cru" merge "$cfg" "$out" --quiet --no-copy-tokenizer >/dev/null 2>&1
          wall=$(cat "$work/real.time")
          printf '%s r%d %-14s %-5s expected %6s s  real %6s s  real/expected %5.2f  dry %ss  load %s-%s  %s\n' \
            $v "$r" "$name" "$st" "$expected" "$wall" "$(echo "$wall / $expected" | bc -l)" "$(cat "$work/dry.time")" \
            "$load" "$(cut -d' ' -f1 /proc/loadavg)" "$(date -u +%T)"
          echo "$v r$r $name $st $(grep -o 'expected wall time.*' "$work/dry.txt")" >>"$work/dry.log"
          rm -rf "$out"
        done
      done
    ) 9</tmp/crucible-cpu.lock
  done
done
