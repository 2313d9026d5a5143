#!/usr/bin/env bash
# Fetch the real 23.976p test material into .cache/real/ (gitignored): scripts/install.sh --dev runs it.
#
#   bash scripts/fetch_real.sh
#
# Megamind.avi: 270 frames of a real animated film (720x528 MPEG-4 Part 2, 23.976 fps, four hard
# cuts), shipped by the Debian package opencv-doc in /usr/share/doc/opencv-doc/examples/data/. The
# package is downloaded with `apt-get download` (no install, no root needed when the apt lists are
# current) into a temporary folder and only that file is extracted; its sha256 is checked. The tests
# (tests/real_material.py) telecine it with ffmpeg and check conform's exact recovery across its cuts.
#
# Idempotent: does nothing when the file is there with the right hash. When apt cannot fetch it:
# fatal under CI (CI=true: the tests need it), a warning otherwise (the real-material tests skip).
set -euo pipefail
cd "$(dirname "$0")/.."

package="opencv-doc"
member="./usr/share/doc/opencv-doc/examples/data/Megamind.avi"
sha256="0057387cb7e75c8fd1663b62cfdc51fa53f527795d0fe3c1fea2fd159d3130b5"
dest=".cache/real/Megamind.avi"

have_ok() { [[ -f "$dest" ]] && echo "$sha256  $dest" | sha256sum --check --status; }

fail() {
    if [[ "${CI:-}" == "true" ]]; then
        echo "fetch_real: $1 (fatal under CI=true: the real-material tests need it)" >&2
        exit 1
    fi
    echo "fetch_real: warning: $1; the real-material tests will skip (run scripts/fetch_real.sh again)" >&2
    exit 0
}

if have_ok; then
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

download() { (cd "$tmp" && apt-get download -qq "$package" >/dev/null 2>"$tmp/apt.log"); }
if ! download; then
    # no apt lists yet (a fresh container): refresh them when we may, then try once more
    sudo_cmd=""
    [[ "$(id -u)" != "0" ]] && sudo_cmd="sudo -n"
    $sudo_cmd apt-get update -qq >/dev/null 2>&1 || true
    download || fail "apt-get download $package failed: $(tail -n 1 "$tmp/apt.log")"
fi
deb=("$tmp"/"$package"_*.deb)
[[ -f "${deb[0]}" ]] || fail "apt-get download $package left no .deb in $tmp"

dpkg-deb --fsys-tarfile "${deb[0]}" | tar -x -C "$tmp" "$member" \
    || fail "${deb[0]} holds no $member"
echo "$sha256  $tmp/$member" | sha256sum --check --status \
    || fail "$member from ${deb[0]} does not have the expected sha256 $sha256 (another package version?)"
mkdir -p "$(dirname "$dest")"
mv "$tmp/$member" "$dest.partial"
mv "$dest.partial" "$dest"
echo "fetch_real: $dest ready (from $(basename "${deb[0]}"))" >&2
