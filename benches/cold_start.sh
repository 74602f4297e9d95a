#!/usr/bin/env bash
# Cold import time of a real package set from a layer extracted read-only, as on Lambda:
# pycs made hash-based by `layerpack build` (checked and unchecked) against the stale timestamp
# pycs a date-normalized zip carries (`bytecode = "as-is"`) and against no pycs at all
# (`bytecode = "strip"`).
#
#   benches/cold_start.sh [RUNS]        (default 30 runs per variant)
#
# Environment: PYTHON (default python3), LAYERPACK (default target/debug/layerpack, built if
# missing), PACKAGES (default "requests pydantic"), IMPORT (the statement timed, default
# "import requests, pydantic; from pydantic import BaseModel": pydantic 2 imports its modules
# lazily, so plain `import pydantic` loads little of it).
#
# Needs network access once, for `pip install --target`. Each run is a fresh interpreter with
# PYTHONDONTWRITEBYTECODE=1, so nothing is cached between runs; variants are interleaved run by
# run so that drift of the machine hits all of them alike. Prints the median and the 10th/90th
# percentiles in milliseconds, and how many modules each variant compiled from source.
set -euo pipefail

runs=${1:-30}
python=${PYTHON:-python3}
packages=${PACKAGES:-requests pydantic}
statement=${IMPORT:-import requests, pydantic; from pydantic import BaseModel}
repo=$(cd "$(dirname "$0")/.." && pwd)
layerpack=${LAYERPACK:-$repo/target/debug/layerpack}
if [[ ! -x $layerpack ]]; then
    (cd "$repo" && cargo build --quiet)
fi

version=$($python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
runtime="python$version"
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT

echo "CPython $version ($($python -c 'import sys; print(sys.executable)')), packages: $packages"
# pip compiles timestamp-based pycs, as for any `pip install --target` layer. SOURCE_DATE_EPOCH
# would make it write checked-hash pycs itself, so it is unset here.
env -u SOURCE_DATE_EPOCH $python -m pip install --quiet --disable-pip-version-check \
    --no-warn-conflicts --target "$work/src/python" $packages 2>/dev/null
echo "$(find "$work/src" -name '*.py' | wc -l) .py files, $(find "$work/src" -name '*.pyc' | wc -l) .pyc files"

for mode in keep-valid as-is strip; do
    cat > "$work/$mode.toml" <<EOF
[layer.bench]
runtimes = ["$runtime"]
output = "$work/$mode.zip"
bytecode = "$mode"

[[layer.bench.source]]
path = "$work/src"
EOF
    env -u SOURCE_DATE_EPOCH "$layerpack" build --config "$work/$mode.toml" > /dev/null
    mkdir "$work/opt-$mode"
    TZ=UTC unzip -q "$work/$mode.zip" -d "$work/opt-$mode"
done

# Unchecked-hash: the same pycs with flags bit 1 (check_source) cleared; the hash stays.
cp -r "$work/opt-keep-valid" "$work/opt-unchecked"
$python - "$work/opt-unchecked" <<'EOF'
import pathlib, sys
for pyc in pathlib.Path(sys.argv[1]).rglob("*.pyc"):
    data = bytearray(pyc.read_bytes())
    if data[4] == 3:
        data[4] = 1
        pyc.write_bytes(bytes(data))
EOF
chmod -R a-w "$work"/opt-*

$python - "$work" "$runs" "$statement" <<'EOF'
import os, statistics, subprocess, sys, time
work, runs, statement = sys.argv[1], int(sys.argv[2]), sys.argv[3]
variants = {
    "stale timestamp pycs (as-is)": "opt-as-is",
    "no pycs (strip)": "opt-strip",
    "checked-hash pycs (keep-valid)": "opt-keep-valid",
    "unchecked-hash pycs": "opt-unchecked",
}
def env_for(folder):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=os.path.join(work, folder, "python"))
    env.pop("PYTHONHOME", None)
    return env
# How many modules of the layer each variant compiles from source (python -v).
for name, folder in variants.items():
    log = subprocess.run([sys.executable, "-v", "-c", statement], env=env_for(folder),
                         capture_output=True, text=True, check=True).stderr
    root = os.path.join(work, folder)
    compiled = sum(1 for line in log.splitlines()
                   if line.startswith("# code object from " + root))
    from_pyc = sum(1 for line in log.splitlines() if line.startswith("# " + root) and " matches " in line)
    print(f"{name:34} {from_pyc:4} modules from pyc, {compiled:4} compiled from source")
times = {name: [] for name in variants}
baseline = []
for _ in range(runs):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env_for("opt-as-is"), check=True)
    baseline.append(time.perf_counter() - start)
    for name, folder in variants.items():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], env=env_for(folder), check=True)
        times[name].append(time.perf_counter() - start)
def summary(samples):
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=10)
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p10 {q[0] * 1000:7.1f}   p90 {q[-1] * 1000:7.1f}"
print(f"\n{runs} runs each of: python -c {statement!r}")
print(f"{'interpreter start only (-c pass)':34} {summary(baseline)}")
for name in variants:
    print(f"{name:34} {summary(times[name])}")
EOF
