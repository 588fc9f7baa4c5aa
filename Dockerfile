# config-reloader image.
#
# Two kinds of stages:
#   * builder stages run on the machine that builds (--platform=$BUILDPLATFORM):
#     they compile the TypeScript and install the production dependencies with
#     `npm ci` from package-lock.json. The code has no native addons (see
#     scripts/check-no-native.ts), so their output is the same for every CPU.
#   * the runtime stage starts from a Node.js 24 image FOR THE TARGET CPU and
#     only copies files into it (no RUN), so building for another CPU (arm64,
#     sw64 with a vendor's Node.js image, ...) needs neither a compiler nor an
#     emulator for that CPU.
#
#   buildah bud -t config-reloader .                  # or: docker build -t config-reloader .
#   docker buildx build --platform linux/arm64 -t config-reloader:arm64 .
#   docker buildx build --platform linux/sw64 --build-arg NODE_IMAGE=<vendor node 24 image> -t config-reloader:sw64 .
#   (buildah: the same with `buildah bud` and --build-arg BUILDPLATFORM=linux/amd64)
#
# See docs/image.md; test/image/build-and-run.sh builds and runs this file
# without a Docker engine or registry pulls.

# Image the builder stages run on (any Node.js 24 image with npm, for the
# build machine's CPU).
ARG BUILDER_IMAGE=node:24-bookworm-slim
# Image the result runs on: any Node.js 24 image for the target CPU, with
# `node` on its PATH or in /nodejs/bin (distroless). Needs no shell and no npm.
ARG NODE_IMAGE=node:24-bookworm-slim

# The runtime base comes first on purpose: buildah 1.28 (Debian 12) lets a
# stage's FROM --platform leak into the stages after it, so a target-CPU base
# named after the builder stages would be looked up for the build CPU. (The
# LABEL also keeps that buildah from leaking a working container for a stage
# that has nothing but its FROM.)
FROM ${NODE_IMAGE} AS runtime-base
LABEL org.opencontainers.image.title="config-reloader" \
      org.opencontainers.image.description="Restarts workloads when their ConfigMaps and Secrets change (stakater/Reloader compatible) and stamps new pods through a mutating admission webhook" \
      org.opencontainers.image.licenses="Apache-2.0"

# ---------------------------------------------------------------- builder ---
# $BUILDPLATFORM is set by BuildKit (docker build/buildx); buildah 1.28 does
# not set it: pass --build-arg BUILDPLATFORM=linux/<build CPU> with --platform.
FROM --platform=$BUILDPLATFORM ${BUILDER_IMAGE} AS manifests
WORKDIR /src
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./

# Production dependencies only, exactly as locked. --ignore-scripts: none of
# them has an install script, and none may need one (no native addons). Type
# declarations and source maps are never loaded at run time; dropping them
# takes ~40 MB off (most of it @kubernetes/client-node).
FROM manifests AS prod-deps
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --ignore-scripts \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

# Compile src/ to dist/src/. Needs the dev dependencies (typescript, @types);
# --ignore-scripts keeps the `node` devDependency (the Node.js binary pinned
# for developers, fetched by its install script) out of the build: the builder
# image brings its own Node.js 24, which runs tsc directly (not through
# node_modules/.bin or npm scripts, so that package can never be in the way).
FROM manifests AS build
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && node dist/src/main.js --help > /dev/null

# ---------------------------------------------------------------- runtime ---
FROM runtime-base
WORKDIR /app
# /nodejs/bin: where distroless Node.js images keep node (not on their PATH).
# Memory (bench/README.md; `npm run bench:memory` runs with exactly these and
# the ENTRYPOINT's --lite-mode). V8: a 1 MB young generation and a 96 MB old
# generation make V8 collect the garbage of LIST pages early instead of
# growing the heap; 96 MB holds ~150k cached objects (~0.5 KB each over
# ~20 MB of code): override NODE_OPTIONS for a bigger cluster. glibc malloc:
# two arenas, freed memory returned to the kernel early, and blocks of 16 KB
# or more (TLS records, socket reads) served from mmap so that they do not
# fragment the heap.
ENV NODE_ENV=production \
    PATH=${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}:/nodejs/bin \
    NODE_OPTIONS="--max-old-space-size=96 --max-semi-space-size=1" \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    MALLOC_MMAP_THRESHOLD_=16384
# package.json: "type": "module" makes node load dist/**/*.js as ES modules.
COPY package.json ./
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# Not root; numeric, so it needs no /etc/passwd entry (works with distroless
# and vendor images alike, and with runAsNonRoot).
USER 65532:65532
EXPOSE 8443
# --lite-mode (on the command line: Node refuses it in NODE_OPTIONS) trades
# V8's optimizing compilers for memory: we spend our time waiting on the API
# server, not computing.
ENTRYPOINT ["node", "--lite-mode", "dist/src/main.js"]
