#!/usr/bin/env bash
# Writes the --help text of mergekit's three command-line scripts to testdata/mergekit/cli/, the reference list of
# flags that `crucible merge`, `moe` and `extract-lora` must accept (MergekitFlagsTest). Needs a Python with
# mergekit installed (MERGEKIT_BIN: the directory of its scripts, e.g. venv/bin). pydantic's warnings go to stderr
# and are dropped; COLUMNS fixes click's wrapping so the files do not depend on the terminal.
set -euo pipefail
bin="${MERGEKIT_BIN:-/work/venv/bin}"
out="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/testdata/mergekit/cli"
mkdir -p "$out"
for script in mergekit-yaml mergekit-moe mergekit-extract-lora; do
  COLUMNS=100 HF_HUB_OFFLINE=1 "$bin/$script" --help 2>/dev/null >"$out/$script.txt"
done
echo "wrote $out"
