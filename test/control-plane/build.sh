#!/usr/bin/env bash
# Builds the programs of the test control plane (etcd, kube-apiserver,
# kube-controller-manager, kubectl) from their Go modules, pinned by the
# wrapper modules next to this script, into a cache folder outside the repo:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/config-reloader/control-plane/k8s-<v>_etcd-<v>/
#
# Usage: test/control-plane/build.sh [--print-dir]
#
#   (no flag)    build what is missing (nothing when every binary is there) and
#                print the folder holding the binaries as the LAST line of stdout;
#                progress goes to stderr.
#   --print-dir  print that folder and exit 0 if every binary is there, else
#                exit 1 without building.
#
# Environment:
#   KUBEBUILDER_ASSETS          a folder with etcd and kube-apiserver (and
#                               ideally kube-controller-manager, kubectl): used
#                               as is, nothing is built.
#   CONFIG_RELOADER_CACHE_DIR   overrides ${XDG_CACHE_HOME:-$HOME/.cache}/config-reloader.
#
# The build goes into a temporary folder that is renamed into place only when
# every binary is built, so an interrupted build is never taken for a finished
# one. Concurrent runs are serialised with flock (when available), so a second
# run waits for the first instead of compiling for minutes in parallel.
#
# Cost on a 2-core machine (measured): cold build (empty Go build cache) about
# 7 minutes wall and 2.9 GB peak RSS, dominated by kube-apiserver +
# kube-controller-manager + kubectl (~6.5 min, one go build so they share
# packages); etcd ~40 s. Warm (all binaries there): 0.01 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
binaries=(etcd kube-apiserver kube-controller-manager kubectl)

log() { printf '[control-plane build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mode=build
case "${1:-}" in
  "") ;;
  --print-dir) mode=print ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "build.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

# A folder from KUBEBUILDER_ASSETS (envtest's layout) wins: build nothing.
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  assets="${KUBEBUILDER_ASSETS%/}"
  for required in etcd kube-apiserver; do
    if [[ ! -x "$assets/$required" ]]; then
      echo "build.sh: KUBEBUILDER_ASSETS=$assets has no executable '$required'." >&2
      echo "  Point it at a folder holding etcd and kube-apiserver (e.g. from setup-envtest)," >&2
      echo "  or unset it to build the binaries from their Go modules." >&2
      exit 1
    fi
  done
  for optional in kube-controller-manager kubectl; do
    if [[ ! -x "$assets/$optional" ]]; then
      log "warning: KUBEBUILDER_ASSETS has no '$optional'; tests that need it will fail"
    fi
  done
  echo "$assets"
  exit 0
fi

# Versions come from the wrapper modules, so bumping a version in go.mod
# also moves the cache key.
module_version() { # <go.mod> <module path>
  awk -v mod="$2" '$1 == "require" && $2 == mod { print $3; exit } $1 == mod && $2 ~ /^v/ { print $2; exit }' "$1"
}
k8s_version="$(module_version "$here/kubernetes/go.mod" k8s.io/kubernetes)"
etcd_version="$(module_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
if [[ -z "$k8s_version" || -z "$etcd_version" ]]; then
  echo "build.sh: cannot read the pinned versions from $here/{kubernetes,etcd}/go.mod" >&2
  exit 1
fi

cache_root="${CONFIG_RELOADER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/config-reloader}/control-plane"
dest="$cache_root/k8s-${k8s_version}_etcd-${etcd_version}"

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$dest/$b" ]] || return 1; done
}

if [[ "$mode" == print ]]; then
  echo "$dest"
  complete || { echo "build.sh: not built yet; run test/control-plane/build.sh" >&2; exit 1; }
  exit 0
fi

if complete; then
  echo "$dest"
  exit 0
fi

# Go's default install location, for shells whose PATH lacks it.
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
  cat >&2 <<EOF
build.sh: the test control plane needs etcd, kube-apiserver, kube-controller-manager
and kubectl, and neither Go nor KUBEBUILDER_ASSETS is available to provide them.
Either:
  - install Go (1.26 or newer, https://go.dev/dl/) and run this script again: it
    builds Kubernetes ${k8s_version} and etcd ${etcd_version} from their Go modules
    (about 7 minutes and 3 GB of memory once, then cached in $dest); or
  - set KUBEBUILDER_ASSETS to a folder that holds those binaries, e.g. the one
    printed by 'setup-envtest use ${k8s_version#v} -p path' (etcd, kube-apiserver,
    kubectl) plus kube-controller-manager from the Kubernetes server release
    tarball for ${k8s_version}.
EOF
  exit 1
fi

mkdir -p "$cache_root"

# Serialise concurrent builds: the second run waits, then finds the binaries.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for it"
    flock 9
  fi
  if complete; then
    echo "$dest"
    exit 0
  fi
fi

tmp="$(mktemp -d "$cache_root/.building.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Build settings: the wrapper modules' go.sum must be complete (readonly), no
# go.work from elsewhere may leak in, stripped binaries (-s -w) link faster.
export GOWORK=off GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
version_ldflags=""
k8s_minor="${k8s_version#v1.}"; k8s_minor="${k8s_minor%%.*}"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  version_ldflags+=" -X $pkg.gitTreeState=clean"
done

started_all=$SECONDS
log "building into $dest (Kubernetes $k8s_version, etcd $etcd_version)"

# go build -v prints each package it compiles, one name a line; count them and
# show a line every 200 packages (kube-apiserver alone is over 2,000) so that a
# cold build shows progress without flooding the terminal. Anything else go
# prints (errors, downloads) is shown as is.
build_one() { # <label> <module dir> <ldflags> <packages...>
  local label="$1" dir="$2" ldflags="$3"
  shift 3
  local started=$SECONDS status
  log "building $label"
  set +o errexit
  (cd "$dir" && go build -v -trimpath -ldflags "-s -w$ldflags" -o "$tmp/" "$@" 2>&1) |
    awk -v label="$label" -v t0="$(date +%s)" '
      function elapsed(  now) { "date +%s" | getline now; close("date +%s"); return now - t0 }
      /^[A-Za-z0-9._~\/-]+$/ {
        n++
        if (n % 200 == 0) { printf "[control-plane build] %s: %d packages compiled (%ds)\n", label, n, elapsed(); fflush() }
        next
      }
      { print; fflush() }
      END { printf "[control-plane build] %s: %d packages compiled\n", label, n }' >&2
  status=${PIPESTATUS[0]}
  set -o errexit
  if ((status != 0)); then
    log "FAILED to build $label (exit $status)"
    exit "$status"
  fi
  log "built $label in $((SECONDS - started))s"
}

build_one "etcd $etcd_version" "$here/etcd" "" go.etcd.io/etcd/server/v3
# go build names the binary after the module path (server, skipping /v3).
for name in server v3; do
  if [[ -x "$tmp/$name" ]]; then mv "$tmp/$name" "$tmp/etcd"; fi
done
build_one "kube-apiserver, kube-controller-manager, kubectl $k8s_version" "$here/kubernetes" "$version_ldflags" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl

for b in "${binaries[@]}"; do
  [[ -x "$tmp/$b" ]] || { log "build finished without $b"; exit 1; }
done
chmod 0755 "$tmp"
# Atomic publish: rename the finished folder into place. A stale, incomplete
# folder (from an older, non-atomic tool) is moved aside first.
if [[ -e "$dest" ]]; then
  rm -rf "$dest"
fi
mv -T "$tmp" "$dest"
trap - EXIT
log "all binaries built in $((SECONDS - started_all))s"
echo "$dest"
