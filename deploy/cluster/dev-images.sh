#!/usr/bin/env bash
# Images of the development Kafka and FerretDB that `make cluster-test` runs as StatefulSets: the
# same artifacts as the local stack (deploy/local/provision.sh: Kafka's jars from Maven Central,
# FerretDB built from the Go proxy), on the project's Debian base (make images builds it).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${PASSPORT_CACHE:-$HOME/.cache/passport-platform}
KAFKA_IMAGE=localhost/passport/kafka-dev:4.3.1
FERRETDB_IMAGE=localhost/passport/ferretdb-dev:v1.24.2-p4
[[ ${1:-} == --print ]] && { echo "$KAFKA_IMAGE $FERRETDB_IMAGE"; exit 0; }
bash "$REPO/deploy/local/provision.sh" >/dev/null
# (no `| grep -m1`: with pipefail, buildah's SIGPIPE when grep stops early failed this at random)
images=$(buildah images --format '{{.Name}}:{{.Tag}}')
base=$(grep -m1 '^localhost/passport-base:' <<< "$images") || { echo "no base image: run make images first" >&2; exit 1; }

if ! buildah inspect --type image "$KAFKA_IMAGE" >/dev/null 2>&1; then
  c=$(buildah from "$base")
  # apt in the build container with the host's network (chroot isolation, as make images); the base
  # drops man pages, but the JRE's postinst links one, so its directory must exist.
  buildah run --isolation chroot "$c" -- sh -c 'mkdir -p /usr/share/man/man1 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin'
  buildah copy --quiet "$c" "$CACHE/kafka-4.3.1/lib" /opt/kafka/lib
  buildah run --isolation chroot "$c" -- sh -c 'groupadd --gid 10001 kafka && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin kafka'
  buildah config --user 10001:10001 --workingdir /tmp "$c"
  buildah commit --quiet "$c" "$KAFKA_IMAGE" >/dev/null; buildah rm "$c" >/dev/null
  echo "built $KAFKA_IMAGE"
fi
if ! buildah inspect --type image "$FERRETDB_IMAGE" >/dev/null 2>&1; then
  c=$(buildah from scratch)
  buildah copy --quiet "$c" "$CACHE/ferretdb-v1.24.2-p4/localferretdb" /ferretdb
  buildah config --entrypoint '["/ferretdb"]' --user 10001:10001 "$c"
  buildah commit --quiet "$c" "$FERRETDB_IMAGE" >/dev/null; buildah rm "$c" >/dev/null
  echo "built $FERRETDB_IMAGE"
fi
