#!/usr/bin/env bash
# The main job (README, first command): the KMS releasing a storage key to a
# simulated locked-read-only node, and refusing a debug-profile node.
#
# scripts/devenv starts, on loopback: simulated TDX guests (a locked-read-only
# node, a debug node, the KMS's own TD) with a PCCS for their test PKI, and
# mero-kms with a SHA-256-pinned release policy for locked-read-only.  The node
# side is `mero-tee node get-key`, which speaks merod's protocol: it checks the
# KMS's own attestation first (/attest, Plane 1), then challenge, quote, signed
# request, key (Plane 2).  Then, with ../shared present, real Intel quotes are
# verified offline against Intel's root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh build >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_SANITIZE=OFF -DMT_FUZZ=OFF >/dev/null
cmake --build build -j2 >/dev/null
cli=build/mero-tee

say() { printf '\n== %s\n' "$*"; }
die() {
    echo "demo: $*" >&2
    exit 1
}

tmp=$(mktemp -d)
cleanup() {
    scripts/devenv down "$tmp/env" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

say "Starting the simulators and mero-kms (scripts/devenv up)"
scripts/devenv up "$tmp/env"
# shellcheck disable=SC1091
. "$tmp/env/env"
echo "KMS at $KMS_URL; release policy $(basename "$POLICY")"

say "A new node identity (libp2p Ed25519)"
"$cli" node keygen --out "$tmp/node.pem"

# The node client, as merod would run it: verify the KMS, then ask for the key.
get_key() { # SOCKET KEY_OUT
    "$cli" node get-key --kms "$KMS_URL" --quote-source "dstack:$1" --identity "$tmp/node.pem" \
        --policy "$POLICY" --pccs "$PCCS_URL" --trust-root "$TRUST_ROOT" --key-out "$2" --json \
        2>/dev/null
}

say "A locked-read-only node asks for its storage key"
get_key "$DSTACK_SOCKET" "$tmp/key1" || die "the locked-read-only node was refused"
echo "key written to a 0600 file: $(stat -c '%a %s bytes' "$tmp/key1")"

say "The same node asks again: the same key"
get_key "$DSTACK_SOCKET" "$tmp/key2" >/dev/null || die "the second request was refused"
cmp -s "$tmp/key1" "$tmp/key2" || die "the node got a different key the second time"
echo "identical: $(sha256sum <"$tmp/key1" | cut -c1-16)... (SHA-256 of the key, not the key)"

say "A debug-profile node with the same identity: refused, with the policy's reason"
rc=0
out=$(get_key "$DSTACK_SOCKET_DEBUG" "$tmp/key3") || rc=$?
echo "$out"
[ "$rc" -ne 0 ] || die "the debug node got a key"
grep -q '"kms_error": "measurement_policy_rejected"' <<<"$out" || die "wrong refusal reason"
[ ! -e "$tmp/key3" ] || die "a key file was written for the debug node"

say "The KMS's audit log: one hash-chained line per decision, no secrets"
tail -n 1 "$STATE_DIR/audit.jsonl"
"$cli" audit verify "$STATE_DIR/audit.jsonl"

vec=../shared/vectors/dcap
if [ -d "$vec" ]; then
    say "Offline DCAP: a real TDX quote against Intel's root, at its collateral's time"
    "$cli" quote verify "$vec/D2_tdx_quote.bin" --collateral "$vec/D2_tdx_quote_collateral.json" \
        --now 1752919234 || die "the real TDX quote did not verify"
    say "The same quote one second after its TCB Info expired: refused"
    if "$cli" quote verify "$vec/D2_tdx_quote.bin" \
        --collateral "$vec/D2_tdx_quote_collateral.json" --now 1752920164; then
        die "an expired TCB Info was accepted"
    fi
else
    say "../shared/vectors/dcap not found: skipping the real Intel quotes"
fi

say "demo passed"
