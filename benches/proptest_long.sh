#!/usr/bin/env bash
# benches/proptest_long.sh [CASES]
#
# The property tests of tests/it/proptests.rs (zip reader, ELF inspector, ignore parser, config
# loading) with many more cases than CI runs: CASES per property (default 5000), optimized.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PROPTEST_CASES=${1:-5000} cargo test --release --test it proptests -- --test-threads 2
