#!/usr/bin/env bash
# benches/check_speed.sh [LAYER_DIR] [RUNTIME]
#
# Issue 3's speed target: `check` on the ~250 MB python bench layer must take at most half the
# time of reading every byte once (`tar -cf - DIR | cat >/dev/null`). Builds the release binary,
# warms the page cache, times both (median of RUNS, hyperfine when installed, else a bash loop)
# and prints the ratio check / tar.
# ZIP=1 times the same layer as a zip (built once with `layerpack build --dir`).
#
#   LAYER_DIR defaults to target/bench-layers/py312-x86 (made by ../shared/bench/make-bench-layers.sh);
#   RUNTIME defaults to python3.12; RUNS=5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${1:-target/bench-layers/py312-x86}
RUNTIME=${2:-python3.12}
RUNS=${RUNS:-5}
[[ -d $DIR ]] || { echo "no layer folder at $DIR (make it with shared/bench/make-bench-layers.sh)" >&2; exit 2; }

cargo build --release --quiet --bin layerpack
BIN=$PWD/target/release/layerpack
TARGET=$DIR
if [[ ${ZIP:-0} == 1 ]]; then
  TARGET=$(mktemp -d)/layer.zip
  "$BIN" build --dir "$DIR" --runtime "$RUNTIME" --output "$TARGET" >/dev/null
fi
CHECK=("$BIN" check "$TARGET" --runtime "$RUNTIME" --arch x86_64)
TAR="tar -cf - $(printf %q "$DIR") | cat >/dev/null"
CHECK_LINE=$(printf '%q ' "${CHECK[@]}")

eval "$TAR"   # warm the page cache
"${CHECK[@]}" >/dev/null || true

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

if command -v hyperfine >/dev/null; then
  json=$(mktemp)
  trap 'rm -f "$json"' EXIT
  hyperfine --warmup 1 --runs "$RUNS" --ignore-failure --style none --export-json "$json" \
    -n tar "$TAR" -n check "$CHECK_LINE" >/dev/null
  tar_s=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(r[0]['median'])" "$json")
  check_s=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results']; print(r[1]['median'])" "$json")
else
  seconds() { local start end; start=$(date +%s.%N); eval "$1" >/dev/null 2>&1 || true; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
  tars=() checks=()
  for ((i = 0; i < RUNS; i++)); do
    tars+=("$(seconds "$TAR")")
    checks+=("$(seconds "$CHECK_LINE")")
  done
  tar_s=$(median "${tars[@]}")
  check_s=$(median "${checks[@]}")
fi
printf 'layer        %s\n' "$TARGET"
printf 'tar | cat    %.3f s (median of %s)\n' "$tar_s" "$RUNS"
printf 'check        %.3f s (median of %s)\n' "$check_s" "$RUNS"
printf 'ratio        %.2f (target <= 0.50)\n' "$(echo "$check_s / $tar_s" | bc -l)"
