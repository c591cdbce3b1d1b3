#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, from the registries only (`make cluster-up`,
# `make cluster-down`):
#   - etcd, containerd, runc and the CNI plugins (bridge, host-local, portmap): Debian packages;
#   - kube-apiserver, -controller-manager, -scheduler, kubelet, kube-proxy, kubectl and CoreDNS:
#     built from their source modules on the Go module proxy (build-tools.sh, cached by version);
#   - the pod sandbox ("pause") image: build/pause/linux/pause.c of the same Kubernetes source,
#     compiled statically and committed with buildah; CoreDNS's image likewise from its binary;
#   - the platform's images (make images) imported into containerd directly: no registry.
# cgroup v1 (this machine's hybrid layout): kubelet and containerd use the cgroupfs driver.
#   cluster.sh up | down | status | import [IMAGE...] | env
# Everything lives under $STATE (default /var/lib/passport-cluster) and /run/passport-cluster;
# `down` stops what `up` started (by the process ids it recorded) and removes both.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${PASSPORT_CACHE:-$HOME/.cache/passport-platform}
K8S_VERSION=${K8S_VERSION:-v1.34.4}
COREDNS_VERSION=${COREDNS_VERSION:-v1.12.4}
PAUSE_VERSION=3.10.1
BIN=$CACHE/k8s-$K8S_VERSION/bin
COREDNS=$CACHE/coredns-$COREDNS_VERSION/coredns
STATE=${PASSPORT_CLUSTER_DIR:-/var/lib/passport-cluster}
RUN=/run/passport-cluster
SOCK=$RUN/containerd.sock
NODE=${PASSPORT_CLUSTER_NODE:-passport-node}
SERVICE_CIDR=10.96.0.0/16
API_VIP=10.96.0.1
DNS_VIP=10.96.0.10
POD_CIDR=10.244.0.0/24
CLUSTER_CIDR=10.244.0.0/16
PKI=$STATE/pki
KUBECONFIG_ADMIN=$STATE/admin.kubeconfig
PAUSE_IMAGE=localhost/passport/pause:$PAUSE_VERSION
COREDNS_IMAGE=localhost/passport/coredns:$COREDNS_VERSION

log() { printf '[cluster %s] %s\n' "$(date +%T)" "$*"; }
die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }
ctr_() { ctr -a "$SOCK" -n k8s.io "$@"; }
kubectl_() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
node_ip() { ip -4 route get 1.1.1.1 | sed -n 's/.* src \([0-9.]*\).*/\1/p'; }

# ---- certificates (openssl; one CA signs every server and client certificate) ---------------
cert() {  # name CN O [SAN]
  local name=$1 cn=$2 o=$3 san=${4:-}
  [[ -f $PKI/$name.crt ]] && return 0
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  local subj="/CN=$cn"; [[ -n $o ]] && subj="/O=$o/CN=$cn"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  local ext=$PKI/$name.ext
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n' > "$ext"
  [[ -n $san ]] && printf 'subjectAltName=%s\n' "$san" >> "$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
}

kubeconfig() {  # file user cert
  local file=$1 user=$2 crt=$3
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: passport
  cluster: {certificate-authority: $PKI/ca.crt, server: "https://$(node_ip):6443"}
users:
- name: $user
  user: {client-certificate: $PKI/$crt.crt, client-key: $PKI/$crt.key}
contexts:
- name: passport
  context: {cluster: passport, user: $user}
current-context: passport
EOF
}

