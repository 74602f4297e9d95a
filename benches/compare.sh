#!/usr/bin/env bash
# benches/compare.sh [BENCH_DIR]
#
# Times `layerpack build --dir --no-cache` against `zip -r -X -6 -q` on the real layers that
# ../shared/bench/make-bench-layers.sh builds (pinned PyPI wheels and npm packages), on the same
# tree, warm page cache, and prints medians, sizes and the ratios.
#
#   RUNS=5 (default) runs per tool; TREES="py312-x86 node-sdk" (default; empty to skip the zip
#   comparison and time only the build cache below).
#   BENCH_DIR defaults to target/bench-layers; the trees are built there once and reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCH_DIR=${1:-target/bench-layers}
RUNS=${RUNS:-5}
TREES=${TREES-"py312-x86 node-sdk"}
MAKE_LAYERS=${MAKE_LAYERS:-../shared/bench/make-bench-layers.sh}

command -v zip >/dev/null || { echo "needs Info-ZIP zip (apt-get install zip)" >&2; exit 2; }
cargo build --release --quiet
BIN=$PWD/target/release/layerpack

declare -A RUNTIME=([py312-x86]=python3.12 [node-sdk]=nodejs20.x [java]=java21)
CACHE_TREES=${CACHE_TREES-py312-x86}
for tree in $TREES $CACHE_TREES; do
  [[ -d $BENCH_DIR/$tree ]] || bash "$MAKE_LAYERS" "$BENCH_DIR" "$tree" >&2
done

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# median SECONDS... : the middle value of a list of timings
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# seconds CMD... : wall time of one run
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc -l; }

# The machine's load, which CPU time depends on less than wall time (other work shares the cores).
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -n $TREES ]] && printf '%-10s %9s %12s %9s %12s %7s %7s\n' TREE LP_MED_S LP_BYTES ZIP_MED_S ZIP_BYTES SPEEDUP SIZE
for tree in $TREES; do
  dir=$BENCH_DIR/$tree
  tar -cf - -C "$dir" . | cat >/dev/null   # warm the page cache for both tools
  lp=() zp=()
  for ((i = 0; i < RUNS; i++)); do
    rm -f "$OUT/lp.zip" "$OUT/zip.zip"
    lp+=("$(seconds "$BIN" build --dir "$dir" --runtime "${RUNTIME[$tree]}" --output "$OUT/lp.zip" --no-cache)")
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
# wall and CPU (user + sys) time, and their share of the cold build's. `cold` starts from an
# empty cache folder each run; `no-cache` is `--no-cache`; `unchanged` rebuilds what the last
# build left; `one .py` edits one Python file before each build; `2nd copy` builds a fresh copy
# of the tree (the same contents, one more file; new inodes, so every file is read and hashed)
# into a new zip, `2nd same` builds the same files into a new zip (another layer of the same
# folder: the stat index knows them). PEAK_MB is the largest peak resident memory of the cold
# builds. Every cached zip is compared with a --no-cache build of the same tree.
#   CACHE_TREES="py312-x86" (default; empty to skip). Needs GNU time (apt-get install time).
[[ -z $CACHE_TREES ]] && exit 0
[[ -x /usr/bin/time ]] || { echo "the cache figures need GNU time (apt-get install time)" >&2; exit 2; }
# timed CMD... : runs CMD under GNU time, prints "wall cpu peak_kb"
timed() {
  local out
  out=$(mktemp)
  /usr/bin/time -f '%e %U %S %M' -o "$out" "$@" >/dev/null
  awk '{printf "%s %.3f %d\n", $1, $2 + $3, $4}' "$out"
  rm -f "$out"
}
for tree in $CACHE_TREES; do
  work=$OUT/cache-$tree
  mkdir -p "$work"
  cp -a "$BENCH_DIR/$tree" "$work/tree"
  py=$(cd "$work/tree" && find . -name '*.py' -size +2k | sort | awk 'NR == 1')
  build() { "$BIN" build --dir "$1" --runtime "${RUNTIME[$tree]}" --output "$2" --cache-dir "$work/cache"; }
  build_without_cache() { "$BIN" build --dir "$1" --runtime "${RUNTIME[$tree]}" --output "$2" --no-cache; }
  same_as_plain() {
    build_without_cache "$1" "$work/check.zip" >/dev/null
    cmp -s "$2" "$work/check.zip" || { echo "$2: the cached and --no-cache zips differ" >&2; exit 1; }
  }
  tar -cf - -C "$work" tree | cat >/dev/null
  declare -A wall=() cpu=()
  # record KIND DIR ZIP [--no-cache]: times one build of DIR into ZIP (with the cache by default)
  record() {
    local t cache=(--cache-dir "$work/cache")
    [[ ${4-} == --no-cache ]] && cache=(--no-cache)
    t=$(timed "$BIN" build --dir "$2" --runtime "${RUNTIME[$tree]}" --output "$3" "${cache[@]}")
    wall[$1]+="${t%% *} "
    t=${t#* }
    cpu[$1]+="${t%% *} "
    peak_kb=${t#* }
  }
  peak=0
  for ((i = 0; i < RUNS; i++)); do
    rm -rf "$work/cache" "$work/cold.zip"
    record cold "$work/tree" "$work/cold.zip"
    ((peak_kb > peak)) && peak=$peak_kb
    record nocache "$work/tree" "$work/plain.zip" --no-cache
  done
  build "$work/tree" "$work/layer.zip" >/dev/null
  build "$work/tree" "$work/layer.zip" >/dev/null
  for ((i = 0; i < RUNS; i++)); do record unchanged "$work/tree" "$work/layer.zip"; done
  for ((i = 0; i < RUNS; i++)); do
    echo "# edit $i" >>"$work/tree/$py"
    record onepy "$work/tree" "$work/layer.zip"
  done
  same_as_plain "$work/tree" "$work/layer.zip"
  for ((i = 0; i < RUNS; i++)); do
    rm -rf "$work/copy"
    cp -a "$work/tree" "$work/copy"
    echo "# only in the second layer" >"$work/copy/python/second_layer_marker.py"
    record copy "$work/copy" "$work/copy-$i.zip"
  done
  same_as_plain "$work/copy" "$work/copy-$((RUNS - 1)).zip"
  for ((i = 0; i < RUNS; i++)); do record same "$work/tree" "$work/same-$i.zip"; done
  same_as_plain "$work/tree" "$work/same-$((RUNS - 1)).zip"
  # shellcheck disable=SC2086
  for kind in wall cpu; do
    declare -n times=$kind
    c=$(median ${times[cold]}) n=$(median ${times[nocache]}) u=$(median ${times[unchanged]})
    o=$(median ${times[onepy]}) s=$(median ${times[copy]}) m=$(median ${times[same]})
    pct() { echo "$1 * 100 / $c" | bc -l; }
    printf '\n%-14s %8s %9s %7s %10s %7s %9s %7s %10s %7s %10s %7s %7s\n' "TREE ($kind)" COLD_S NOCACHE_S COLD/NC \
      UNCHANGED % ONE_PY_S % 2ND_COPY % 2ND_SAME % PEAK_MB
    printf '%-14s %8.2f %9.2f %6.0f%% %10.3f %6.1f%% %9.3f %6.1f%% %10.3f %6.1f%% %10.3f %6.1f%% %7d\n' "$tree" \
      "$c" "$n" "$(echo "$c * 100 / $n" | bc -l)" "$u" "$(pct "$u")" "$o" "$(pct "$o")" "$s" "$(pct "$s")" \
      "$m" "$(pct "$m")" "$((peak / 1024))"
    unset -n times
  done
  rm -rf "$work"
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
