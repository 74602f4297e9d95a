#!/usr/bin/env bash
# benches/check.sh [BENCH_DIR]
#
# Times `layerpack check` on the real layers that ../shared/bench/make-bench-layers.sh builds
# against reading every byte of the same tree once (`tar -cf - DIR | cat >/dev/null`), warm page
# cache, and prints medians and the ratio. The target: check takes at most half the time of the
# full read (ratio <= 0.5), because only binaries and a few secret candidates are read beyond
# their names. Both the folder and a zip of it (built with `layerpack build --dir`) are timed.
#
#   RUNS=5 (default) runs per measurement; TREES="py312-x86 node-sdk" (default).
#   BENCH_DIR defaults to target/bench-layers; the trees are built there once and reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCH_DIR=${1:-target/bench-layers}
RUNS=${RUNS:-5}
TREES=${TREES:-"py312-x86 node-sdk"}
MAKE_LAYERS=${MAKE_LAYERS:-../shared/bench/make-bench-layers.sh}

cargo build --release --quiet
BIN=$PWD/target/release/layerpack

declare -A RUNTIME=([py312-x86]=python3.12 [node-sdk]=nodejs20.x [java]=java21)
for tree in $TREES; do
  [[ -d $BENCH_DIR/$tree ]] || bash "$MAKE_LAYERS" "$BENCH_DIR" "$tree" >&2
done

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# seconds CMD... : wall time of one run (check exits 1 on findings; that is not a failure here)
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
read_all() { tar -cf - -C "$1" . | cat >/dev/null; }

printf '%-10s %9s %10s %10s %8s %8s\n' TREE READ_S CHECK_DIR_S CHECK_ZIP_S DIR_RATIO ZIP_RATIO
for tree in $TREES; do
  dir=$BENCH_DIR/$tree
  runtime=${RUNTIME[$tree]}
  "$BIN" build --dir "$dir" --runtime "$runtime" --output "$OUT/$tree.zip" >/dev/null
  read_all "$dir"   # warm the page cache
  reads=() dirs=() zips=()
  for ((i = 0; i < RUNS; i++)); do
    reads+=("$(seconds read_all "$dir")")
    dirs+=("$(seconds "$BIN" check "$dir" --runtime "$runtime" --arch x86_64)")
    zips+=("$(seconds "$BIN" check "$OUT/$tree.zip" --runtime "$runtime" --arch x86_64)")
  done
  r=$(median "${reads[@]}") d=$(median "${dirs[@]}") z=$(median "${zips[@]}")
  printf '%-10s %9.3f %10.3f %10.3f %8.2f %8.2f\n' "$tree" "$r" "$d" "$z" \
    "$(echo "$d / $r" | bc -l)" "$(echo "$z / $r" | bc -l)"
done
