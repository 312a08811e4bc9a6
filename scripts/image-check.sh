#!/usr/bin/env bash
# Offline validation of the node image pipeline (docs/image.md, "Offline validation").
#
# Usage: scripts/image-check.sh [BUILD_DIR]      (default: build; must be run as root)
#   1. installs ansible, ansible-lint, debootstrap, packer (scripts/install-deps.sh image);
#   2. ansible-playbook --syntax-check, ansible-lint, packer validate -syntax-only
#      (Debian's packer 1.6.6 parses the HCL2 template but has no googlecompute
#      plugin loader/credentials here, so only the syntax is validated);
#   3. builds mero-tee and mero-fleet-sidecar in BUILD_DIR;
#   4. debootstraps a minimal Debian 12 root ONCE (tarball cached in
#      BUILD_DIR/image-cache for the rest of the run), adds a default user and
#      SSH, then for each profile copies the root and runs the playbook against
#      it with ansible_connection=chroot (merod/meroctl: fake tarballs whose
#      checksums go into a copy of versions.json, so the checksum path runs);
#   5. asserts per profile: packages, users, units and masks, the profile file,
#      the kernel command line drop-in, the root hash reproducible from the tree
#      (computed twice, equal to the build's), and that no two profiles share a
#      root hash or an expected RTMR3.
# IMAGE_CHECK_KEEP_CACHE=1 keeps BUILD_DIR/image-cache between runs (development).
# Prints the time of each step and the total.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
build=$(realpath -m "${1:-build}")
cache="$build/image-cache"
work="$build/image-check"
profiles=(debug debug-read-only locked-read-only)
suite=bookworm
mirror=${IMAGE_CHECK_MIRROR:-http://deb.debian.org/debian}
start=$(date +%s)
step_start=$start
fails=0

step() {
    local now
    now=$(date +%s)
    echo "image-check: [$((now - step_start))s] done"
    step_start=$now
    echo "== image-check: $*"
}
fail() {
    echo "image-check: FAIL: $*" >&2
    fails=$((fails + 1))
}
[ "$(id -u)" -eq 0 ] || {
    echo "image-check: must run as root (debootstrap, chroot)" >&2
    exit 2
}

step "dependencies"
scripts/install-deps.sh build image

step "static checks: ansible-playbook --syntax-check, ansible-lint, packer"
(cd image/ansible && ansible-playbook -i localhost, --syntax-check playbook.yml)
if command -v ansible-lint >/dev/null 2>&1; then
    (cd image/ansible && ansible-lint -q playbook.yml)
else
    echo "image-check: ansible-lint not installable, skipped"
fi
packer validate -syntax-only image/packer/node.pkr.hcl
bash -n image/phala/render-compose.sh
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["merodVersion"] and v["imageVersion"]' image/versions.json

step "build mero-tee and mero-fleet-sidecar in $build"
cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j"$(nproc)" --target mero-tee mero-fleet-sidecar >/dev/null
cli="$build/mero-tee"

step "debootstrap $suite (cached in $cache)"
[ "${IMAGE_CHECK_KEEP_CACHE:-0}" = 1 ] || rm -rf "$cache"
rm -rf "$work"
mkdir -p "$cache" "$work"
include=systemd,systemd-sysv,dbus,python3,python3-apt,openssh-server,sudo,ca-certificates,libssl3,libjansson4,libyajl2,libcurl4,libmicrohttpd12
base_tar="$cache/base-root.tar"
if [ ! -f "$base_tar" ]; then
    [ -f "$cache/debootstrap.tgz" ] ||
        debootstrap --variant=minbase --include="$include" --make-tarball="$cache/debootstrap.tgz" \
            "$suite" "$work/dl" "$mirror" >"$cache/debootstrap-download.log" 2>&1
    debootstrap --variant=minbase --include="$include" --unpack-tarball="$cache/debootstrap.tgz" \
        "$suite" "$work/base" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
        { tail -20 "$cache/debootstrap.log"; exit 1; }
    # What the GCP base image has and the playbook must handle: a default user,
    # cloud-init's directory, a GRUB defaults file with a serial console.
    chroot "$work/base" useradd -m -s /bin/bash ubuntu
    mkdir -p "$work/base/etc/cloud" "$work/base/etc/default"
    echo 'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0,38400n8 quiet"' >"$work/base/etc/default/grub"
    printf '#!/bin/sh\nexit 101\n' >"$work/base/usr/sbin/policy-rc.d"
    chmod 0755 "$work/base/usr/sbin/policy-rc.d"
    tar -C "$work/base" -cf "$base_tar" .
    rm -rf "$work/base"
fi

step "fake merod/meroctl release tarballs and a versions.json with their checksums"
mkdir -p "$work/dl-merod" "$work/bin"
for b in merod meroctl; do
    printf '#!/bin/sh\necho "%s (image-check fake) $*"\n' "$b" >"$work/bin/$b"
    chmod 0755 "$work/bin/$b"
    tar -C "$work/bin" -czf "$work/dl-merod/${b}_x86_64-unknown-linux-gnu.tar.gz" "$b"
done
python3 - "$repo/image/versions.json" "$work/versions.json" "$work/dl-merod" <<'PY'
import hashlib, json, os, sys
v = json.load(open(sys.argv[1]))
for name, a in v["artifacts"].items():
    p = os.path.join(sys.argv[3], os.path.basename(a["url"]))
    a["sha256"] = hashlib.sha256(open(p, "rb").read()).hexdigest()
json.dump(v, open(sys.argv[2], "w"), indent=2)
PY
merod_version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["merodVersion"])' image/versions.json)

