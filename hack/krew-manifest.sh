#!/usr/bin/env bash
# Renders .krew.yaml into DIST/kbackup.yaml: the release's version, and a
# platform for each kubectl-kbackup archive in DIST (`make dist` builds them),
# with its SHA-256 and the files krew installs: the binary, LICENSE and
# kubectl_complete-kbackup.
#
# usage: hack/krew-manifest.sh VERSION DIST
set -euo pipefail
version=$1
dist=$2
root=$(cd "$(dirname "$0")/.." && pwd)
out=$dist/kbackup.yaml
sed -e "s|\${VERSION}|${version}|g" "$root/.krew.yaml" > "$out"
echo "  platforms:" >> "$out"
found=0
for archive in "$dist"/kubectl-kbackup_"${version}"_*.tar.gz; do
  [ -e "$archive" ] || continue
  found=1
  platform=${archive##*/kubectl-kbackup_"${version}"_}
  platform=${platform%.tar.gz}
  os=${platform%_*} arch=${platform#*_} ext=""
  [ "$os" = windows ] && ext=.exe
  cat >> "$out" <<PLATFORM
  - selector:
      matchLabels:
        os: ${os}
        arch: ${arch}
    uri: https://github.com/kbackup/kbackup/releases/download/${version}/${archive##*/}
    sha256: $(sha256sum "$archive" | cut -d' ' -f1)
    files:
    - from: kubectl-kbackup${ext}
      to: .
    - from: kubectl_complete-kbackup
      to: .
    - from: LICENSE
      to: .
    bin: kubectl-kbackup${ext}
PLATFORM
done
if [ "$found" = 0 ]; then
  echo "krew manifest: no kubectl-kbackup_${version}_*.tar.gz in $dist" >&2
  exit 1
fi
echo "rendered $out"
