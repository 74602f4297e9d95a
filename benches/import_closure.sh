#!/usr/bin/env bash
# benches/import_closure.sh [LAYER_DIR]
#
# Speed of the Python import closure on the ~250 MB python3.12 bench layer, end to end with the
# release binary (opening the layer included): `why pandas` (target: under 0.3 s) and the handler
# closure of a function whose app.py imports pandas, pyarrow, pydantic and requests (`check
# --function ... --handler app.handler --select STK006`, target: under 0.5 s); and, when the
# node-sdk bench layer is beside it, the handler closure of an index.js requiring
# @aws-sdk/client-s3, axios and lodash. Median wall time and median CPU time (user + system) of
# RUNS, page cache warmed first (the machine may be shared: CPU time says what the tool costs).
#
#   LAYER_DIR defaults to target/bench-layers/py312-x86, else ../bench-layers/py312-x86; RUNS=5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${1:-target/bench-layers/py312-x86}
[[ -d $DIR ]] || DIR=../bench-layers/py312-x86
RUNS=${RUNS:-5}
[[ -d $DIR ]] || { echo "no layer folder (make it with shared/bench/make-bench-layers.sh)" >&2; exit 2; }

cargo build --release --quiet --bin layerpack
BIN=$PWD/target/release/layerpack
FUNCTION=$(mktemp -d)
printf 'import pandas\nimport pyarrow\nimport pydantic\nimport requests\n\n\ndef handler(event, context):\n    return None\n' > "$FUNCTION/app.py"

WHY="$BIN why pandas --runtime python3.12 --arch x86_64 $(printf %q "$DIR")"
HANDLER="$BIN check --function $(printf %q "$FUNCTION") --handler app.handler --runtime python3.12 --arch x86_64 --select STK006 $(printf %q "$DIR")"
eval "$WHY" >/dev/null || { echo "why pandas did not load: a false alarm" >&2; exit 1; }
eval "$HANDLER" >/dev/null || { echo "the handler closure has findings: a false alarm" >&2; exit 1; }

NODE_DIR=$(dirname "$DIR")/node-sdk
NODE_FUNCTION=$(mktemp -d)
trap 'rm -rf "$FUNCTION" "$NODE_FUNCTION"' EXIT
printf "const { S3Client } = require('@aws-sdk/client-s3');\nconst axios = require('axios');\nconst _ = require('lodash');\n\nexports.handler = async () => [S3Client, axios, _];\n" > "$NODE_FUNCTION/index.js"
NODE_HANDLER=""
if [[ -d $NODE_DIR ]]; then
  NODE_HANDLER="$BIN check --function $(printf %q "$NODE_FUNCTION") --handler index.handler --runtime nodejs20.x --arch x86_64 --select STK006 $(printf %q "$NODE_DIR")"
  eval "$NODE_HANDLER" >/dev/null || { echo "the Node.js handler closure has findings: a false alarm" >&2; exit 1; }
fi

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# One run: "wall cpu" in seconds (cpu = user + system of the command).
measure() {
  local TIMEFORMAT='%R %U %S' out
  out=$( { time eval "$1" >/dev/null 2>&1; } 2>&1 ) || true
  awk '{printf "%s %.3f\n", $1, $2 + $3}' <<<"$out"
}
report() {
  local label=$1 target=$2 command=$3 walls=() cpus=() wall cpu
  for ((i = 0; i < RUNS; i++)); do
    read -r wall cpu < <(measure "$command")
    walls+=("$wall") cpus+=("$cpu")
  done
  printf '%-32s %.3f s wall, %.3f s CPU (medians of %s; target < %s s)\n' "$label" \
    "$(median "${walls[@]}")" "$(median "${cpus[@]}")" "$RUNS" "$target"
}
printf 'layer                            %s\n' "$DIR"
report "why pandas" 0.3 "$WHY"
report "handler closure (4 packages)" 0.5 "$HANDLER"
if [[ -n $NODE_HANDLER ]]; then
  report "Node.js handler (client-s3)" 0.5 "$NODE_HANDLER"
fi
