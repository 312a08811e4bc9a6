#!/usr/bin/env bash
# scripts/devenv end to end, with the binaries of this build (MT_BUILD_DIR):
# the environment comes up, a locked-read-only node gets the same key twice
# after checking the KMS against the release policy, a debug node is refused
# with measurement_policy_rejected, a second `up` on a live directory is
# refused, and `down` leaves no process behind.  The simulated node admin APIs
# answer POST /admin-api/tee/attest with a quote bound to the nonce (and refuse a
# bad one), the dev release verifies with the dev key, and mero-verifier (when
# built) serves the page and passes the KMS but fails the debug node against the
# locked-read-only release.  Usage: devenv_test.sh BUILD_DIR
set -euo pipefail

build=$(cd "$1" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cli="$build/mero-tee"
tmp=$(mktemp -d)
fail() {
    echo "FAIL: $*" >&2
    for log in "$tmp"/env/*.log; do
        [ -f "$log" ] && { echo "---- $log" >&2; tail -n 20 "$log" >&2; }
    done
    exit 1
}
cleanup() {
    MT_BUILD_DIR="$build" "$repo/scripts/devenv" down "$tmp/env" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT

MT_BUILD_DIR="$build" "$repo/scripts/devenv" up "$tmp/env" >/dev/null || fail "devenv up"
# shellcheck disable=SC1091
. "$tmp/env/env"
for v in KMS_URL DSTACK_SOCKET DSTACK_SOCKET_DEBUG DSTACK_SOCKET_KMS TRUST_ROOT PCCS_URL POLICY \
    NODE_URL NODE_URL_DEBUG RELEASE_DIR RELEASE_KMS_TAG RELEASE_NODE_TAG RELEASE_KEY; do
    [ -n "${!v:-}" ] || fail "DIR/env lacks $v"
done
grep -q '^VERIFIER_URL=' "$tmp/env/env" || fail "DIR/env lacks VERIFIER_URL"
for u in "$KMS_URL" "$NODE_URL" "$NODE_URL_DEBUG" ${VERIFIER_URL:+"$VERIFIER_URL"}; do
    case "$u" in http://127.0.0.1:*) ;; *) fail "not on loopback: $u" ;; esac
done

# The node admin APIs: merod's attest call, report data = nonce || 32 zero bytes.
nonce=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
zeros=$(printf '0%.0s' $(seq 1 64))
for u in "$NODE_URL" "$NODE_URL_DEBUG"; do
    out=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"nonce\":\"$nonce\"}" \
        "$u/admin-api/tee/attest") || fail "$u/admin-api/tee/attest"
    grep -q '"quoteB64":"' <<<"$out" || fail "no quoteB64 from $u: ${out:0:200}"
    grep -q "\"reportdata\":\"$nonce$zeros\"" <<<"$out" || fail "report data not nonce||0 at $u"
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        -d '{"nonce":"abc"}' "$u/admin-api/tee/attest")
    [ "$code" = 400 ] || fail "bad nonce at $u: HTTP $code, want 400"
done
# (grep without -q: with pipefail, grep -q closing the pipe early fails curl with EPIPE.)
curl -sf "$NODE_URL_DEBUG/admin-api/tee/info" | grep '"osImage":"mero-tee-sim debug"' >/dev/null ||
    fail "debug node info"

# The dev release is complete and signed by the dev key.
"$cli" release verify "$RELEASE_DIR/$RELEASE_KMS_TAG" --family kms --version "${RELEASE_KMS_TAG#mero-kms-v}" \
    --key "$RELEASE_KEY" >/dev/null || fail "the dev KMS release does not verify"
"$cli" release verify "$RELEASE_DIR/$RELEASE_NODE_TAG" --family node \
    --version "${RELEASE_NODE_TAG#mero-tee-v}" --key "$RELEASE_KEY" >/dev/null ||
    fail "the dev node release does not verify"

# The web verifier: present whenever it is built.
if [ -x "$build/mero-verifier" ]; then
    [ -n "${VERIFIER_URL:-}" ] || fail "mero-verifier is built but VERIFIER_URL is empty"
    curl -sf "$VERIFIER_URL/" | grep -i '<html' >/dev/null || fail "GET $VERIFIER_URL/ is not the page"
    verify() {
        curl -s -X POST -H 'Content-Type: application/json' -d "$1" "$VERIFIER_URL/api/verify"
    }
    out=$(verify "{\"kmsUrl\":\"$KMS_URL\",\"releaseTag\":\"$RELEASE_KMS_TAG\"}")
    # "incomplete", not "pass": the devenv verifier trusts the simulator's development root.
    grep -q '"verdict": *"incomplete"' <<<"$out" || fail "verifier on the KMS: ${out:0:400}"
    out=$(verify "{\"nodeUrl\":\"$NODE_URL_DEBUG\",\"releaseTag\":\"$RELEASE_NODE_TAG\",\"profile\":\"locked-read-only\"}")
    grep -q '"verdict": *"fail"' <<<"$out" || fail "verifier on the debug node: ${out:0:400}"
else
    [ -z "${VERIFIER_URL:-}" ] || fail "VERIFIER_URL set without a mero-verifier binary"
    echo "devenv_test: note: $build/mero-verifier is not built; verifier checks not run" >&2
fi

"$cli" node keygen --out "$tmp/id.pem" >/dev/null
get_key() {
    "$cli" node get-key --kms "$KMS_URL" --quote-source "dstack:$1" --identity "$tmp/id.pem" \
        --policy "$POLICY" --pccs "$PCCS_URL" --trust-root "$TRUST_ROOT" --key-out "$2" --json \
        2>/dev/null
}
out=$(get_key "$DSTACK_SOCKET" "$tmp/k1") || fail "locked-read-only node refused: $out"
grep -q '"code": "OK"' <<<"$out" || fail "unexpected probe result: $out"
[ "$(stat -c %s "$tmp/k1")" -eq 32 ] || fail "key is not 32 bytes"
[ "$(stat -c %a "$tmp/k1")" = 600 ] || fail "key file mode is not 0600"
get_key "$DSTACK_SOCKET" "$tmp/k2" >/dev/null || fail "second request refused"
cmp -s "$tmp/k1" "$tmp/k2" || fail "a different key the second time"

rc=0
out=$(get_key "$DSTACK_SOCKET_DEBUG" "$tmp/k3") || rc=$?
[ "$rc" -eq 1 ] || fail "debug node: exit $rc, want 1"
grep -q '"kms_error": "measurement_policy_rejected"' <<<"$out" || fail "debug node: $out"
grep -q 'RTMR2' <<<"$out" || fail "the refusal does not name RTMR2: $out"
[ ! -e "$tmp/k3" ] || fail "a key file was written for the refused node"

# The audit log has the three decisions and verifies; it never holds the key.
"$cli" audit verify "$tmp/env/audit.jsonl" >/dev/null || fail "audit log does not verify"
[ "$(wc -l <"$tmp/env/audit.jsonl")" -eq 3 ] || fail "audit log: want 3 lines"
key_hex=$(od -An -tx1 "$tmp/k1" | tr -d ' \n')
if grep -qi "$key_hex" "$tmp/env/audit.jsonl" "$tmp"/env/*.log; then
    fail "the key appears in the audit log or a log"
fi

# A second `up` on a live directory is refused and leaves it running.
if MT_BUILD_DIR="$build" "$repo/scripts/devenv" up "$tmp/env" >/dev/null 2>&1; then
    fail "a second up on a live directory succeeded"
fi
pids=$(awk '{print $2}' "$tmp/env/pids")
MT_BUILD_DIR="$build" "$repo/scripts/devenv" down "$tmp/env" || fail "devenv down"
for p in $pids; do
    if kill -0 "$p" 2>/dev/null; then fail "process $p still running after down"; fi
done
echo "devenv_test: passed"
