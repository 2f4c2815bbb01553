#!/usr/bin/env bash
# Makes the tiny example models and runs every example merge into /tmp/crucible-examples/<name>.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./crucible examples make-models examples/models
for cfg in examples/*.yml; do
  name="$(basename "$cfg" .yml)"
  ./crucible merge "$cfg" "/tmp/crucible-examples/$name" --random-seed 42
done
