#!/usr/bin/env bash
# benches/build_memory.sh [BENCH_DIR]
#
# Peak memory and time of a cold `layerpack build` (no cache) on two layers near the 250 MiB
# quota: the python bench layer (made by ../shared/bench/make-bench-layers.sh) and a generated
# layer of 240 MiB of random bytes that do not compress, one file of 200 MiB and ten of 4 MiB.
# Target: peak under 256 MiB on both. Peak memory is read as the tests read it
# (tests/it/common/hostile.rs): the highest `VmHWM` of the child's own address space, sampled
# every 10 ms while it runs. Prints the median wall time, the median CPU time and the highest
# peak over RUNS runs.
#
#   BENCH_DIR defaults to target/bench-layers; RUNS=5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BENCH_DIR=${1:-target/bench-layers}
RUNS=${RUNS:-5}
cargo build --release --quiet --bin layerpack
BIN=$PWD/target/release/layerpack

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/random/python"
head -c $((200 << 20)) /dev/urandom >"$WORK/random/python/big.bin"
for i in $(seq 1 10); do head -c $((4 << 20)) /dev/urandom >"$WORK/random/python/small$i.bin"; done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Prints "wall cpu peak_kib" for one cold build of the folder $1.
measure() {
  local start end pid peak=0 hwm cpu_ticks ticks
  rm -f "$WORK/out.zip" "$WORK/out.zip.json"
  start=$(date +%s.%N)
  "$BIN" build --no-cache --dir "$1" --runtime python3.12 --output "$WORK/out.zip" >/dev/null &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $hwm && $hwm -gt $peak ]] && peak=$hwm
    # user + system ticks of the child so far (fields 14 and 15 of its stat)
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true)
    [[ -n $ticks ]] && cpu_ticks=$ticks
    sleep 0.01
  done
  wait "$pid"
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc -l) $(echo "${cpu_ticks:-0} / $(getconf CLK_TCK)" | bc -l) $peak"
}

printf '%-10s %9s %9s %12s\n' LAYER WALL_MED_S CPU_MED_S PEAK_MIB
for layer in "$BENCH_DIR/py312-x86" "$WORK/random"; do
  [[ -d $layer ]] || { echo "no layer at $layer (make it with shared/bench/make-bench-layers.sh)" >&2; continue; }
  walls=() cpus=() peak=0
  for ((i = 0; i < RUNS; i++)); do
    read -r wall cpu kib < <(measure "$layer")
    walls+=("$wall"); cpus+=("$cpu")
    ((kib > peak)) && peak=$kib
  done
  printf '%-10s %9.2f %9.2f %12.1f\n' "$(basename "$layer")" "$(median "${walls[@]}")" \
    "$(median "${cpus[@]}")" "$(echo "$peak / 1024" | bc -l)"
done
