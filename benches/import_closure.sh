#!/usr/bin/env bash
# benches/import_closure.sh [LAYER_DIR]
#
# Speed of the Python import closure on the ~250 MB python3.12 bench layer, end to end with the
# release binary (opening the layer included): `why pandas` (target: under 0.3 s) and the handler
# closure of a function whose app.py imports pandas, pyarrow, pydantic and requests (`check
# --function ... --handler app.handler --select STK006`, target: under 0.5 s). Median of RUNS
# (hyperfine when installed, else a bash loop), page cache warmed first.
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
trap 'rm -rf "$FUNCTION"' EXIT
printf 'import pandas\nimport pyarrow\nimport pydantic\nimport requests\n\n\ndef handler(event, context):\n    return None\n' > "$FUNCTION/app.py"

WHY="$BIN why pandas --runtime python3.12 --arch x86_64 $(printf %q "$DIR")"
HANDLER="$BIN check --function $(printf %q "$FUNCTION") --handler app.handler --runtime python3.12 --arch x86_64 --select STK006 $(printf %q "$DIR")"
eval "$WHY" >/dev/null || { echo "why pandas did not load: a false alarm" >&2; exit 1; }
eval "$HANDLER" >/dev/null || { echo "the handler closure has findings: a false alarm" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
seconds() { local start end; start=$(date +%s.%N); eval "$1" >/dev/null 2>&1 || true; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
whys=() handlers=()
for ((i = 0; i < RUNS; i++)); do
  whys+=("$(seconds "$WHY")")
  handlers+=("$(seconds "$HANDLER")")
done
printf 'layer                          %s\n' "$DIR"
printf 'why pandas                     %.3f s (median of %s; target < 0.3 s)\n' "$(median "${whys[@]}")" "$RUNS"
printf 'handler closure (4 packages)   %.3f s (median of %s; target < 0.5 s)\n' "$(median "${handlers[@]}")" "$RUNS"
