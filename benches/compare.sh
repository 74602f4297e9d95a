#!/usr/bin/env bash
# benches/compare.sh [BENCH_DIR]
#
# Times `layerpack build --dir` against `zip -r -X -6 -q` on the real layers that
# ../shared/bench/make-bench-layers.sh builds (pinned PyPI wheels and npm packages), on the same
# tree, warm page cache, and prints medians, sizes and the ratios.
#
#   RUNS=5 (default) runs per tool; TREES="py312-x86 node-sdk" (default).
#   BENCH_DIR defaults to target/bench-layers; the trees are built there once and reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCH_DIR=${1:-target/bench-layers}
RUNS=${RUNS:-5}
TREES=${TREES:-"py312-x86 node-sdk"}
MAKE_LAYERS=${MAKE_LAYERS:-../shared/bench/make-bench-layers.sh}

command -v zip >/dev/null || { echo "needs Info-ZIP zip (apt-get install zip)" >&2; exit 2; }
cargo build --release --quiet
BIN=$PWD/target/release/layerpack

declare -A RUNTIME=([py312-x86]=python3.12 [node-sdk]=nodejs20.x [java]=java21)
for tree in $TREES; do
  [[ -d $BENCH_DIR/$tree ]] || bash "$MAKE_LAYERS" "$BENCH_DIR" "$tree" >&2
done

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# median SECONDS... : the middle value of a list of timings
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# seconds CMD... : wall time of one run
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc -l; }

printf '%-10s %9s %12s %9s %12s %7s %7s\n' TREE LP_MED_S LP_BYTES ZIP_MED_S ZIP_BYTES SPEEDUP SIZE
for tree in $TREES; do
  dir=$BENCH_DIR/$tree
  tar -cf - -C "$dir" . | cat >/dev/null   # warm the page cache for both tools
  lp=() zp=()
  for ((i = 0; i < RUNS; i++)); do
    rm -f "$OUT/lp.zip" "$OUT/zip.zip"
    lp+=("$(seconds "$BIN" build --dir "$dir" --runtime "${RUNTIME[$tree]}" --output "$OUT/lp.zip")")
    zp+=("$(seconds bash -c "cd '$dir' && zip -r -X -6 -q '$OUT/zip.zip' .")")
  done
  lp_med=$(median "${lp[@]}")
  zp_med=$(median "${zp[@]}")
  lp_bytes=$(stat -c %s "$OUT/lp.zip")
  zp_bytes=$(stat -c %s "$OUT/zip.zip")
  printf '%-10s %9.2f %12d %9.2f %12d %6.2fx %+6.2f%%\n' "$tree" "$lp_med" "$lp_bytes" "$zp_med" "$zp_bytes" \
    "$(echo "$zp_med / $lp_med" | bc -l)" "$(echo "($lp_bytes - $zp_bytes) * 100 / $zp_bytes" | bc -l)"
done
