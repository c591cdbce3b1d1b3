#!/usr/bin/env bash
# Contract checks for independent deploys: `buf lint` of protos/ (rules in protos/buf.yaml) and
# `buf breaking` of protos/ against the last landed main, so a change that would break a deployed
# peer (a removed field or RPC, a changed type or number, ...) fails before it lands.
#
# The baseline, first that applies:
#   CONTRACTS_AGAINST=<git ref>      explicit (e.g. origin/main, a tag)
#   origin/main, when it exists and is not HEAD (a working branch against what landed);
#   HEAD, when protos/ has uncommitted changes (the working tree against the last commit);
#   HEAD~1 (in CI the checkout is a clone of the submitted main: its parent is what landed before);
#   none: there is no earlier commit (or no git) -> breaking is skipped with a note, lint still runs.
# Then also against the last release, what is deployed (an N-1 peer must still understand HEAD):
#   CONTRACTS_RELEASE=<git ref>      explicit;
#   else the newest tag named v<digits>... reachable from HEAD (`git describe --tags --abbrev=0
#   --match 'v[0-9]*'`): a release is tagged `git tag -a v0.2.0 -m ...` when it is deployed;
#   none (no such tag yet) -> this second check is skipped with a note; the same commit as the
#   first baseline -> not run twice.
#
#   bash deploy/observability/contracts.sh            # this repository
#   bash deploy/observability/contracts.sh /some/clone  # another checkout (used by the tests)
# buf comes from deploy/observability/provision.sh (npm @bufbuild/buf, cached). Exit 0 = all passed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${1:-$HERE/../..}" && pwd)"

bash "$HERE/provision.sh" buf
BUF="$(bash "$HERE/provision.sh" --print | sed -n 's/^BUF=//p')"
[ -x "$BUF" ] || { echo "contracts.sh: buf is not installed at $BUF" >&2; exit 2; }
cd "$REPO"
[ -f protos/buf.yaml ] || { echo "contracts.sh: $REPO/protos/buf.yaml is missing" >&2; exit 2; }

echo "== buf lint protos ($("$BUF" --version))"
"$BUF" lint protos
echo "PASS  buf lint"

git_ok() { git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; }
has_ref() { git -C "$REPO" rev-parse --verify --quiet "$1^{commit}" >/dev/null; }

against=""
if [ -n "${CONTRACTS_AGAINST:-}" ]; then
    has_ref "$CONTRACTS_AGAINST" || { echo "contracts.sh: CONTRACTS_AGAINST=$CONTRACTS_AGAINST is not a commit" >&2; exit 2; }
    against="$CONTRACTS_AGAINST"
elif git_ok && has_ref HEAD; then
    if has_ref origin/main && [ "$(git rev-parse origin/main)" != "$(git rev-parse HEAD)" ]; then
        against=origin/main
    elif [ -n "$(git status --porcelain -- protos)" ]; then
        against=HEAD
    elif has_ref HEAD~1; then
        against=HEAD~1
    fi
fi

breaking() {  # ref label: buf breaking of protos/ against that commit's protos/
    local ref=$1 label=$2 commit
    commit="$(git rev-parse --short "$ref^{commit}")"
    if ! git cat-file -e "$ref:protos" 2>/dev/null; then
        echo "note: $label $ref ($commit) has no protos/; buf breaking against it skipped"
        return 0
    fi
    # buf reads the baseline from git itself; a full commit id is a ref every git accepts.
    echo "== buf breaking protos --against $ref ($commit, $label)"
    "$BUF" breaking protos --against ".git#ref=$(git rev-parse "$ref^{commit}"),subdir=protos"
    echo "PASS  buf breaking against $ref ($commit)"
}

if [ -z "$against" ]; then
    echo "note: no earlier commit to compare with (no git history); buf breaking skipped"
    exit 0
fi
breaking "$against" "the last commit"

release=""
if [ -n "${CONTRACTS_RELEASE:-}" ]; then
    has_ref "$CONTRACTS_RELEASE" || { echo "contracts.sh: CONTRACTS_RELEASE=$CONTRACTS_RELEASE is not a commit" >&2; exit 2; }
    release="$CONTRACTS_RELEASE"
else
    release="$(git describe --tags --abbrev=0 --match 'v[0-9]*' HEAD 2>/dev/null || true)"
fi
if [ -z "$release" ]; then
    echo "note: no release tag (v*) reachable from HEAD; buf breaking against the last release skipped" \
         "(tag each deployed release: git tag -a vX.Y.Z)"
elif [ "$(git rev-parse "$release^{commit}")" = "$(git rev-parse "$against^{commit}")" ]; then
    echo "note: the last release $release is the commit already compared with"
else
    breaking "$release" "the last release"
fi
