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

# The build cache, on copies of the trees (one file gets edited): medians of RUNS builds each,
# and their share of the cold build's time. `cold` starts from an empty cache folder each run;
# `no-cache` is `--no-cache`; `unchanged` rebuilds what the last build left; `one .py` edits one
# Python file before each build; `2nd layer` builds another copy of the tree (same files, one
# more) into a new zip, so nothing of it is known but the cache's entries. PEAK_MB is the peak
# resident memory of a cold build (GNU time).
#   CACHE_TREES="py312-x86" (default; empty to skip).
CACHE_TREES=${CACHE_TREES-py312-x86}
[[ -z $CACHE_TREES ]] && exit 0
[[ -x /usr/bin/time ]] || { echo "the cache figures need GNU time (apt-get install time)" >&2; exit 2; }
printf '\n%-10s %8s %8s %9s %7s %9s %7s %9s %7s %7s\n' TREE COLD_S NOCACHE_S UNCHANGED % ONE_PY_S % 2ND_S % PEAK_MB
for tree in $CACHE_TREES; do
  work=$OUT/cache-$tree
  mkdir -p "$work"
  cp -a "$BENCH_DIR/$tree" "$work/tree"
  cp -a "$BENCH_DIR/$tree" "$work/tree2"
  echo "# only in the second layer" >"$work/tree2/second_layer_marker.py"
  py=$(cd "$work/tree" && find . -name '*.py' -size +2k | sort | head -1)
  build() { "$BIN" build --dir "$1" --runtime "${RUNTIME[$tree]}" --output "$2" --cache-dir "$work/cache" "${@:3}"; }
  tar -cf - -C "$work" tree tree2 | cat >/dev/null
  cold=() nocache=() unchanged=() onepy=() second=() peak=0
  for ((i = 0; i < RUNS; i++)); do
    rm -rf "$work/cache" "$work/cold.zip"
    kb=$( { /usr/bin/time -f '%M' "$BIN" build --dir "$work/tree" --runtime "${RUNTIME[$tree]}" \
            --output "$work/cold.zip" --cache-dir "$work/cache" >/dev/null; } 2>&1 | tail -1)
    ((kb > peak)) && peak=$kb
    rm -rf "$work/cache" "$work/cold.zip"
    cold+=("$(seconds build "$work/tree" "$work/cold.zip")")
    nocache+=("$(seconds build "$work/tree" "$work/plain.zip" --no-cache)")
  done
  build "$work/tree" "$work/layer.zip" >/dev/null
  build "$work/tree" "$work/layer.zip" >/dev/null
  for ((i = 0; i < RUNS; i++)); do
    unchanged+=("$(seconds build "$work/tree" "$work/layer.zip")")
  done
  for ((i = 0; i < RUNS; i++)); do
    echo "# edit $i" >>"$work/tree/$py"
    onepy+=("$(seconds build "$work/tree" "$work/layer.zip")")
  done
  for ((i = 0; i < RUNS; i++)); do
    second+=("$(seconds build "$work/tree2" "$work/second-$i.zip")")
  done
  # The cached zip of the edited tree must equal a --no-cache build of it.
  build "$work/tree" "$work/check.zip" --no-cache >/dev/null
  cmp -s "$work/layer.zip" "$work/check.zip" || { echo "cached and --no-cache zips differ" >&2; exit 1; }
  c=$(median "${cold[@]}") n=$(median "${nocache[@]}") u=$(median "${unchanged[@]}")
  o=$(median "${onepy[@]}") s=$(median "${second[@]}")
  pct() { echo "$1 * 100 / $c" | bc -l; }
  printf '%-10s %8.2f %8.2f %9.3f %6.1f%% %9.3f %6.1f%% %9.3f %6.1f%% %7d\n' "$tree" "$c" "$n" "$u" "$(pct "$u")" \
    "$o" "$(pct "$o")" "$s" "$(pct "$s")" "$((peak / 1024))"
  rm -rf "$work"
done
