#!/usr/bin/env bash
# Provisions the local servers the platform runs on, from the package registries only, into a
# cache outside the checkout keyed by version, so a fresh clone reuses them instead of rebuilding:
#   $PASSPORT_CACHE/kafka-4.3.1/lib/*.jar     Apache Kafka broker jars (Maven Central)
#   $PASSPORT_CACHE/ferretdb-v1.24.2-p4/localferretdb   FerretDB embedded in a tiny Go main
# Prints nothing but errors when everything is already there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${PASSPORT_CACHE:-$HOME/.cache/passport-platform}"
kafka_version=4.3.1
ferretdb_version=v1.24.2
mkdir -p "$cache"

kafka_dir="$cache/kafka-$kafka_version"
if [ ! -f "$kafka_dir/.complete" ]; then
  echo "provision: collecting Apache Kafka $kafka_version jars from Maven Central (once)" >&2
  rm -rf "$kafka_dir.tmp" && mkdir -p "$kafka_dir.tmp/lib"
  (cd "$here/kafka" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$kafka_dir.tmp/lib")
  rm -rf "$kafka_dir" && mv "$kafka_dir.tmp" "$kafka_dir" && touch "$kafka_dir/.complete"
fi

# Built with four reviewed patches, applied in this order (ferretdb/sqlite-id-index.patch: `_id`
# lookups use the _id index; ferretdb/sqlite-id-filter.patch: so do filters with `_id` and other
# conditions; ferretdb/resource-tracking-debug-only.patch: no leak-detector bookkeeping per document
# read; ferretdb/sqlite-id-in.patch: `_id: {$in: [...]}` by the index too); the directory name
# carries the patch level (p4) so a cached build with fewer patches is never reused.
ferret_dir="$cache/ferretdb-$ferretdb_version-p4"
if [ ! -x "$ferret_dir/localferretdb" ]; then
  echo "provision: building FerretDB $ferretdb_version (patched) from the Go module proxy (once)" >&2
  mkdir -p "$ferret_dir"
  build="$(mktemp -d)"
  cp "$here/ferretdb/main.go" "$here/ferretdb/go.mod" "$here/ferretdb/go.sum" "$build/"
  upstream="$(cd "$here/ferretdb" && go mod download -json "github.com/FerretDB/FerretDB@$ferretdb_version" \
              | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  cp -r "$upstream" "$build/ferretdb-src" && chmod -R u+w "$build/ferretdb-src"
  for p in sqlite-id-index sqlite-id-filter resource-tracking-debug-only sqlite-id-in; do
    (cd "$build/ferretdb-src" && patch -s -p1 --fuzz=0 < "$here/ferretdb/$p.patch")
  done
  (cd "$build" && go mod edit -replace "github.com/FerretDB/FerretDB=./ferretdb-src" \
     && CGO_ENABLED=0 go build -tags ferretdb_no_postgresql -o "$ferret_dir/localferretdb.tmp" .)
  rm -rf "$build"
  mv "$ferret_dir/localferretdb.tmp" "$ferret_dir/localferretdb"
fi