pki() {
  mkdir -p "$PKI"
  if [[ ! -f $PKI/ca.crt ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 365 \
      -subj "/CN=passport-cluster-ca" 2>/dev/null
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  local ip; ip=$(node_ip)
  cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$API_VIP,IP:$ip"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kubelet "system:node:$NODE" system:nodes "DNS:$NODE,IP:$ip,IP:127.0.0.1"
  cert proxy system:kube-proxy ""
  kubeconfig "$KUBECONFIG_ADMIN" admin admin
  kubeconfig "$STATE/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
  kubeconfig "$STATE/scheduler.kubeconfig" system:kube-scheduler scheduler
  kubeconfig "$STATE/kubelet.kubeconfig" "system:node:$NODE" kubelet
  kubeconfig "$STATE/proxy.kubeconfig" system:kube-proxy proxy
}

# ---- processes (each one's id is recorded; `down` stops exactly those) ----------------------
start() {  # name command...
  local name=$1; shift
  if [[ -f $STATE/pids/$name ]] && kill -0 "$(cat "$STATE/pids/$name")" 2>/dev/null; then return 0; fi
  mkdir -p "$STATE/pids" "$STATE/logs"
  setsid "$@" >>"$STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/pids/$name"
}

wait_for() {  # what seconds command...
  local what=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "$what not ready after ${secs}s (logs: $STATE/logs)"
    sleep 1
  done
}

# ---- images: built with buildah, imported into containerd's k8s.io namespace ----------------
build_system_images() {
  local src=$CACHE/k8s-$K8S_VERSION/src/build/pause/linux/pause.c
  if ! buildah inspect --type image "$PAUSE_IMAGE" >/dev/null 2>&1; then
    local tmp; tmp=$(mktemp -d)
    gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION" -o "$tmp/pause" "$src"
    strip "$tmp/pause"
    local c; c=$(buildah from scratch)
    buildah copy --quiet "$c" "$tmp/pause" /pause
    buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
    buildah commit --quiet "$c" "$PAUSE_IMAGE" >/dev/null; buildah rm "$c" >/dev/null; rm -rf "$tmp"
  fi
  if ! buildah inspect --type image "$COREDNS_IMAGE" >/dev/null 2>&1; then
    local c; c=$(buildah from scratch)
    buildah copy --quiet "$c" "$COREDNS" /coredns
    buildah config --entrypoint '["/coredns"]' "$c"
    buildah commit --quiet "$c" "$COREDNS_IMAGE" >/dev/null; buildah rm "$c" >/dev/null
  fi
}

import_images() {  # image refs (buildah/podman storage) -> containerd, one archive (shared layers once)
  local have=() want=() img
  mapfile -t have < <(ctr_ images ls -q 2>/dev/null)
  for img in "$@"; do
    # A revision tag names one content; a -dirty tag may have been rebuilt, so it is imported again.
    [[ $img != *-dirty && " ${have[*]} " == *" $img "* ]] || want+=("$img")
  done
  ((${#want[@]})) || return 0
  local tar=$STATE/import.tar
  rm -f "$tar"
  podman save -q -m --format docker-archive -o "$tar" "${want[@]}"
  ctr_ images import "$tar" >/dev/null
  rm -f "$tar"
  log "imported ${want[*]}"
}

containerd_config() {
  put "$STATE/containerd.toml" <<EOF
version = 2
root = "$STATE/containerd"
state = "$RUN/containerd"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This machine refuses a negative oom_score_adj even to root (runc: "failed to update
  # /proc/self/oom_score_adj: Permission denied"); kubelet asks -998 for every sandbox. Containers
  # get at least containerd's own score (0) instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni"
EOF
  mkdir -p "$STATE/cni"
  # The bridge plugin: pods on one Linux bridge, NAT to the outside. It does not enforce
  # NetworkPolicy (the charts' policies are applied but not proven here).
  put "$STATE/cni/10-passport.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "passport", "plugins": [
  {"type": "bridge", "bridge": "pp-cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
EOF
}

# kube-proxy exits when its configuration file changes, even to the same content: a second `up`
# rewrites a file only when its content differs.
put() { local f=$1; cat > "$f.new"; if cmp -s "$f.new" "$f"; then rm -f "$f.new"; else mv "$f.new" "$f"; fi; }

kubelet_config() {
  put "$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
clusterDomain: cluster.local
clusterDNS: [$DNS_VIP]
resolvConf: /etc/resolv.conf
failSwapOn: false
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
serializeImagePulls: false
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 95
evictionHard: {memory.available: 200Mi, nodefs.available: 3%, imagefs.available: 3%}
podCIDR: $POD_CIDR
maxPods: 110
EOF
  put "$STATE/proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/proxy.kubeconfig}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE
conntrack: {maxPerCore: 0}
metricsBindAddress: 127.0.0.1:10249
EOF
}

coredns_manifest() {
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        forward . /etc/resolv.conf
        cache 30
        loop
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      containers:
        - name: coredns
          image: $COREDNS_IMAGE
          imagePullPolicy: Never
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - {name: dns, containerPort: 53, protocol: UDP}
            - {name: dns-tcp, containerPort: 53, protocol: TCP}
          readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
          livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
          resources: {requests: {cpu: 50m, memory: 32Mi}, limits: {memory: 128Mi}}
          volumeMounts: [{name: config, mountPath: /etc/coredns}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $DNS_VIP
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, protocol: UDP}
    - {name: dns-tcp, port: 53, protocol: TCP}
EOF
}

up() {
  [[ $(id -u) == 0 ]] || die "needs root (containerd, kubelet, iptables)"
  bash "$HERE/install-packages.sh"
  bash "$HERE/build-tools.sh"
  mkdir -p "$STATE" "$RUN"
  pki; containerd_config; kubelet_config
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1

  log "etcd (Debian $(etcd --version 2>/dev/null | sed -n 's/etcd Version: //p'))"
  start etcd etcd --name "$NODE" --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NODE=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381
  log "containerd (Debian $(containerd --version | awk '{print $3}'))"
  start containerd containerd --config "$STATE/containerd.toml"
  wait_for etcd 60 curl -sf http://127.0.0.1:2379/health

  log "kube-apiserver $K8S_VERSION"
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="$(node_ip)" \
    --service-cluster-ip-range=$SERVICE_CIDR --allow-privileged=true \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local --profiling=false \
    --kubelet-preferred-address-types=InternalIP,Hostname
  wait_for kube-apiserver 180 kubectl_ get --raw /readyz

  log "kube-controller-manager, kube-scheduler"
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$STATE/controller-manager.kubeconfig" --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --use-service-account-credentials=true --leader-elect=false --bind-address=127.0.0.1 \
    --service-cluster-ip-range=$SERVICE_CIDR --cluster-cidr=$CLUSTER_CIDR --allocate-node-cidrs=false \
    --profiling=false
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --profiling=false

  wait_for containerd 60 ctr_ version
  build_system_images
  import_images "$PAUSE_IMAGE" "$COREDNS_IMAGE"

  log "kubelet, kube-proxy"
  start kubelet "$BIN/kubelet" --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
    --hostname-override="$NODE" --node-ip="$(node_ip)" --root-dir="$STATE/kubelet" --v=1
  start kube-proxy "$BIN/kube-proxy" --config="$STATE/proxy.yaml"
  wait_for "node $NODE" 120 kubectl_ get node "$NODE"
  kubectl_ wait --for=condition=Ready "node/$NODE" --timeout=120s >/dev/null

  log "CoreDNS $COREDNS_VERSION"
  coredns_manifest | kubectl_ apply -f - >/dev/null
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null
  log "ready: export KUBECONFIG=$KUBECONFIG_ADMIN  (kubectl: $BIN/kubectl)"
}

stop_pid() {  # name
  local f=$STATE/pids/$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  for p in kube-proxy kubelet kube-scheduler kube-controller-manager kube-apiserver; do stop_pid "$p"; done
  # Pods outlive the kubelet in their shims: stop every task containerd runs, then containerd.
  if [[ -S $SOCK ]] && ctr_ version >/dev/null 2>&1; then
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_pid containerd
  stop_pid etcd
  [[ -x $BIN/kube-proxy ]] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  # Mounts left by pods (volumes, overlay roots, network namespaces), deepest first.
  local m
  for m in $(awk -v s="$STATE" -v r="$RUN" '$2 ~ "^(" s "|" r ")" {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  for m in $(awk '$2 ~ "^/run/netns/cni-" {print $2}' /proc/mounts); do umount "$m" 2>/dev/null && rm -f "$m"; done
  # The bridge plugin's NAT rules of pods whose sandboxes were not torn down through CNI.
  local rule chain
  while read -r rule; do
    chain=${rule##* -j }
    eval "iptables -t nat ${rule/#-A/-D}" 2>/dev/null || true
    iptables -t nat -F "$chain" 2>/dev/null && iptables -t nat -X "$chain" 2>/dev/null || true
  done < <(iptables -t nat -S POSTROUTING 2>/dev/null | grep -F 'name: \"passport\"' || true)
  ip link del pp-cni0 2>/dev/null || true
  rm -rf "$STATE" "$RUN" /var/lib/cni/networks/passport
  log "cluster removed"
}

status() {
  local p
  for p in etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    if [[ -f $STATE/pids/$p ]] && kill -0 "$(cat "$STATE/pids/$p")" 2>/dev/null; then echo "$p running (pid $(cat "$STATE/pids/$p"))"; else echo "$p stopped"; fi
  done
  [[ -f $KUBECONFIG_ADMIN ]] && kubectl_ get nodes,pods -A -o wide 2>/dev/null || true
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  import) shift; import_images "$@" ;;
  env) echo "export KUBECONFIG=$KUBECONFIG_ADMIN PATH=$BIN:\$PATH" ;;
  *) echo "usage: $0 up|down|status|import IMAGE...|env" >&2; exit 2 ;;
esac
