#!/usr/bin/env bash
# Installs the observability and contract tools into the tools cache, once, keyed by version:
#   prometheus + promtool  built from the Go module proxy (github.com/prometheus/prometheus) inside a
#                          wrapper module that repeats prometheus' own replace/exclude directives
#                          (`go install pkg@version` refuses a module that has them), -tags remove_all_sd
#                          (no cloud service discovery: smaller and faster to build);
#   buf                    from the npm registry (@bufbuild/buf ships a static binary).
# Idempotent: a tool already in the cache is not rebuilt; later runs are offline. Builds land under a
# temporary name and are moved into place, and one installer runs at a time (flock).
#
#   bash deploy/observability/provision.sh            # all tools
#   bash deploy/observability/provision.sh prometheus # only prometheus + promtool
#   bash deploy/observability/provision.sh buf        # only buf
#   bash deploy/observability/provision.sh --print    # print the tool paths (for scripts and tests)
set -euo pipefail

CACHE="${PASSPORT_CACHE:-$HOME/.cache/passport-platform}"
TOOLS="$CACHE/tools"

PROMETHEUS_MODULE_VERSION=v0.316.0   # the Go module version of Prometheus 3.16.0
PROMETHEUS_VERSION=3.16.0
BUF_VERSION=1.75.0

PROM_DIR="$TOOLS/prometheus-$PROMETHEUS_MODULE_VERSION"
BUF_DIR="$TOOLS/buf-$BUF_VERSION"
BUF="$BUF_DIR/node_modules/@bufbuild/buf/bin/buf"

log() { printf 'provision.sh: %s\n' "$*" >&2; }
die() { printf 'provision.sh: %s\n' "$*" >&2; exit 2; }

if [ "${1:-}" = --print ]; then
    printf 'PROMETHEUS=%s\nPROMTOOL=%s\nBUF=%s\n' "$PROM_DIR/prometheus" "$PROM_DIR/promtool" "$BUF"
    exit 0
fi

install_prometheus() {
    [ -x "$PROM_DIR/prometheus" ] && [ -x "$PROM_DIR/promtool" ] && return 0
    command -v go >/dev/null || die "go is needed once to build prometheus (then it is cached in $PROM_DIR)"
    local mod="github.com/prometheus/prometheus" wrap="$PROM_DIR.tmp" src
    log "building prometheus and promtool $PROMETHEUS_MODULE_VERSION into $PROM_DIR (first run only; many minutes)"
    rm -rf "$wrap" && mkdir -p "$wrap/src"
    src="$(cd "$wrap/src" && GOFLAGS=-mod=mod go mod download -json "$mod@$PROMETHEUS_MODULE_VERSION" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" \
        || die "go mod download $mod@$PROMETHEUS_MODULE_VERSION failed"
    # The wrapper module: requires prometheus and repeats its replace/exclude directives (single-line
    # and block forms), so the build resolves exactly the dependency graph prometheus is tested with.
    {
        printf 'module passport.local/prometheus-tools\n\ngo %s\n\nrequire %s %s\n\n' \
            "$(sed -n 's/^go //p' "$src/go.mod" | head -1)" "$mod" "$PROMETHEUS_MODULE_VERSION"
        awk '/^(replace|exclude) \($/ {blk=1} blk {print} blk && /^\)$/ {blk=0; next}
             /^(replace|exclude) [^(]/ {print}' "$src/go.mod"
    } > "$wrap/src/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "%s/cmd/prometheus"\n\t_ "%s/cmd/promtool"\n)\n' \
        "$mod" "$mod" > "$wrap/src/tools.go"
    local ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION
        -X github.com/prometheus/common/version.Branch=module-proxy
        -X github.com/prometheus/common/version.Revision=$PROMETHEUS_MODULE_VERSION"
    (
        cd "$wrap/src"
        cp "$src/go.sum" go.sum 2>/dev/null && chmod u+w go.sum || true
        GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
        GOFLAGS=-mod=mod go get "$mod/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" "$mod/cmd/promtool@$PROMETHEUS_MODULE_VERSION"
        # One `go build` at a time: the two binaries share most packages, so the second is quick.
        for cmd in prometheus promtool; do
            CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags remove_all_sd,netgo \
                -ldflags "$ldflags" -o "$wrap/$cmd" "$mod/cmd/$cmd"
        done
    ) || die "building prometheus/promtool failed"
    "$wrap/promtool" --version >/dev/null || die "the built promtool does not run"
    rm -rf "$wrap/src" "$PROM_DIR" && mv "$wrap" "$PROM_DIR"
    log "prometheus: $("$PROM_DIR/prometheus" --version 2>&1 | head -1)"
}

install_buf() {
    [ -x "$BUF" ] && return 0
    command -v npm >/dev/null || die "npm is needed once to install @bufbuild/buf (then it is cached in $BUF_DIR)"
    log "installing @bufbuild/buf@$BUF_VERSION into $BUF_DIR"
    rm -rf "$BUF_DIR.tmp" && mkdir -p "$BUF_DIR.tmp"
    (cd "$BUF_DIR.tmp" && npm init -y >/dev/null && \
        npm install --no-audit --no-fund --silent "@bufbuild/buf@$BUF_VERSION" >/dev/null) \
        || die "npm install @bufbuild/buf@$BUF_VERSION failed"
    rm -rf "$BUF_DIR" && mv "$BUF_DIR.tmp" "$BUF_DIR"
    "$BUF" --version >/dev/null || die "the installed buf does not run"
}

locked() {  # tool: one installer of each tool at a time (a quick buf install never waits for a build)
    mkdir -p "$TOOLS"
    (
        exec 9>"$TOOLS/.install-$1.lock"
        command -v flock >/dev/null && flock 9
        "install_$1"
    )
}
case "${1:-all}" in
    prometheus) locked prometheus ;;
    buf) locked buf ;;
    all) locked buf; locked prometheus ;;
    *) die "unknown tool ${1}: prometheus | buf | all | --print" ;;
esac
