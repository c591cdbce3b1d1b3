#!/usr/bin/env bash
# Builds the Kubernetes control plane, kubelet, kube-proxy, kubectl and CoreDNS from their source
# modules on the Go module proxy into the tool cache (keyed by version), so later runs take seconds.
# k8s.io/kubernetes's go.mod points its k8s.io/* modules at ./staging, which the published module
# does not hold: each such replace is pointed at the published module of the same release.
set -euo pipefail
K8S_VERSION=${K8S_VERSION:-v1.34.4}
COREDNS_VERSION=${COREDNS_VERSION:-v1.12.4}
CACHE=${PASSPORT_CACHE:-$HOME/.cache/passport-platform}
OUT=$CACHE/k8s-$K8S_VERSION/bin
COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
export GOFLAGS=-mod=mod GONOSUMDB='k8s.io/*,sigs.k8s.io/*' CGO_ENABLED=0
mkdir -p "$OUT"

missing=()
for c in "${COMPONENTS[@]}"; do [[ -x $OUT/$c ]] || missing+=("$c"); done
if ((${#missing[@]})); then
  src=$CACHE/k8s-$K8S_VERSION/src
  if [[ ! -f $src/.ready ]]; then
    mod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
    rm -rf "$src"; cp -R "$mod" "$src"; chmod -R u+w "$src"; rm -f "$src/go.work" "$src/go.work.sum"
    staging=${K8S_VERSION/#v1./v0.}
    sed -i -E "s#^(\s*)(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+\$#\1\2 => \2 $staging#" "$src/go.mod"
    if grep -q '=> ./staging' "$src/go.mod"; then echo "unrewritten staging replace in go.mod" >&2; exit 1; fi
    touch "$src/.ready"
  fi
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${missing[@]}"; do
    echo "building $c $K8S_VERSION"
    (cd "$src" && go build -trimpath -ldflags "$ld" -o "$OUT/$c.tmp" "./cmd/$c") && mv "$OUT/$c.tmp" "$OUT/$c"
  done
fi

# CoreDNS: its module has no replace directives, so go install builds it as published.
dns=$CACHE/coredns-$COREDNS_VERSION/coredns
if [[ ! -x $dns ]]; then
  echo "building coredns $COREDNS_VERSION"
  mkdir -p "$(dirname "$dns")"
  GOFLAGS= GOBIN="$(dirname "$dns")" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$COREDNS_VERSION"
fi
echo "tools ready in $OUT and $(dirname "$dns")"
