#!/usr/bin/env bash
# Builds kbackup's release archives into DIST, reproducibly: the same commit
# gives the same bytes (-trimpath, no build IDs, the commit's time as the
# build date and as every file's modification time, sorted archive entries,
# no owner names, gzip without a name or time).
#
# usage: hack/dist.sh VERSION COMMIT EPOCH DIST PLATFORM...
#   EPOCH is the commit's time in seconds (git log -1 --format=%ct);
#   PLATFORM is os/arch, as GOOS/GOARCH.
#
# Each kubectl-kbackup archive holds the binary, LICENSE and
# kubectl_complete-kbackup (kubectl's completion hook for plugins); each
# provider zip holds terraform-provider-kbackup_vVERSION, as Terraform
# registries want. SHA256SUMS covers every archive, and the krew manifest is
# rendered from .krew.yaml for the platforms built.
set -euo pipefail
version=$1 commit=$2 epoch=$3 dist=$4
shift 4
root=$(cd "$(dirname "$0")/.." && pwd)
go=${GO:-go}
date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/kbackup/kbackup/core/version
ldflags="-s -w -buildid= -X $pkg.Version=$version -X $pkg.Commit=$commit -X $pkg.BuildDate=$date"
touchdate=$(date -u -d "@$epoch" +%Y%m%d%H%M.%S)

mkdir -p "$dist"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

archive_tar() { # DIR OUT: a tar.gz of DIR's files, the same bytes every time
  find "$1" -exec touch -h -t "$touchdate" {} +
  tar -C "$1" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    --format=gnu -cf - . | gzip -n -9 > "$2"
}

archive_zip() { # DIR OUT
  find "$1" -exec touch -h -t "$touchdate" {} +
  (cd "$1" && TZ=UTC zip -q -X -D "$2" $(ls | LC_ALL=C sort))
}

for platform in "$@"; do
  os=${platform%/*} arch=${platform#*/} ext=""
  [ "$os" = windows ] && ext=.exe
  dir=$stage/kubectl-kbackup_${os}_${arch}
  mkdir -p "$dir"
  (cd "$root/kubectl-kbackup" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath -ldflags "$ldflags" -o "$dir/kubectl-kbackup$ext" .)
  cp "$root/LICENSE" "$dir/"
  cp "$root/hack/kubectl_complete-kbackup" "$dir/"
  chmod 0755 "$dir/kubectl-kbackup$ext" "$dir/kubectl_complete-kbackup"
  chmod 0644 "$dir/LICENSE"
  archive_tar "$dir" "$dist/kubectl-kbackup_${version}_${os}_${arch}.tar.gz"

  if [ -z "${KBACKUP_DIST_PLUGIN_ONLY:-}" ]; then
    dir=$stage/terraform-provider-kbackup_${os}_${arch}
    mkdir -p "$dir"
    (cd "$root/terraform-provider" && CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath -ldflags "$ldflags" -o "$dir/terraform-provider-kbackup_${version}$ext" .)
    chmod 0755 "$dir/terraform-provider-kbackup_${version}$ext"
    archive_zip "$dir" "$dist/terraform-provider-kbackup_${version#v}_${os}_${arch}.zip"
  fi
done

(cd "$dist" && sha256sum -- *.tar.gz $(ls *.zip 2>/dev/null) > SHA256SUMS)
"$root/hack/krew-manifest.sh" "$version" "$dist"
