#!/usr/bin/env bash
# Build mero-kms-bench and run it against a fresh mero-kms on loopback:
#
#   bench/kms/run.sh [--audit disk|tmpfs] [mero-kms-bench options...]
#
# Starts, in a temporary directory: a simulator for a locked-read-only node
# (its dstack socket gives the quotes) with the PCCS of the simulator's test
# PKI, a simulator for the KMS's own TD (the startup profile event), and
# mero-kms with the local key provider and a policy that admits that node.
# The KMS runs as its own process with its default workers (HTTP_WORKERS:
# two per online CPU) and audit pacing (AUDIT_SYNC_INTERVAL_US), so the
# server and the load generator share the machine as they would on a 2-core
# host; the bench reports who used the CPU.
#
# --audit disk (default) keeps the audit log on the checkout's file system,
# so every /get-key pays a real fsync; --audit tmpfs puts it in /dev/shm,
# where fsync is nearly free, to show how much of the cost is the disk.
# The KMS's stderr (a JSON line per request) goes to /dev/shm either way,
# as a deployment's goes to journald: on ext4 (data=ordered) every fsync of
# the audit log also writes out the new data of other files on the same
# file system, and a request log there stalled audit fsyncs for 35-90 ms
# (bench/README.md, "Where the request log goes").
# MERO_KMS=PATH runs another mero-kms build (to compare a change).
# Everything is stopped (by pid) when the script exits.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

audit=disk
if [ "${1-}" = "--audit" ]; then
    audit=${2-}
    shift 2
fi
case "$audit" in
disk | tmpfs) ;;
*)
    echo "usage: bench/kms/run.sh [--audit disk|tmpfs] [mero-kms-bench options]" >&2
    exit 2
    ;;
esac

if [ ! -f build/CMakeCache.txt ]; then
    scripts/install-deps.sh build >/dev/null
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMT_SANITIZE=OFF -DMT_FUZZ=OFF >/dev/null
fi
cmake --build build -j"$(nproc)" --target mero-kms mero-tee-sim mero-tee mero-kms-bench >/dev/null

dir=$(mktemp -d /tmp/mt-kms-bench-XXXXXX)
shm_dir=$(mktemp -d /dev/shm/mt-kms-bench-XXXXXX)
if [ "$audit" = tmpfs ]; then
    audit_dir=$shm_dir
else
    audit_dir=$dir
fi
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir" "$shm_dir"
}
trap cleanup EXIT

wait_for() {
    local what=$1 check=$2
    for _ in $(seq 1 100); do
        if eval "$check" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "run.sh: $what did not come up; logs:" >&2
    tail -n 5 "$dir"/*.log "$shm_dir"/*.log >&2 || true
    exit 1
}

sim=build/mero-tee-sim
"$sim" init --state-dir "$dir/sim" --force >/dev/null
pccs_port=$(build/mero-tee dev port)
kms_port=$(build/mero-tee dev port)

"$sim" --state-dir "$dir/sim" --machine "$dir/sim/machine-locked-read-only.json" \
    --socket "$dir/node.sock" --pccs "127.0.0.1:$pccs_port" >"$dir/sim-node.log" 2>&1 &
pids+=($!)
"$sim" --state-dir "$dir/sim" --machine "$dir/sim/machine-kms.json" \
    --socket "$dir/kms.sock" >"$dir/sim-kms.log" 2>&1 &
pids+=($!)
wait_for "the simulators" "[ -S '$dir/node.sock' ] && [ -S '$dir/kms.sock' ]"
wait_for "the PCCS" "curl -sf 'http://127.0.0.1:$pccs_port/sgx/certification/v4/rootcacrl'"

eval "$("$sim" measurements --machine "$dir/sim/machine-locked-read-only.json" --env)"
# A long TTL so that tuples made before the timed phases stay valid; a
# global limit far above the 100 000 pending the memory figure needs.  The
# per-peer limit stays at its default (16): the bench spreads its load over
# enough peers.  The KMS's per-request log lines go to a file, as in a
# deployment that collects stderr.
env LISTEN_ADDR="127.0.0.1:$kms_port" \
    DSTACK_SOCKET_PATH="$dir/kms.sock" \
    MERO_KMS_PROFILE=locked-read-only \
    KMS_PROFILE_PIN_FILE="$dir/no-pin-file" \
    KMS_KEY_PROVIDER=local \
    KMS_LOCAL_ROOT_KEY_FILE="$dir/kms-root.key" \
    KMS_TRUST_ROOT_FILE="$dir/sim/root.der" \
    PCCS_URLS="http://127.0.0.1:$pccs_port" \
    COLLATERAL_CACHE_DIR="$dir/collateral" \
    AUDIT_LOG_PATH="$audit_dir/audit.jsonl" \
    CHALLENGE_TTL_SECS=3600 \
    MAX_PENDING_CHALLENGES=2000000 \
    USE_ENV_POLICY=true \
    ALLOWED_TCB_STATUSES=uptodate \
    ALLOWED_MRTD="$MRTD" ALLOWED_RTMR0="$RTMR0" ALLOWED_RTMR1="$RTMR1" \
    ALLOWED_RTMR2="$RTMR2" ALLOWED_RTMR3="$RTMR3" \
    "${MERO_KMS:-build/mero-kms}" >"$shm_dir/kms.log" 2>&1 &
kms_pid=$!
pids+=("$kms_pid")
wait_for "mero-kms" "curl -sf 'http://127.0.0.1:$kms_port/health'"

audit_fs=$(df -T "$audit_dir" | awk 'NR == 2 { print $2 }')
echo "setup: kms=${MERO_KMS:-build/mero-kms} kms_pid=$kms_pid audit_log=$audit_dir/audit.jsonl audit_fs=$audit_fs kms_log=$shm_dir/kms.log nproc=$(nproc)"
build/bench/mero-kms-bench --kms "http://127.0.0.1:$kms_port" --node-socket "$dir/node.sock" \
    --kms-pid "$kms_pid" "$@"
