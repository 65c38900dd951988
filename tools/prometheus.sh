#!/usr/bin/env bash
# prometheus.sh MODE BIN_DIR SOURCE_FILE — put `prometheus` and `promtool` into
# BIN_DIR for `make tools`, and record where they came from in SOURCE_FILE.
#
# MODE is one of
#   auto    symlink the ones on PATH when `prometheus --version` is >= MIN_VERSION
#           (Debian 12's package is 2.42), else build from source;
#   path    symlink the ones on PATH, or fail when they are missing or too old;
#   source  build Prometheus 3 from the module pinned in tools/prometheus/go.mod.
#
# SOURCE_FILE's first word is the choice ("path" or "source"); the Makefile
# reads it so that a second `make tools` keeps the choice and does nothing.
# Run from the repository root (the Makefile does).
set -euo pipefail

readonly MIN_VERSION=2.42.0
readonly MODULE=github.com/prometheus/prometheus

mode=${1:?usage: prometheus.sh auto|path|source BIN_DIR SOURCE_FILE}
bin_dir=${2:?missing BIN_DIR}
source_file=${3:?missing SOURCE_FILE}
go=${GO:-go}

mkdir -p "$bin_dir"
bin_dir=$(cd "$bin_dir" && pwd)

# on_path NAME: the NAME on PATH, never one of our own links in bin_dir.
on_path() {
	local p
	p=$(PATH=$(tr ':' '\n' <<<"$PATH" | grep -vxF "$bin_dir" | paste -sd: -) command -v "$1") || return 1
	[[ $(readlink -f "$p") != "$bin_dir"/* ]] || return 1
	printf '%s\n' "$p"
}

# path_version: the version of the prometheus on PATH ("2.42.0+ds"), or fail.
path_version() {
	local prom
	prom=$(on_path prometheus) || return 1
	on_path promtool >/dev/null || return 1
	"$prom" --version 2>&1 | sed -nE '1s/^prometheus, version ([0-9][^ ]*).*/\1/p' | grep .
}

# new_enough VERSION: VERSION (its numeric part) is at least MIN_VERSION.
new_enough() {
	local v=${1%%[+-]*}
	[[ $(printf '%s\n%s\n' "$MIN_VERSION" "$v" | sort -V | head -n1) == "$MIN_VERSION" ]]
}

link_from_path() {
	local version=$1 prom tool
	prom=$(on_path prometheus)
	tool=$(on_path promtool)
	echo ">> prometheus, promtool $version: linking the ones on PATH ($prom, $tool; >= $MIN_VERSION), instant"
	ln -sfn "$prom" "$bin_dir/prometheus"
	ln -sfn "$tool" "$bin_dir/promtool"
	printf 'path %s %s (prometheus on PATH >= %s; force a build with PROMETHEUS_FROM_SOURCE=1)\n' \
		"$prom" "$version" "$MIN_VERSION" >"$source_file"
}

build_from_source() {
	local modver version minor
	modver=$("$go" -C tools/prometheus list -m -f '{{.Version}}' "$MODULE")
	# Prometheus tags its Go module v0.XYY.Z for release X.YY.Z (v0.311.3 is 3.11.3).
	minor=${modver#v0.}
	minor=${minor%%.*}
	version=$((10#$minor / 100)).$((10#$minor % 100)).${modver##*.}
	echo ">> building prometheus, promtool $version ($MODULE $modver, pinned in tools/prometheus/go.mod), first build ~15 min"
	rm -f "$bin_dir/prometheus" "$bin_dir/promtool" "$source_file"
	local ldflags="-X github.com/prometheus/common/version.Version=$version -X github.com/prometheus/common/version.Branch=$modver"
	for cmd in prometheus promtool; do
		CGO_ENABLED=0 "$go" -C tools/prometheus build -trimpath -ldflags "$ldflags" \
			-o "$bin_dir/$cmd" "$MODULE/cmd/$cmd"
	done
	printf 'source %s %s (built from tools/prometheus/go.mod; no web UI assets, the HTTP API works)\n' \
		"$MODULE" "$modver" >"$source_file"
}

case $mode in
source)
	build_from_source
	;;
path)
	if version=$(path_version) && new_enough "$version"; then
		link_from_path "$version"
	else
		echo "prometheus.sh: no prometheus >= $MIN_VERSION with promtool on PATH (found: ${version:-none});" \
			"install one (apt-get install -y prometheus) or build it: make tools PROMETHEUS_FROM_SOURCE=1" >&2
		exit 1
	fi
	;;
auto)
	if version=$(path_version) && new_enough "$version"; then
		link_from_path "$version"
	else
		echo ">> no prometheus >= $MIN_VERSION with promtool on PATH (found: ${version:-none}): building from source"
		build_from_source
	fi
	;;
*)
	echo "prometheus.sh: unknown mode '$mode' (want auto, path or source)" >&2
	exit 2
	;;
esac
