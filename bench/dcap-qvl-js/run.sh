#!/usr/bin/env bash
# Dev-only benchmark (not a test dependency): installs the pinned npm packages
# @phala/dcap-qvl (pure JS) and @phala/dcap-qvl-web (Rust core as WebAssembly)
# into bench/dcap-qvl-js/node_modules, then times quote verification of vector
# D2 (../shared/vectors/dcap) in each, and in ./build/mero-tee when built.
#
# Usage: bench/dcap-qvl-js/run.sh [--seconds N] [--quote F] [--collateral F] [--now T] [--cli P]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "bench: node and npm are needed (apt-get install nodejs npm)" >&2
    exit 1
fi
if [ ! -d node_modules/@phala/dcap-qvl ] || [ ! -d node_modules/@phala/dcap-qvl-web ]; then
    npm install --no-audit --no-fund --loglevel=error
fi
exec node bench.mjs "$@"
