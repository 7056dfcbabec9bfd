#!/usr/bin/env bash
# hack/bench-docs.sh RESULTS DOC
#
# Copies the tables that `make bench` wrote into RESULTS (bench-results.md)
# into DOC (docs/benchmarks.md): each block between <!-- bench:NAME --> and
# <!-- /bench:NAME --> in RESULTS replaces the block of that name in DOC, and
# the <!-- bench:run --> block of DOC is rewritten to say where and when the
# run was made. Blocks that RESULTS lacks (a narrowed BENCH=) stay as they are.
set -euo pipefail
results=$1
doc=$2
# The commit measured, before this script changes the document.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit with local changes"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

replace() { # replace NAME BLOCKFILE: swap DOC's block NAME for BLOCKFILE's lines
	local name=$1 block=$2
	grep -qx "<!-- bench:$name -->" "$doc" || { echo "$doc has no <!-- bench:$name --> block" >&2; exit 1; }
	awk -v begin="<!-- bench:$name -->" -v end="<!-- /bench:$name -->" -v block="$block" '
		$0 == begin { while ((getline line < block) > 0) print line; skip = 1; next }
		$0 == end { skip = 0; next }
		!skip { print }' "$doc" > "$tmp/doc"
	cp "$tmp/doc" "$doc"
}

names=$(sed -n 's/^<!-- bench:\([a-z-]*\) -->$/\1/p' "$results")
list=$(echo $names | sed "s/ /, /g")
[ -n "$names" ] || { echo "$results holds no <!-- bench:NAME --> block" >&2; exit 1; }
for name in $names; do
	sed -n "/^<!-- bench:$name -->\$/,/^<!-- \/bench:$name -->\$/p" "$results" > "$tmp/$name"
	replace "$name" "$tmp/$name"
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
{
	echo "<!-- bench:run -->"
	echo "Written by \`make bench\` ($list) on $(date -u +%Y-%m-%d): $(nproc) cores ($cpu), shared by the API"
	echo "server, etcd, the S3 server, the benchmark and kbackup; $mem GiB; commit $commit."
	echo "<!-- /bench:run -->"
} > "$tmp/run"
replace run "$tmp/run"
echo "copied $names from $results into $doc"
