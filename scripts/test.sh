#!/usr/bin/env bash
# The test command (README): install what is missing, lint, configure,
# build and run every CTest test, then the browser test of the verifier page
# (scripts/browser-test.sh).  Exits non-zero when either fails.
#
# Tests that read ../shared (the vectors beside the checkout) fail with their
# own message when it is absent; this script only warns up front.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ ! -d ../shared ]; then
    echo "test.sh: WARNING: ../shared not found beside the checkout; tests that need its vectors will fail" >&2
fi

scripts/install-deps.sh test
scripts/lint.sh
# MT_SANITIZE/MT_FUZZ off explicitly, in case this build dir was configured otherwise.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_SANITIZE=OFF -DMT_FUZZ=OFF
cmake --build build -j2
# --no-tests=error: a run that finds no test is a failure, not a pass.
rc=0
ctest --test-dir build --output-on-failure -j2 --no-tests=error || rc=$?
# The verifier page in Debian's headless Chromium (playwright-core); screenshots in build/browser-test/.
scripts/install-deps.sh browser
MT_BUILD_DIR=build scripts/browser-test.sh || rc=$?
exit "$rc"
