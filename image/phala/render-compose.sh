#!/usr/bin/env bash
# Render the mero-kms Phala compose template with validated values.
#
# Usage: image/phala/render-compose.sh --digest sha256:HEX64 --port N --version X.Y.Z \
#            --profile debug|debug-read-only|locked-read-only --policy-sha256 HEX64 [--out FILE]
# Refuses tags instead of digests, malformed hashes and unknown profiles, and checks that no
# placeholder is left.  The compose hash dstack reports is SHA-256 of the app-compose.json the
# deployer builds around this rendering: run `mero-tee compose-hash app-compose.json` on it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
digest="" port="" version="" profile="" policy="" out="/dev/stdout"
while [ $# -gt 0 ]; do
    case "$1" in
    --digest) digest="$2" ;;
    --port) port="$2" ;;
    --version) version="$2" ;;
    --profile) profile="$2" ;;
    --policy-sha256) policy="$2" ;;
    --out) out="$2" ;;
    *)
        sed -n '4,5p' "$0" >&2
        exit 2
        ;;
    esac
    shift 2
done
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "render-compose: --digest must be sha256:<64 lowercase hex>" >&2; exit 2; }
[[ "$port" =~ ^[0-9]{1,5}$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || { echo "render-compose: bad --port" >&2; exit 2; }
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || { echo "render-compose: bad --version" >&2; exit 2; }
case "$profile" in debug | debug-read-only | locked-read-only) ;; *) echo "render-compose: bad --profile" >&2; exit 2 ;; esac
[[ "$policy" =~ ^[0-9a-f]{64}$ ]] || { echo "render-compose: --policy-sha256 must be 64 lowercase hex" >&2; exit 2; }

rendered="$(sed -e "s|__IMAGE_DIGEST__|$digest|" -e "s|__SERVICE_PORT__|$port|" \
    -e "s|__MERO_KMS_VERSION__|$version|" -e "s|__MERO_KMS_PROFILE__|$profile|" \
    -e "s|__MERO_KMS_POLICY_SHA256__|$policy|" "$here/kms-compose-template.yaml")"
if grep -q '__[A-Z0-9_]*__' <<<"$rendered"; then
    echo "render-compose: placeholder left in the rendering" >&2
    exit 1
fi
printf '%s\n' "$rendered" >"$out"
