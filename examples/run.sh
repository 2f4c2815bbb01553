#!/usr/bin/env bash
# Makes the tiny example models and runs every example merge into /tmp/crucible-examples/<name>.
# Rerunnable: --overwrite lets each command write into its output of the last run (same-named files and the old
# weights are replaced; anything else you put there is kept).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./crucible examples make-models examples/models --overwrite
for cfg in examples/*.yml; do
  name="$(basename "$cfg" .yml)"
  ./crucible merge "$cfg" "/tmp/crucible-examples/$name" --random-seed 42 --overwrite
done
