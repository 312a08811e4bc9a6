#!/usr/bin/env bash
# The verifier page end to end in Debian's headless Chromium (issue 6 "Tests"):
# starts scripts/devenv in a temporary directory, then tests/browser/verifier.spec.mjs
# (playwright-core from npm, never a downloaded browser) loads the page from
# mero-verifier, verifies the simulated KMS (pass verdict, measurements card),
# verifies the debug-profile node against the locked-read-only release (failing
# measurements card) and saves screenshots.  Exits non-zero on any failure,
# including a missing mero-verifier binary (never skips).
#
# Usage: scripts/browser-test.sh
#   MT_BUILD_DIR  binaries built elsewhere (default: build/, built here)
#   Output: BUILD/browser-test/verifier.png (debug node, phone size),
#   verifier-kms.png, verifier-node-measurements.png, result.txt; playwright-core in BUILD/browser-test/node_modules.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

die() {
    echo "browser-test: FAIL: $*" >&2
    exit 1
}

if [ -n "${MT_BUILD_DIR:-}" ]; then
    bin=$(cd "$MT_BUILD_DIR" && pwd)
else
    scripts/install-deps.sh build >/dev/null
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_SANITIZE=OFF -DMT_FUZZ=OFF >/dev/null
    cmake --build build -j2 >/dev/null
    bin="$repo/build"
fi
for b in mero-verifier mero-kms mero-tee-sim mero-tee; do
    [ -x "$bin/$b" ] || die "$bin/$b does not exist: build it first (the browser test needs it)"
done

scripts/install-deps.sh browser >/dev/null
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || die "no Chromium at $chromium"
command -v node >/dev/null || die "node is not installed"

out="$bin/browser-test"
mkdir -p "$out"
rm -f "$out"/*.png "$out/result.txt"
if [ ! -f "$out/node_modules/playwright-core/package.json" ]; then
    # playwright-core has no install script and downloads no browser.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$out" --no-audit --no-fund \
        --loglevel=error playwright-core@1 >/dev/null || die "npm install playwright-core@1"
fi

tmp=$(mktemp -d)
cleanup() {
    MT_BUILD_DIR="$bin" scripts/devenv down "$tmp/env" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

MT_BUILD_DIR="$bin" scripts/devenv up "$tmp/env" >/dev/null || die "scripts/devenv up"
# shellcheck disable=SC1091
. "$tmp/env/env"
[ -n "${VERIFIER_URL:-}" ] || die "devenv did not start mero-verifier"

rc=0
VERIFIER_URL="$VERIFIER_URL" KMS_URL="$KMS_URL" NODE_URL_DEBUG="$NODE_URL_DEBUG" \
    RELEASE_KMS_TAG="$RELEASE_KMS_TAG" RELEASE_NODE_TAG="$RELEASE_NODE_TAG" \
    SCREENSHOT_DIR="$out" CHROMIUM="$chromium" PLAYWRIGHT_CORE_FROM="$out/package.json" \
    timeout 300 node tests/browser/verifier.spec.mjs || rc=$?
if [ "$rc" -ne 0 ]; then
    for log in "$tmp"/env/verifier.log "$tmp"/env/sim-debug.log "$tmp"/env/kms.log; do
        [ -f "$log" ] && { echo "---- $log" >&2; tail -n 20 "$log" >&2; }
    done
    die "tests/browser/verifier.spec.mjs (exit $rc); screenshots in $out"
fi
[ -s "$out/verifier.png" ] || die "no screenshot at $out/verifier.png"
echo "browser-test: passed; screenshots in $out"
