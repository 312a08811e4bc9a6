#!/usr/bin/env bash
# Offline validation of the node image pipeline (docs/image.md, "Offline validation").
#
# Usage: scripts/image-check.sh [BUILD_DIR]      (default: build; must be run as root)
#   1. installs ansible, ansible-lint, debootstrap, packer (scripts/install-deps.sh image);
#   2. ansible-playbook --syntax-check, ansible-lint, packer validate -syntax-only,
#      and the task order: the lockdown role's single task (removes users, SSH,
#      sudo, OS Login, then takes the root hash) is the playbook's last task, and
#      no other role removes a user, SSH, sudo or OS Login (--list-tasks + grep);
#      (Debian's packer 1.6.6 parses the HCL2 template but has no googlecompute
#      plugin loader/credentials here, so only the syntax is validated);
#   3. builds mero-tee and mero-fleet-sidecar in BUILD_DIR;
#   4. debootstraps a minimal Debian 12 root ONCE (tarball cached in
#      BUILD_DIR/image-cache for the rest of the run), adds a default user, SSH,
#      sudo and stand-ins for what a GCP image has and the locked profile must
#      remove (google_sudoers, guest agent units and enablement links, OS Login
#      NSS/PAM entries, a serial-console GRUB drop-in), then for each profile copies the root and runs the playbook against
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
tasks=$(cd image/ansible && ansible-playbook -i localhost, --list-tasks playbook.yml \
    -e image_profile=locked-read-only | sed -n 's/^      \(.*[^[:space:]]\)[[:space:]]*TAGS: .*$/\1/p')
last=$(printf '%s\n' "$tasks" | tail -1)
case "$last" in
"lockdown : Remove every way in"*) echo "image-check: last task: $last" ;;
*) fail "the last task is not the lockdown: $last" ;;
esac
if printf '%s\n' "$tasks" | sed '$d' | grep -E '^lockdown :.*Remove every way in'; then
    fail "the lockdown task is not the last"
fi
if grep -rnE 'openssh|^[[:space:]]*- sudo[[:space:]]*$|engine-oslogin|pam_oslogin|nsswitch|google_sudoers|remove: true|userdel' \
    image/ansible/roles --include='*.yml' | grep -v '^image/ansible/roles/lockdown/'; then
    fail "a role other than lockdown removes a user, SSH, sudo or OS Login (before the last task)"
fi
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
base_tar="$cache/base-root-v2.tar"
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
    mkdir -p "$work/base/etc/cloud" "$work/base/etc/default/grub.d"
    echo 'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0,38400n8 quiet"' >"$work/base/etc/default/grub"
    # Stand-ins for the GCP guest environment (Debian has none of these packages):
    # the locked profile must remove each of them.
    # shellcheck disable=SC2016
    printf '%s\n' 'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0,115200"' \
        'GRUB_TERMINAL=serial' 'GRUB_SERIAL_COMMAND="serial --speed=115200"' 'GRUB_TIMEOUT=5' \
        >"$work/base/etc/default/grub.d/50-cloudimg-settings.cfg"
    chroot "$work/base" groupadd google-sudoers
    chroot "$work/base" usermod -a -G google-sudoers ubuntu
    echo '%google-sudoers ALL=(ALL:ALL) NOPASSWD:ALL' >"$work/base/etc/sudoers.d/google_sudoers"
    chmod 0440 "$work/base/etc/sudoers.d/google_sudoers"
    for u in google-guest-agent.service google-guest-agent-manager.service \
        google-osconfig-agent.service google-startup-scripts.service \
        gce-workload-cert-refresh.service gce-workload-cert-refresh.timer; do
        printf '[Unit]\nDescription=image-check stand-in\n[Service]\nExecStart=/bin/true\n' \
            >"$work/base/lib/systemd/system/$u"
        wants=multi-user.target.wants
        case "$u" in *.timer) wants=timers.target.wants ;; esac
        mkdir -p "$work/base/etc/systemd/system/$wants"
        ln -s "/lib/systemd/system/$u" "$work/base/etc/systemd/system/$wants/$u"
    done
    sed -i -E 's/^(passwd|group):(.*)$/\1:\2 cache_oslogin oslogin/' "$work/base/etc/nsswitch.conf"
    echo 'account [success=bad ignore=ignore] pam_oslogin_login.so' >>"$work/base/etc/pam.d/su"
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
        installed sudo || fail "$p: sudo removed"
        [ -f "$r/etc/sudoers.d/google_sudoers" ] || fail "$p: google_sudoers removed"
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
        for pkg in sudo openssh-client google-guest-agent google-compute-engine-oslogin \
            google-osconfig-agent cloud-init; do
            if installed "$pkg"; then fail "$p: $pkg present"; fi
        done
        for f in /etc/sudoers /etc/sudoers.d /etc/sudoers.d/google_sudoers; do
            if [ -e "$r$f" ]; then fail "$p: $f present"; fi
        done
        if chroot "$r" getent group google-sudoers >/dev/null; then fail "$p: google-sudoers group present"; fi
        if awk -F: '$3 >= 1000 && $3 < 65534' "$r/etc/passwd" | grep -q .; then
            fail "$p: an account with UID >= 1000 is left"
        fi
        if grep -q oslogin "$r/etc/nsswitch.conf"; then fail "$p: OS Login NSS entries left"; fi
        if grep -rq pam_oslogin "$r/etc/pam.d"; then fail "$p: OS Login PAM entries left"; fi
        for u in google-guest-agent.service google-guest-agent-manager.service \
            google-osconfig-agent.service gce-workload-cert-refresh.service \
            gce-workload-cert-refresh.timer cloud-init-main.service sshd.service; do
            masked "$u" || fail "$p: $u not masked"
            if [ -e "$r/lib/systemd/system/$u" ]; then fail "$p: /lib/systemd/system/$u present"; fi
            if ls "$r"/etc/systemd/system/*.wants/"$u" >/dev/null 2>&1; then fail "$p: $u still enabled"; fi
        done
        grep -q '^kernel.sysrq = 0$' "$r/etc/sysctl.d/90-calimero-locked.conf" || fail "$p: sysrq"
        if grep -q 'console=' "$r/etc/default/grub" "$r"/etc/default/grub.d/*.cfg; then
            fail "$p: console= left in GRUB defaults"
        fi
        if grep -q 'GRUB_SERIAL_COMMAND=' "$r/etc/default/grub" "$r"/etc/default/grub.d/*.cfg; then
            fail "$p: GRUB serial command left"
        fi
        # What update-grub would see: /etc/default/grub, then the drop-ins in order.
        # shellcheck disable=SC2016
        grub=$(chroot "$r" /bin/sh -c '. /etc/default/grub; for f in /etc/default/grub.d/*.cfg; do . "$f"; done
            echo "$GRUB_TERMINAL|$GRUB_TERMINAL_INPUT|$GRUB_TERMINAL_OUTPUT|${GRUB_SERIAL_COMMAND-}|$GRUB_TIMEOUT|$GRUB_TIMEOUT_STYLE|$GRUB_DISABLE_RECOVERY|$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT"')
        case "$grub" in
        "console|console|console||0|hidden|true|"*) ;;
        *) fail "$p: GRUB settings: $grub" ;;
        esac
        case "$grub" in *console=*) fail "$p: console= on the GRUB command line: $grub" ;; esac
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
