#!/usr/bin/env bash
# Build everything with clang, AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer (no recovery) in build-asan, and run every CTest
# test there.  Exits with ctest's status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh build clang
cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DMT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
    -DMT_FUZZ=OFF
cmake --build build-asan -j2

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rc=0
ctest --test-dir build-asan --output-on-failure -j2 --no-tests=error || rc=$?
exit "$rc"
