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

if [ -z "$against" ]; then
    echo "note: no earlier commit to compare with (no git history); buf breaking skipped"
    exit 0
fi
commit="$(git rev-parse --short "$against")"
if ! git cat-file -e "$against:protos" 2>/dev/null; then
    echo "note: $against ($commit) has no protos/; buf breaking skipped"
    exit 0
fi
# buf reads the baseline from git itself; a full commit id is a ref every git accepts.
echo "== buf breaking protos --against $against ($commit)"
"$BUF" breaking protos --against ".git#ref=$(git rev-parse "$against"),subdir=protos"
echo "PASS  buf breaking against $against ($commit)"
