#!/usr/bin/env bash
# Install the Debian packages mero-tee needs, and only those that are missing.
#
# Usage: scripts/install-deps.sh [GROUP...]
#   build  compilers, CMake and the libraries the library, CLI and tests link
#   lint   clang-format (scripts/lint.sh)
#   clang  clang, its libFuzzer and sanitizer runtimes, llvm-symbolizer (sanitize.sh, fuzz.sh)
#   redis  redis-server (KMS store tests)
#   browser  Debian's chromium and a font (scripts/browser-test.sh), nodejs and npm when
#          there is no node / npm on the PATH already
#   image  ansible, ansible-lint, debootstrap, packer (scripts/image-check.sh)
#   systemd  systemd-analyze, for `verify` of the sidecar unit (test_sidecar_unit_file)
#   test   build + lint + redis: what scripts/test.sh needs
#   all    every group but browser (the default)
# --build, --fuzz, --sanitize, ... are accepted too (--fuzz and --sanitize mean clang).
#
# Idempotent: packages are checked with dpkg-query first, and apt-get update
# runs only when something is missing.  Works as root; otherwise uses sudo
# when it exists, else prints the apt-get command and exits 1.
set -euo pipefail

pkgs_build=(build-essential cmake pkg-config openssl curl libssl-dev libjansson-dev
            libyajl-dev libcurl4-openssl-dev libcmocka-dev libmicrohttpd-dev libhiredis-dev)
pkgs_lint=(clang-format)
pkgs_clang=(clang libclang-rt-dev llvm) # llvm: llvm-symbolizer for readable sanitizer traces
pkgs_redis=(redis-server)
pkgs_browser=(chromium fonts-dejavu-core)
pkgs_image=(ansible ansible-lint debootstrap packer)
pkgs_systemd=(systemd)
command -v node >/dev/null 2>&1 || pkgs_browser+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs_browser+=(npm)

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

groups=()
for arg in "$@"; do
    case "${arg#--}" in
    build | lint | clang | redis | browser | image | systemd) groups+=("${arg#--}") ;;
    fuzz | sanitize | asan) groups+=(clang) ;;
    test) groups+=(build lint redis) ;;
    all) groups+=(build lint clang redis) ;;
    h | help)
        usage
        exit 0
        ;;
    *)
        echo "install-deps: unknown group '$arg'" >&2
        usage >&2
        exit 2
        ;;
    esac
done
[ ${#groups[@]} -gt 0 ] || groups=(build lint clang redis)

wanted=()
for g in "${groups[@]}"; do
    case "$g" in
    build) wanted+=("${pkgs_build[@]}") ;;
    lint) wanted+=("${pkgs_lint[@]}") ;;
    clang) wanted+=("${pkgs_clang[@]}") ;;
    redis) wanted+=("${pkgs_redis[@]}") ;;
    browser) wanted+=("${pkgs_browser[@]}") ;;
    image) wanted+=("${pkgs_image[@]}") ;;
    systemd) wanted+=("${pkgs_systemd[@]}") ;;
    esac
done

missing=()
for p in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != installed ]; then
        case " ${missing[*]-} " in
        *" $p "*) ;;
        *) missing+=("$p") ;;
        esac
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#wanted[@]} packages present (${groups[*]})"
    exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install-deps: not root and no sudo; as root, run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
