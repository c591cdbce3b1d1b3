#!/usr/bin/env bash
# What the web app's browser tests and page benchmarks need, from the package registries only:
#   chromium + chromium-driver        Debian packages (apt-get; skipped when /usr/bin/chromium is there)
#   $PASSPORT_CACHE/tools/web-npm/    axe-core (injected into pages by tests/integration/test_web_app.py)
#   $PASSPORT_CACHE/tools/lighthouse-12.2.3/   lighthouse, only with the argument `lighthouse` (make bench)
# Quiet and quick when everything is there.
set -euo pipefail
cache="${PASSPORT_CACHE:-$HOME/.cache/passport-platform}"
axe_version=4.14.1
lighthouse_version=12.2.3

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "provision-web: installing Debian's chromium and chromium-driver (once)" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

npm_install() {  # dir package@version
  [ -f "$1/.complete" ] && return 0
  command -v npm >/dev/null || { echo "provision-web: npm is needed once for $2" >&2; exit 1; }
  echo "provision-web: installing $2 from the npm registry into $1 (once)" >&2
  rm -rf "$1.tmp" && mkdir -p "$1.tmp"
  (cd "$1.tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent "$2" >/dev/null)
  rm -rf "$1" && mv "$1.tmp" "$1" && touch "$1/.complete"
}
npm_install "$cache/tools/axe-core-$axe_version" "axe-core@$axe_version"
if [ "${1:-}" = lighthouse ]; then
  npm_install "$cache/tools/lighthouse-$lighthouse_version" "lighthouse@$lighthouse_version"
fi
