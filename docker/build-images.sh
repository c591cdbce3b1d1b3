#!/usr/bin/env bash
# `make images`: the base image from Debian (debootstrap --variant=minbase) and every service image
# built FROM it with buildah, tagged with the git revision. No container registry is reachable here,
# so nothing is pulled: the base is committed from a root filesystem, the services build on it.
#   IMAGES="booking gateway" bash docker/build-images.sh     # a subset
#   IMAGE_TAG=x bash docker/build-images.sh                  # another tag (default: git revision)
# Reproducibility: every layer's timestamps are SOURCE_DATE_EPOCH (the commit's time) via
# buildah --timestamp; the debootstrap root filesystem is cached, keyed by suite and package list.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE=${PASSPORT_CACHE:-$HOME/.cache/passport-platform}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates,tzdata,passwd
ALL=(booking payment biometrics-capture notification complaint gateway)
[[ -f $REPO/docker/web.Dockerfile ]] && ALL+=(web)
read -r -a IMAGES <<< "${IMAGES:-${ALL[*]}}"
cd "$REPO"
TAG=${IMAGE_TAG:-$(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD -- docker services libs protos || echo -dirty)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

bash "$REPO/deploy/cluster/install-packages.sh"

key=$(printf '%s %s' "$SUITE" "$BASE_PACKAGES" | sha256sum | cut -c1-12)
BASE=localhost/passport-base:$SUITE-$key
if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  tarball=$CACHE/images/rootfs-$SUITE-$key.tar
  if [[ ! -f $tarball ]]; then
    echo "debootstrap --variant=minbase $SUITE (about a minute)"
    mkdir -p "$CACHE/images"; root=$(mktemp -d)
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$root" "$MIRROR" >/dev/null
    # No package cache, lists or logs in the image; apt stays usable after `apt-get update`.
    rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
      "$root"/var/log/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
    tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner -C "$root" -cf "$tarball.tmp" .
    rm -rf "$root"; mv "$tarball.tmp" "$tarball"
  fi
  ctr=$(buildah from scratch)
  mnt=$(buildah mount "$ctr")
  tar -C "$mnt" -xf "$tarball"
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd /bin/bash --label org.opencontainers.image.description="Debian $SUITE minbase + python3" "$ctr"
  buildah commit --quiet --timestamp "$SOURCE_DATE_EPOCH" "$ctr" "$BASE" >/dev/null
  buildah rm "$ctr" >/dev/null
  echo "built $BASE"
fi

# The build steps reach PyPI through this machine's TLS setup: its CA bundle and pip.conf are
# mounted for the build only (volumes are not committed into the image).
build_mounts=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
[[ -f /etc/pip.conf ]] && build_mounts+=(-v /etc/pip.conf:/etc/pip.conf:ro)
for name in "${IMAGES[@]}"; do
  start=$(date +%s)
  # chroot isolation: the build steps run without an OCI runtime (none is needed to pip install),
  # with the host's network for PyPI.
  buildah bud --quiet --layers --isolation chroot --timestamp "$SOURCE_DATE_EPOCH" "${build_mounts[@]}" \
    --build-arg PYTHON_IMAGE="$BASE" -f "docker/$name.Dockerfile" -t "localhost/passport/$name:$TAG" . >/dev/null
  # The image starts: as its non-root user, with a read-only root, its whole import closure loads
  # (podman with runc and cgroupfs: crun refuses this machine's hybrid cgroup v1 layout).
  module=$(sed -n 's/^ARG SERVICE_MODULE=//p' "docker/$name.Dockerfile" | head -1)
  # gateway and web: their app modules and gunicorn's worker class, not the WSGI modules, which
  # build the app and so need the signing key, session keys and store a check without network has not.
  case $module in
    gateway) entry="services.gateway.app, services.gateway.worker" ;;
    web) entry=services.web.app ;;
    *) entry=services.$module.__main__ ;;
  esac
  # /tmp is a tmpfs as in the cluster (the gateway's prometheus multiprocess directory lives there).
  podman --runtime runc --cgroup-manager cgroupfs run --rm --read-only --tmpfs /tmp --network none \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --entrypoint python \
    -e JWT_SECRET=image-smoke-check-secret-0123456789abcdef "localhost/passport/$name:$TAG" \
    -c "import os; d = os.environ.get('PROMETHEUS_MULTIPROC_DIR'); d and os.makedirs(d); import $entry; assert os.getuid() == 10001" \
    || { echo "localhost/passport/$name:$TAG does not start" >&2; exit 1; }
  echo "built localhost/passport/$name:$TAG in $(( $(date +%s) - start )) s (starts: imports $entry as uid 10001)"
done
# The tag every image exists at (what `make cluster-test` installs): a subset build does not move it.
if [[ "${IMAGES[*]}" == "${ALL[*]}" ]]; then echo "$TAG" > "$CACHE/images/last-tag"; fi
