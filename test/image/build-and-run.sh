#!/usr/bin/env bash
# Build the Dockerfile and run the image against a real test control plane,
# with no Docker engine and no image registry (buildah, chroot isolation).
#
#   bash test/image/build-and-run.sh            # everything (under 2 min cold, 20 s warm)
#   bash test/image/build-and-run.sh --no-cross # skip the cross-CPU build check
#
# Steps:
#   1. tools: installs buildah and debootstrap with apt-get when missing;
#   2. a local Node.js 24 base image, localhost/node24-base:test: a Debian
#      minbase root file system from debootstrap (cached as a tar in
#      $CACHE, default ~/.cache/config-reloader/image) plus the project's own
#      Node.js 24 binary (node_modules/node, the pinned devDependency) and the
#      machine's npm, laid out like the official node images (/usr/local/bin);
#      rebuilt only when one of those inputs changes;
#   3. buildah bud of ./Dockerfile with that image as BUILDER_IMAGE and
#      NODE_IMAGE (layer cache on: a warm rebuild only recompiles src/);
#   4. test/image/run-image.ts: starts a control plane, runs the image's
#      entrypoint with `buildah run --isolation chroot` (host network, loopback
#      only), waits for /healthz and /readyz, checks a ConfigMap change rolls
#      a Deployment, stops it with SIGTERM and checks nothing is left running;
#   5. cross-CPU check: builds the same Dockerfile for linux/arm64 on top of a
#      stand-in arm64 base image that has no shell and no node. It succeeds
#      only because the runtime stage runs nothing (no emulator is registered
#      here), and its /app must be byte-identical to the amd64 image's;
#   6. prints the image sizes (buildah images).
# Exits non-zero on any failure. Prints "image: N passed, M failed" last.
# Needs root (buildah's storage, chown to the image's user) and `npm ci` done;
# the control-plane binaries come from test/control-plane/build.sh (cached).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
CACHE=${CONFIG_RELOADER_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/config-reloader/image}
BASE_IMAGE=localhost/node24-base:test
IMAGE=localhost/config-reloader:test
CROSS_BASE_IMAGE=localhost/cross-arm64-stand-in:test
CROSS_IMAGE=localhost/config-reloader:test-arm64
# Bump when the way the base image is assembled changes.
BASE_RECIPE=2

cross=1
for arg in "$@"; do
  case $arg in
    --no-cross) cross=0 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

t0=$SECONDS
say() { printf '[image +%3ss] %s\n' $((SECONDS - t0)) "$*" >&2; }
die() { say "FAILED: $*"; echo "image: $passed passed, 1 failed"; exit 1; }
passed=0
pass() { passed=$((passed + 1)); say "ok: $*"; }

# Working containers and temp folders we made; removed on any exit.
containers=()
tmpdirs=()
cleanup() {
  local c d
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  for d in "${tmpdirs[@]}"; do
    # debootstrap mounts proc/sys inside its target; never rm through a mount.
    findmnt -rn -o TARGET | grep -F "$d/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$d"
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One run at a time per machine (shared tags, cache and apt); bounded wait.
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w 900 9 || die "another build-and-run.sh still holds $CACHE/.lock after 15 min"

# run_in IMAGE CMD...: run CMD in a throw-away working container of IMAGE.
run_in() {
  local image=$1 ctr rc=0
  shift
  ctr=$(buildah from --pull=never "$image") || return 1
  buildah run --isolation chroot "$ctr" -- "$@" || rc=$?
  buildah rm "$ctr" >/dev/null 2>&1 || true
  return $rc
}

# ---------------------------------------------------------------- 1. tools ---
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  say "installing ${need[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
say "$(buildah --version)"

# Working containers that exist before we start (someone else's); any other
# left at the end is a leak (buildah bud can leak one per FROM-only stage).
containers_before=$(buildah containers -q --notruncate | sort)

node24=$repo/node_modules/node/bin/node
[[ -x $node24 ]] || die "$node24 is missing: run npm ci first"
node_version=$("$node24" --version)
[[ $node_version == v24.* ]] || die "$node24 is $node_version, not Node.js 24"
npm_dir=$(npm root -g 2>/dev/null)/npm
[[ -f $npm_dir/bin/npm-cli.js ]] || die "no npm found (looked in $npm_dir)"
npm_version=$(node -p "require('$npm_dir/package.json').version")
arch=$(dpkg --print-architecture)

# ------------------------------------------------------- 2. the base image ---
# Debian suite and mirror: whatever this machine's apt uses.
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
mirror=${DEBIAN_MIRROR:-}
if [[ -z $mirror && -f /etc/apt/sources.list.d/debian.sources ]]; then
  mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z $mirror && -f /etc/apt/sources.list ]]; then
  mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\// && $i !~ /security/) { print $i; exit } }' /etc/apt/sources.list)