declare -A root_hash rtmr3
for p in "${profiles[@]}"; do
    step "profile $p: playbook against a chroot"
    r="$work/root-$p"
    mkdir -p "$r"
    tar -C "$r" -xf "$base_tar"
    if ! (cd image/ansible && ANSIBLE_NOCOLOR=1 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
        ansible-playbook -i "$r," -c chroot playbook.yml \
        -e "image_profile=$p merod_version=$merod_version image_version=0.0.0-check" \
        -e "merotee_bin_dir=$build merod_archive_dir=$work/dl-merod versions_file=$work/versions.json" \
        >"$work/ansible-$p.log" 2>&1); then
        tail -40 "$work/ansible-$p.log"
        fail "$p: playbook failed"
        continue
    fi
    grep -E '^PLAY RECAP' -A1 "$work/ansible-$p.log" | tail -1

    step "profile $p: assertions"
    [ "$(cat "$r/etc/calimero/image-profile")" = "$p" ] || fail "$p: image-profile"
    for b in merod meroctl mero-tee mero-fleet-sidecar; do
        [ -x "$r/usr/local/bin/$b" ] || fail "$p: /usr/local/bin/$b missing"
    done
    chroot "$r" /usr/local/bin/merod --version >/dev/null || fail "$p: merod does not run"
    en() { [ -L "$r/etc/systemd/system/multi-user.target.wants/$1" ]; }
    masked() { [ "$(readlink "$r/etc/systemd/system/$1" 2>/dev/null)" = /dev/null ]; }
    en mero-measure-boot.service || fail "$p: mero-measure-boot not enabled"
    en merod.service || fail "$p: merod not enabled"
    grep -q '^ExecStart=/usr/local/bin/mero-tee measure boot$' \
        "$r/etc/systemd/system/mero-measure-boot.service" || fail "$p: measure unit"
    grep -q '^Requires=mero-measure-boot.service' "$r/etc/systemd/system/merod.service" ||
        fail "$p: merod does not require the measurement"
    installed() { chroot "$r" dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -q '^installed$'; }
    case "$p" in
    debug | debug-read-only)
        installed openssh-server || fail "$p: openssh-server removed"
        chroot "$r" getent passwd ubuntu >/dev/null || fail "$p: default user removed"
        if masked getty.target; then fail "$p: getty.target masked"; fi
        if grep -q '^root:!' "$r/etc/shadow"; then fail "$p: root locked by the playbook"; fi
        ;;
    locked-read-only)
        if installed openssh-server; then fail "$p: openssh-server present"; fi
        if [ -e "$r/etc/ssh" ]; then fail "$p: /etc/ssh present"; fi
        if chroot "$r" getent passwd ubuntu >/dev/null; then fail "$p: default user present"; fi
        if [ -e "$r/home/ubuntu" ]; then fail "$p: /home/ubuntu present"; fi
        grep -q '^root:!' "$r/etc/shadow" || fail "$p: root not locked"
        if [ -s "$r/etc/securetty" ]; then fail "$p: /etc/securetty not empty"; fi
        [ -e "$r/etc/cloud/cloud-init.disabled" ] || fail "$p: cloud-init not disabled"
        for u in getty@tty1.service getty@tty6.service serial-getty@ttyS0.service \
            console-getty.service getty.target emergency.service emergency.target \
            rescue.service rescue.target debug-shell.service cloud-init.service \
            google-startup-scripts.service google-guest-agent.service ssh.service; do
            masked "$u" || fail "$p: $u not masked"
        done
        if grep -q 'console=' "$r/etc/default/grub"; then fail "$p: console= left in GRUB"; fi
        ;;
    esac
    if [ "$p" = debug ]; then
        if en mero-fleet-sidecar.service; then fail "$p: fleet sidecar enabled"; fi
        if grep -q -- '--mode read-only' "$r/usr/local/lib/calimero/merod-init.sh"; then fail "$p: merod read-only"; fi
    else
        en mero-fleet-sidecar.service || fail "$p: fleet sidecar not enabled"
        grep -q -- '--mode read-only' "$r/usr/local/lib/calimero/merod-init.sh" ||
            fail "$p: merod not read-only"
    fi
    h1=$("$cli" image root-hash "$r")
    h2=$("$cli" image root-hash "$r")
    [ "$h1" = "$h2" ] || fail "$p: root hash not reproducible ($h1 / $h2)"
    grep -q "^root_hash=$h1\$" "$r/var/lib/calimero/measurement" ||
        fail "$p: root hash from the tree differs from the build's"
    grep -q "calimero.role=node calimero.profile=$p calimero.root_hash=$h1\"" \
        "$r/etc/default/grub.d/60-calimero-root-hash.cfg" || fail "$p: kernel command line"
    root_hash[$p]=$h1
    rtmr3[$p]=$("$cli" rtmr expected --profile "$p" --root-hash "$h1" | sed -n 's/^rtmr3 //p')
    echo "image-check: $p root_hash ${root_hash[$p]} rtmr3 ${rtmr3[$p]}"
done

step "profiles are distinct"
for a in "${profiles[@]}"; do
    for b in "${profiles[@]}"; do
        [ "$a" \< "$b" ] || continue
        if [ -n "${root_hash[$a]-}" ] && [ "${root_hash[$a]}" = "${root_hash[$b]-}" ]; then fail "$a and $b share a root hash"; fi
        if [ -n "${rtmr3[$a]-}" ] && [ "${rtmr3[$a]}" = "${rtmr3[$b]-}" ]; then fail "$a and $b share an expected RTMR3"; fi
    done
done
[ ${#root_hash[@]} -eq ${#profiles[@]} ] || fail "not every profile was built"

[ "${IMAGE_CHECK_KEEP_CACHE:-0}" = 1 ] || rm -rf "$cache"
rm -rf "$work"
step "finished"
echo "image-check: total $(($(date +%s) - start))s, $fails failure(s)"
[ "$fails" -eq 0 ]
