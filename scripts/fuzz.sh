#!/usr/bin/env bash
# Build the libFuzzer targets (fuzz/fuzz_*.c) in build-fuzz with clang,
# ASan and UBSan (no recovery), and run each for SECONDS (default 30).
#
# Usage: scripts/fuzz.sh [SECONDS]
#
# Corpus of a target, assembled at run time:
#   build-fuzz/corpus/<target>/  the working corpus (kept between local runs),
#                                refreshed with the seeds in fuzz/corpus/<target>/
#   ../shared/vectors/dcap/...   real inputs, read in place through
#                                -seed_inputs (never copied into the repo)
# Crash inputs land in build-fuzz/artifacts/<target>/, full logs in
# build-fuzz/logs/<target>.log.  Prints one summary line per target and exits
# 1 when any target crashed, leaked, timed out or failed to start.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

secs="${1:-30}"
case "$secs" in
'' | *[!0-9]*)
    echo "usage: scripts/fuzz.sh [SECONDS]" >&2
    exit 2
    ;;
esac

scripts/install-deps.sh build clang

# CMAKE_C_FLAGS instruments everything built here (fuzzer-no-link), so that
# coverage reaches into libmerotee; only the library and the fuzz targets are
# built.  -O1 keeps the sanitizers fast enough.
san="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMT_FUZZ=ON -DMT_SANITIZE=OFF \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS="$san" -DCMAKE_C_FLAGS_DEBUG="-g -O1"
# The library first (a failure there stops everything), then each target on
# its own, so one target that does not build yet does not hide the others.
cmake --build build-fuzz -j2 --target merotee

shared=../shared/vectors/dcap
if [ ! -d "$shared" ]; then
    echo "fuzz.sh: note: $shared not found; fuzzing from the checked-in seeds only"
fi

# Files of ../shared a target starts from, one per line (none when absent).
shared_seeds() {
    [ -d "$shared" ] || return 0
    case "$1" in
    fuzz_quote) find "$shared" -maxdepth 1 -type f -name '*.bin' ;;
    fuzz_collateral) find "$shared" -maxdepth 1 -type f -name '*_collateral.json' ;;
    fuzz_pem_chain) find "$shared" -maxdepth 1 -type f -name '*.pem' ;;
    fuzz_b64_hex) find "$shared" -maxdepth 1 -type f -name '*.hex' ;;
    fuzz_eventlog) find "$shared/../../dstack-fixtures" -maxdepth 1 -type f -name 'sim-event-log-*.json' ;;
    fuzz_sim_machine) find "$shared/../../dstack-fixtures" -maxdepth 1 -type f -name 'sim-*.json' ;;
    fuzz_sigstore_bundle) find "$shared/../sigstore" -type f \( -name '*.sigstore.json' -o -name '*.sigstore' -o -name '*.bundle.json' \) ;;
    fuzz_sigstore_trusted_root) find "$shared/../sigstore" -type f \( -name 'trusted_root*.json' -o -name 'scaffolding.json' \) ;;
    esac | LC_ALL=C sort
}

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

mkdir -p build-fuzz/logs
targets=()
for src in fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    targets+=("$(basename "$src" .c)")
done
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz.sh: no fuzz/fuzz_*.c targets" >&2
    exit 1
fi

failed=()
summary=()
for t in "${targets[@]}"; do
    bin="build-fuzz/fuzz/$t"
    corpus="build-fuzz/corpus/$t"
    artifacts="build-fuzz/artifacts/$t/"
    log="build-fuzz/logs/$t.log"
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "fuzz/corpus/$t" ]; then
        find "fuzz/corpus/$t" -maxdepth 1 -type f -exec cp -f {} "$corpus/" \;
    fi

    args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10
          -print_final_stats=1 -artifact_prefix="$artifacts")
    # -seed_inputs=@FILE: a comma-separated list of extra inputs, read in place.
    seedlist="build-fuzz/corpus/$t.shared"
    seeds=()
    while IFS= read -r f; do
        seeds+=("$f")
    done < <(shared_seeds "$t")
    nshared=${#seeds[@]}
    rm -f "$seedlist"
    if [ "$nshared" -gt 0 ]; then
        (IFS=,; printf '%s' "${seeds[*]}") >"$seedlist"
        args+=(-seed_inputs=@"$seedlist")
    fi
    if [ -f "fuzz/dict/$t.dict" ]; then
        args+=(-dict="fuzz/dict/$t.dict")
    fi

    echo "::: $t: ${secs}s, corpus $corpus ($(find "$corpus" -type f | wc -l) files) + $nshared from $shared"
    rc=0
    if ! cmake --build build-fuzz -j2 --target "$t" >"$log" 2>&1; then
        echo "fuzz.sh: $t does not build" >>"$log"
        rc=125
    else
        "$bin" "${args[@]}" "$corpus" >>"$log" 2>&1 || rc=$?
    fi

    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    took=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -n 1)
    cov=$(sed -n 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    corp=$(sed -n 's/^#[0-9]*[[:space:]]*DONE.* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        line=$(printf '%-18s ok     %10s execs in %3ss  (%s/s)  cov %s  corpus %s' \
            "$t" "${runs:-?}" "${took:-?}" "$(( ${runs:-0} / (${took:-1} > 0 ? ${took:-1} : 1) ))" \
            "${cov:-?}" "${corp:-?}")
    else
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        line=$(printf '%-18s FAILED (exit %s) after %s execs; log %s' "$t" "$rc" "${execs:-?}" "$log")
        failed+=("$t")
        echo "----- last lines of $log -----"
        tail -n 60 "$log"
        echo "-----"
        for a in "$artifacts"*; do
            [ -e "$a" ] || continue
            echo "reproduce: $bin $a"
        done
    fi
    summary+=("$line")
done

echo "===== fuzz summary (${secs}s per target) ====="
printf 'fuzz: %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran clean"