fi
[[ -n $mirror ]] || die "no Debian mirror found in apt's sources; set DEBIAN_MIRROR"

rootfs_tar=$CACHE/debian-$suite-minbase-$arch.tar
if [[ ! -s $rootfs_tar ]]; then
  say "debootstrap --variant=minbase $suite ($arch) into the cache (once)"
  work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  tmpdirs+=("$work")
  if ! debootstrap --variant=minbase --arch="$arch" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  # Package caches, apt lists, docs, man pages and translations: not needed.
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/cache/apt/*.bin \
    "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* \
    "$work"/rootfs/usr/share/info/* "$work"/rootfs/usr/share/locale/* "$work"/rootfs/var/log/*.log
  tar --numeric-owner -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  say "cached $rootfs_tar ($(du -h "$rootfs_tar" | cut -f1))"
fi

# The build machine's trusted CAs (this machine may reach the npm registry
# through a TLS-inspecting proxy whose CA only the machine trusts); npm in the
# base image uses them, as a corporate base image would.
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -f $ca_bundle ]] || ca_bundle=/dev/null
base_key=$({
  echo "recipe $BASE_RECIPE"
  stat -c '%s %Y' "$rootfs_tar"
  echo "node $node_version $(stat -c '%s %Y' "$node24")"
  echo "npm $npm_version"
  sha256sum <"$ca_bundle"
} | sha256sum | cut -c1-32)
have_key=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "config-reloader.test/base-key"}}' "$BASE_IMAGE" 2>/dev/null || true)
if [[ $have_key == "$base_key" ]]; then
  say "base image $BASE_IMAGE is up to date (node $node_version, npm $npm_version)"
else
  say "assembling $BASE_IMAGE: Debian $suite minbase + node $node_version + npm $npm_version"
  ctr=$(buildah from --pull=never scratch)
  containers+=("$ctr")
  mnt=$(buildah mount "$ctr")
  tar --numeric-owner -C "$mnt" -xf "$rootfs_tar"
  install -D -m 0755 "$node24" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules" "$mnt/usr/local/etc" "$mnt/etc/ssl/certs"
  cp -a "$npm_dir" "$mnt/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  if [[ $ca_bundle != /dev/null ]]; then
    cp "$ca_bundle" "$mnt/etc/ssl/certs/ca-certificates.crt"
    echo 'cafile=/etc/ssl/certs/ca-certificates.crt' >"$mnt/usr/local/etc/npmrc"
  fi
  buildah umount "$ctr" >/dev/null
  buildah config --os linux --arch "$arch" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="${node_version#v}" \
    --cmd node \
    --label config-reloader.test/base-key="$base_key" "$ctr"
  buildah commit -q --rm "$ctr" "$BASE_IMAGE" >/dev/null
fi
out=$(run_in "$BASE_IMAGE" sh -c 'node --version && npm --version') || die "the base image cannot run node and npm"
pass "base image runs node $(echo "$out" | head -1) and npm $(echo "$out" | tail -1)"

# ------------------------------------------------------------- 3. the build ---
# Both builds use one snapshot of the work tree (without node_modules and
# .git; .dockerignore still decides what goes into the context), so that
# edits made meanwhile cannot make the native and the cross image differ.
context=$(mktemp -d)
tmpdirs+=("$context")
tar -C "$repo" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$context" -xf -
build_log=$context.build.log
tmpdirs+=("$build_log")
build() { # build LOG ARGS...: buildah bud of the snapshot's Dockerfile, log kept for failures
  local log=$1
  shift
  if ! buildah bud --isolation chroot --layers --pull=never \
    --build-arg BUILDPLATFORM="linux/$arch" \
    --build-arg BUILDER_IMAGE="$BASE_IMAGE" "$@" "$context" >"$log" 2>&1; then
    tail -40 "$log" >&2
    return 1
  fi
}
say "buildah bud -t $IMAGE (NODE_IMAGE=BUILDER_IMAGE=$BASE_IMAGE)"
b0=$SECONDS
build "$build_log" --build-arg NODE_IMAGE="$BASE_IMAGE" -t "$IMAGE" || die "buildah bud failed"
cached=$(grep -c 'Using cache' "$build_log" || true)
cp "$build_log" "$CACHE/last-build.log"
pass "image $IMAGE built in $((SECONDS - b0)) s ($cached cached steps)"

# ------------------------------------------------------------- 4. the run ---
say "running the image against a test control plane"
PATH=$repo/node_modules/.bin:$PATH node test/image/run-image.ts --image "$IMAGE" ||
  die "the image did not run (see above)"
pass "image runs against the control plane (run-image.ts)"

# ------------------------------------------------------ 5. cross-CPU build ---
app_digest() { # app_digest IMAGE: one hash over every file under /app (path, mode, content)
  local ctr mnt rc=0
  # (buildah from warns when the image's CPU is not this machine's; expected here)
  ctr=$(buildah from --pull=never "$1" 2> >(grep -v 'does not match the expected platform' >&2)) || return 1
  if mnt=$(buildah mount "$ctr"); then
    (cd "$mnt/app" && find . \( -type f -printf '%p %m\n' -exec sha256sum {} + \) -o \( -type l -printf '%p -> %l\n' \) | LC_ALL=C sort | sha256sum | cut -c1-64) || rc=1
    buildah umount "$ctr" >/dev/null || true
  else
    rc=1
  fi
  buildah rm "$ctr" >/dev/null || true
  return $rc
}
if ((cross)); then
  # buildah matches linux/arm64 against images as arm64/v8, so the stand-in says v8.
  if [[ $arch == arm64 ]]; then cross_arch=amd64 cross_variant=""; else cross_arch=arm64 cross_variant=v8; fi
  # An emulator would let a RUN in the runtime stage pass unnoticed.
  if compgen -G "/proc/sys/fs/binfmt_misc/qemu-*" >/dev/null; then
    say "note: a qemu binfmt handler is registered; the no-RUN check is weaker here"
  fi
  say "cross build: buildah bud --platform linux/$cross_arch on a stand-in $cross_arch base (no shell, no node)"
  ctr=$(buildah from --pull=never scratch)
  containers+=("$ctr")
  mnt=$(buildah mount "$ctr")
  printf 'Stand-in for a vendor Node.js 24 image for linux/%s (test/image/build-and-run.sh).\n' "$cross_arch" >"$mnt/README"
  buildah umount "$ctr" >/dev/null
  buildah config --os linux --arch "$cross_arch" ${cross_variant:+--variant "$cross_variant"} \
    --env PATH=/usr/local/bin:/usr/bin:/bin "$ctr"
  buildah commit -q --rm "$ctr" "$CROSS_BASE_IMAGE" >/dev/null
  cross_log=$context.cross.log
  tmpdirs+=("$cross_log")
  b0=$SECONDS
  build "$cross_log" --platform "linux/$cross_arch" --build-arg NODE_IMAGE="$CROSS_BASE_IMAGE" -t "$CROSS_IMAGE" ||
    die "the cross build for linux/$cross_arch failed"
  got_arch=$(buildah inspect --type image --format '{{.OCIv1.Architecture}}' "$CROSS_IMAGE")
  [[ $got_arch == "$cross_arch" ]] || die "cross image has architecture $got_arch, want $cross_arch"
  pass "linux/$cross_arch image built in $((SECONDS - b0)) s without running anything for $cross_arch"
  native_app=$(app_digest "$IMAGE") || die "cannot read /app of $IMAGE"
  cross_app=$(app_digest "$CROSS_IMAGE") || die "cannot read /app of $CROSS_IMAGE"
  [[ $native_app == "$cross_app" ]] || die "/app differs between the $arch and $cross_arch images"
  pass "/app is identical in the $arch and $cross_arch images (${native_app:0:12})"
  buildah rmi "$CROSS_IMAGE" "$CROSS_BASE_IMAGE" >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------- no leftovers ---
leaked=$(comm -13 <(echo "$containers_before") <(buildah containers -q --notruncate | sort))
if [[ -n $leaked ]]; then
  buildah containers >&2
  for c in $leaked; do buildah rm "$c" >/dev/null 2>&1 || true; done
  die "working containers were left behind (removed now): $(echo $leaked | cut -c1-80)"
fi
pass "no working containers left behind"

# ------------------------------------------------------------- 6. the size ---
buildah images | awk -v a="${IMAGE%:*}" -v b="${BASE_IMAGE%:*}" 'NR == 1 || $1 == a || $1 == b' >&2
size=$(buildah images --format '{{.Size}}' "$IMAGE" | head -1)
base_size=$(buildah images --format '{{.Size}}' "$BASE_IMAGE" | head -1)
say "image $IMAGE: $size (base $BASE_IMAGE: $base_size); total time $((SECONDS - t0)) s"
echo "image: $passed passed, 0 failed"
