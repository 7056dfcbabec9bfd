#!/usr/bin/env bash
# Renders .krew.yaml into DIST/kbackup.yaml: the release's version and the
# SHA-256 of each kubectl-kbackup archive that `make dist` built.
#
# usage: hack/krew-manifest.sh VERSION DIST
set -euo pipefail
version=$1
dist=$2
root=$(cd "$(dirname "$0")/.." && pwd)
args=(-e "s|\${VERSION}|${version}|g")
for archive in "$dist"/kubectl-kbackup_"${version}"_*.tar.gz; do
  platform=${archive##*/kubectl-kbackup_"${version}"_}
  platform=${platform%.tar.gz}
  sum=$(sha256sum "$archive" | cut -d' ' -f1)
  args+=(-e "s|\${SHA256_${platform}}|${sum}|g")
done
sed "${args[@]}" "$root/.krew.yaml" > "$dist/kbackup.yaml"
if grep -q '\${' "$dist/kbackup.yaml"; then
  echo "krew manifest: placeholders left (an archive missing?):" >&2
  grep -n '\${' "$dist/kbackup.yaml" >&2
  exit 1
fi
echo "rendered $dist/kbackup.yaml"
