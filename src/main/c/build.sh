#!/bin/sh
# Builds the optional native k-quant kernels (block_kernels.c) into OUT_DIR/linux-x86_64/, which Maven packs into the
# jar. Called by Maven (exec-maven-plugin, generate-resources) with the classes directory's native/ folder. Never
# fails the build: without a C compiler, on another OS or CPU, or with a compiler too old for the instruction sets,
# Crucible runs its Java kernels (same results up to the activations' rounding, slower GGUF decode).
set -u
out="$1/linux-x86_64"
src="$(dirname "$0")"
lib="$out/libcrucible_blocks.so"
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "native block kernels: not built ($(uname -s) $(uname -m)): GGUF inference uses the Java kernels"; exit 0 ;;
esac
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "native block kernels: no C compiler ($cc): GGUF inference uses the Java kernels"
  exit 0
fi
if [ -f "$lib" ] && [ "$lib" -nt "$src/block_kernels.c" ] && [ "$lib" -nt "$src/block_kernels.h" ] && [ "$lib" -nt "$0" ]; then
  exit 0
fi
mkdir -p "$out"
log="${TMPDIR:-/tmp}/crucible-native-build.log"
# a temporary sibling, renamed once complete: a failed compile leaves no half-written library behind
if "$cc" -O2 -fPIC -shared -fvisibility=default -o "$lib.tmp" "$src/block_kernels.c" 2>"$log"; then
  mv -f "$lib.tmp" "$lib"
  rm -f "$log"
else
  rm -f "$lib.tmp" "$lib"
  echo "native block kernels: $cc failed (see $log): GGUF inference uses the Java kernels"
fi
exit 0
