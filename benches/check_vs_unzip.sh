#!/usr/bin/env bash
# benches/check_vs_unzip.sh [LAYER_DIR] [RUNTIME]
#
# `check` of a zip reads every entry to its end and verifies its CRC-32 and sizes, as `unzip -t`
# does, on top of the rules. Target: `check ZIP` within 2x the time of `unzip -tq ZIP` on the
# ~250 MB python bench layer. Builds the release binary and the zip (`build --dir`), warms the
# page cache, and prints the median wall time and the median CPU time (user + system) of each
# over RUNS runs, and both ratios. On a shared machine the CPU ratio is the steadier figure.
#
#   LAYER_DIR defaults to target/bench-layers/py312-x86 (made by ../shared/bench/make-bench-layers.sh);
#   RUNTIME defaults to python3.12; RUNS=5; ZIP=path reuses an existing zip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${1:-target/bench-layers/py312-x86}
RUNTIME=${2:-python3.12}
RUNS=${RUNS:-5}
command -v unzip >/dev/null || { echo "unzip is not installed (apt-get install unzip)" >&2; exit 2; }

cargo build --release --quiet --bin layerpack
BIN=$PWD/target/release/layerpack
ZIP=${ZIP:-}
if [[ -z $ZIP ]]; then
  [[ -d $DIR ]] || { echo "no layer folder at $DIR (make it with shared/bench/make-bench-layers.sh)" >&2; exit 2; }
  ZIP=$(mktemp -d)/layer.zip
  "$BIN" build --dir "$DIR" --runtime "$RUNTIME" --output "$ZIP" >/dev/null
fi

# Prints "wall cpu" in seconds for one run of the command.
measure() {
  local out
  out=$( { /usr/bin/env TIMEFORMAT='%R %U %S' bash -c "time $1 >/dev/null 2>&1 || true"; } 2>&1 | tail -1)
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' <<<"$out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

UNZIP="unzip -tq $(printf %q "$ZIP")"
CHECK="$(printf %q "$BIN") check $(printf %q "$ZIP") --runtime $RUNTIME --arch x86_64"
eval "$UNZIP" >/dev/null 2>&1 || true   # warm the page cache
eval "$CHECK" >/dev/null 2>&1 || true

unzip_wall=() unzip_cpu=() check_wall=() check_cpu=()
for ((i = 0; i < RUNS; i++)); do
  read -r wall cpu < <(measure "$UNZIP"); unzip_wall+=("$wall"); unzip_cpu+=("$cpu")
  read -r wall cpu < <(measure "$CHECK"); check_wall+=("$wall"); check_cpu+=("$cpu")
done
uw=$(median "${unzip_wall[@]}"); uc=$(median "${unzip_cpu[@]}")
cw=$(median "${check_wall[@]}"); cc=$(median "${check_cpu[@]}")
printf 'zip          %s (%s bytes)\n' "$ZIP" "$(stat -c %s "$ZIP")"
printf 'unzip -tq    wall %.3f s  cpu %.3f s (medians of %s)\n' "$uw" "$uc" "$RUNS"
printf 'check        wall %.3f s  cpu %.3f s (medians of %s)\n' "$cw" "$cc" "$RUNS"
printf 'ratio        wall %.2f  cpu %.2f (target <= 2.00)\n' \
  "$(echo "$cw / $uw" | bc -l)" "$(echo "$cc / $uc" | bc -l)"
