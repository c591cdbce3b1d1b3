#!/usr/bin/env bash
# `make lock`: the hashed lock files of every Python dependency, direct and indirect, from the
# direct pins. Every install (the Makefile's venv, the images) uses them with --require-hashes.
#   requirements.txt              -> requirements.lock      (runtime, every service)
#   requirements-dev.txt          -> requirements-dev.lock  (the venv: runtime + tests + local sinks)
#   docker/requirements/<m>.txt   -> docker/requirements/<m>.lock  (one image's subset)
#   docker/requirements/protoc.txt-> docker/requirements/protoc.lock (the images' build-only protoc venv)
# The dev and image locks are resolved under the runtime lock as constraints, so a package has the
# same version in the venv and in every image (check_dockerfiles.py and tests/unit check it).
# The resolver is uv, pinned, installed once from PyPI into the tools cache.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CACHE=${PASSPORT_CACHE:-$HOME/.cache/passport-platform}
UV_VERSION=0.13.8
UV_VENV=$CACHE/tools/uv-$UV_VERSION
UV=$UV_VENV/bin/uv
PYTHON_VERSION=3.11   # the images' (Debian bookworm's python3) and the venv's

if [[ ! -x $UV ]]; then
  echo "installing uv==$UV_VERSION into $UV_VENV (first run only)"
  rm -rf "$UV_VENV.tmp"
  python3 -m venv "$UV_VENV.tmp"
  "$UV_VENV.tmp/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  rm -rf "$UV_VENV" && mv "$UV_VENV.tmp" "$UV_VENV"
fi

cd "$REPO"
compile() {  # input output [extra uv args...]
  local in=$1 out=$2; shift 2
  # The header names `make lock`, never an index address (none is emitted).
  "$UV" pip compile --quiet --generate-hashes --python-version "$PYTHON_VERSION" --python-platform linux \
    --no-strip-markers --custom-compile-command "make lock" "$@" "$in" -o "$out"
  echo "locked $in -> $out ($(grep -c '^[a-zA-Z0-9]' "$out") packages)"
}
# --upgrade: a lock made from scratch each time, so an unpinned indirect dependency moves to the newest
# release when (and only when) `make lock` is run.
compile requirements.txt requirements.lock --upgrade
compile requirements-dev.txt requirements-dev.lock --upgrade -c requirements.lock
for f in docker/requirements/*.txt; do
  lockfile=${f%.txt}.lock
  if [[ $f == */protoc.txt ]]; then
    compile "$f" "$lockfile" --upgrade -c requirements-dev.lock
  else
    compile "$f" "$lockfile" --upgrade -c requirements.lock
  fi
done
