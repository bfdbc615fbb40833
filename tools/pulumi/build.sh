#!/usr/bin/env bash
# Builds the Pulumi CLI of the engine layer from the Go module proxy, at the
# version this folder's go.mod pins (package.json's @pulumi/pulumi), with the
# flags of Pulumi's own release build (.goreleaser.yml and Makefile of
# github.com/pulumi/pulumi v3.248.0: -trimpath, tags osusergo,grpcnotrace,
# -ldflags "-w -s -X .../sdk/v3/go/common/version.Version=v<version>").
#
# The binary goes to $CCO_PULUMI_CACHE/<version>-<hash of go.mod and go.sum>/bin
# (default /var/cache/cco-infra/pulumi) and is reused while that key holds.
# Go's module and build caches default to /var/cache/cco-infra/go, so a cold
# build downloads once per machine. Nothing is written into the repository.
#
#   build.sh          build when missing; stdout: the binary's path
#   build.sh --path   build nothing, need no Go; stdout: the path it has or
#                     would have; exit 3 when it is not built
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache_root="${CCO_PULUMI_CACHE:-/var/cache/cco-infra/pulumi}"

module_version() {
  awk -v m="$1" '$1 == m { print $2; exit }' "$here/go.mod"
}
pkg_version="$(module_version github.com/pulumi/pulumi/pkg/v3)"
sdk_version="$(module_version github.com/pulumi/pulumi/sdk/v3)"
npm_pin="$(sed -n 's/^ *"@pulumi\/pulumi": *"\([^"]*\)".*/\1/p' "$root/package.json")"

# A bump of one pin without the others would run an engine the SDK was not built for.
if [[ "$pkg_version" != "v$npm_pin" || "$sdk_version" != "v$npm_pin" ]]; then
  echo "tools/pulumi/go.mod pins pkg/v3 $pkg_version and sdk/v3 $sdk_version, package.json pins @pulumi/pulumi $npm_pin: bump them together" >&2
  exit 1
fi

key="$pkg_version-$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
dir="$cache_root/$key"
bin="$dir/bin/pulumi"

if [[ "${1:-}" == "--path" ]]; then
  echo "$bin"
  [[ -x "$bin" ]] || exit 3
  exit 0
fi

if [[ -x "$bin" ]]; then
  echo "pulumi $pkg_version: cached in $dir ($(cat "$dir/build.txt" 2>/dev/null || echo "no build record"))" >&2
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || { echo "go not found (looked on PATH and in /usr/local/go/bin)" >&2; exit 1; }

mkdir -p "$cache_root"
# One build at a time per cache; a second caller waits and then finds the binary.
exec 9>"$cache_root/.lock"
flock 9
if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS=-mod=readonly
export GOMODCACHE="${GOMODCACHE:-/var/cache/cco-infra/go/mod}"
export GOCACHE="${GOCACHE:-/var/cache/cco-infra/go/build}"

staging="$(mktemp -d "$cache_root/.build.XXXXXX")"
chmod 755 "$staging"
trap 'rm -rf "$staging"' EXIT
echo "building pulumi $pkg_version into $dir ($(go version | cut -d' ' -f3), GOMODCACHE=$GOMODCACHE)" >&2
start=$SECONDS
go build -C "$here" -trimpath -tags osusergo,grpcnotrace \
  -ldflags "-w -s -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pkg_version" \
  -o "$staging/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
seconds=$((SECONDS - start))

reported="$("$staging/bin/pulumi" version)"
if [[ "$reported" != "$pkg_version" ]]; then
  echo "the built CLI reports version '$reported', expected $pkg_version" >&2
  exit 1
fi
echo "built in ${seconds}s with $(go version | cut -d' ' -f3) on $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$staging/build.txt"
rm -rf "$dir"
mv "$staging" "$dir"
trap - EXIT
echo "pulumi $pkg_version built in ${seconds}s (no binary was cached for this key)" >&2
echo "$bin"
