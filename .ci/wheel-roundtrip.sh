#!/usr/bin/env bash
# The install route without Rust, end to end: build the wheel with maturin (reusing the cargo
# target folder and the dev profile `cargo test` already built), install it into a fresh venv,
# check that `cargo install --path .` still works, then run the real pre-commit (`pre-commit
# try-repo`) with this repository's hooks on a sample repository: a broken layer fails the hook,
# the repaired layer passes. Everything is written under target/wheel-roundtrip.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$repo/target/wheel-roundtrip"
rm -rf "$work"
mkdir -p "$work"
export CARGO_TARGET_DIR="$repo/target"
# pre-commit builds the hook's wheel from source with maturin (PEP 517); the dev profile reuses
# what `cargo test` compiled instead of a release build from scratch.
export MATURIN_PEP517_ARGS="--profile dev"
export PRE_COMMIT_HOME="$work/pre-commit-home"

python3 -m venv "$work/tools"
"$work/tools/bin/pip" install --quiet --disable-pip-version-check "maturin==1.16.0" "pre-commit==4.7.0"
"$work/tools/bin/maturin" build --quiet --profile dev --out "$work/wheels" --manifest-path "$repo/Cargo.toml"

python3 -m venv "$work/fresh"
"$work/fresh/bin/pip" install --quiet --disable-pip-version-check "$work"/wheels/layerpack-*.whl
"$work/fresh/bin/layerpack" --version
"$work/fresh/bin/layerpack" completions bash >/dev/null

cargo install --quiet --debug --path "$repo" --root "$work/cargo-root"
"$work/cargo-root/bin/layerpack" --version

# A repository with one layer whose packages sit under python3.11 while the layer is for 3.12.
sample="$work/sample"
mkdir -p "$sample/build/python/lib/python3.11/site-packages/greeting"
cd "$sample"
git init --quiet
git config user.email ci@example.invalid
git config user.name ci
cat >layer.toml <<'TOML'
[layer.greeting]
runtimes = ["python3.12"]

[[layer.greeting.source]]
path = "build"
TOML
echo 'def hello(): return "hello"' >build/python/lib/python3.11/site-packages/greeting/__init__.py
git add -A && git commit --quiet -m "a broken layer"

status=0
"$work/tools/bin/pre-commit" try-repo "$repo" layerpack-check --all-files >"$work/broken.log" 2>&1 || status=$?
if [[ $status -eq 0 ]] || ! grep -q LAY003 "$work/broken.log"; then
  cat "$work/broken.log"
  echo "FAIL: the layerpack-check hook passed a broken layer (exit $status)"
  exit 1
fi
echo "layerpack-check hook fails the broken layer (LAY003), as it should"

git mv build/python/lib/python3.11 build/python/lib/python3.12
git commit --quiet -m "the layer's packages where python3.12 reads them"
if ! "$work/tools/bin/pre-commit" try-repo "$repo" layerpack-check --all-files >"$work/healthy.log" 2>&1; then
  cat "$work/healthy.log"
  echo "FAIL: the layerpack-check hook failed a healthy layer"
  exit 1
fi
echo "layerpack-check hook passes the healthy layer"
