#!/usr/bin/env bash
# Synthesizes the CDK app beside this script into a cloud assembly for the `check --cdk` tests:
#   tests/cdk-app/synth.sh [OUT]     (default OUT: target/cdk.out at the repository root)
# Installs the pinned aws-cdk-lib, constructs and aws-cdk from package-lock.json (npm ci), zips
# the tools layer with Python's zipfile (a zip from another tool, as users bring), then runs the
# real `cdk synth`. Needs node, npm and python3; no AWS account or credentials.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/target/cdk.out}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"   # absolute: the script changes folder
work="$root/target/cdk-app"
mkdir -p "$work"
# A copy outside the source tree, so node_modules and dist never land in the repository.
cp "$here/package.json" "$here/package-lock.json" "$here/app.js" "$here/cdk.json" "$work/"
rm -rf "$work/functions" "$work/layers" "$work/dist"
cp -R "$here/functions" "$here/layers" "$work/"
cd "$work"
npm ci --no-audit --no-fund --loglevel=error >/dev/null
mkdir -p dist
python3 - <<'PY'
import os, zipfile
with zipfile.ZipFile("dist/tools.zip", "w", zipfile.ZIP_DEFLATED) as archive:
    for folder, _, files in sorted(os.walk("layers/tools-src")):
        for name in sorted(files):
            path = os.path.join(folder, name)
            archive.write(path, os.path.relpath(path, "layers/tools-src"))
PY
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true
rm -rf "$out"
npx --no-install cdk synth --quiet --no-notices --output "$out" >/dev/null
echo "cloud assembly: $out"
