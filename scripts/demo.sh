#!/usr/bin/env bash
# The main job (README, first command): build mero-tee and verify Intel DCAP
# quotes offline.  With ../shared present, real TDX/SGX quotes are verified
# against Intel's root; in every case a quote from a freshly generated test
# PKI is verified, and refused where it must be.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh build >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_SANITIZE=OFF -DMT_FUZZ=OFF >/dev/null
cmake --build build -j2 >/dev/null
cli=build/mero-tee

say() { printf '\n== %s\n' "$*"; }

# Expect a verdict: run the verifier and check its exit status.
expect() {
    local want=$1
    shift
    local rc=0
    "$cli" quote verify "$@" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "demo: expected exit $want, got $rc" >&2
        exit 1
    fi
}

vec=../shared/vectors/dcap
if [ -d "$vec" ]; then
    say "A real TDX quote (Intel TDX 1.0, quote v4) against Intel's root, at its collateral's time"
    expect 0 "$vec/D2_tdx_quote.bin" --collateral "$vec/D2_tdx_quote_collateral.json" --now 1752919234
    say "The same quote as JSON: TCB status, module identity, measurements"
    "$cli" quote verify "$vec/D2_tdx_quote.bin" --collateral "$vec/D2_tdx_quote_collateral.json" \
        --now 1752919234 --json | head -40
    say "A real SGX quote: verified, with its TCB status and Intel advisories"
    expect 0 "$vec/D1_sgx_quote.bin" --collateral "$vec/D1_sgx_quote_collateral.json" --now 1752919277
    say "The TDX quote one second after its TCB Info expired: refused"
    expect 1 "$vec/D2_tdx_quote.bin" --collateral "$vec/D2_tdx_quote_collateral.json" --now 1752920164
    say "A real quote whose platform is below every published TCB level: refused"
    expect 1 "$vec/P1_tdx-quote.bin" --collateral "$vec/D2_tdx_quote_collateral.json" --now 1752919234
else
    say "../shared/vectors/dcap not found: skipping the real Intel samples"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now=$(date +%s)
"$cli" dev sample --out "$tmp/good" --now "$now" >/dev/null
"$cli" dev sample --out "$tmp/debug" --now "$now" --debug-td >/dev/null

say "A quote from a freshly generated test PKI, trusting that PKI's root"
expect 0 "$tmp/good/quote.bin" --collateral "$tmp/good/collateral.json" --now "$now" \
    --trust-root "$tmp/good/root.der"
say "The same quote against the built-in Intel root: refused"
expect 1 "$tmp/good/quote.bin" --collateral "$tmp/good/collateral.json" --now "$now"
say "A debug TD (td_attributes DEBUG set), correctly signed: refused"
expect 1 "$tmp/debug/quote.bin" --collateral "$tmp/debug/collateral.json" --now "$now" \
    --trust-root "$tmp/debug/root.der"

say "demo passed"
