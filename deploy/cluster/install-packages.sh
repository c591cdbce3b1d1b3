#!/usr/bin/env bash
# Debian packages the images and the local cluster need (no container registry is reachable, so the
# base image, the container runtime and etcd all come from Debian). Idempotent; needs root.
set -euo pipefail
pkgs=(debootstrap buildah podman containerd runc containernetworking-plugins etcd-server iptables conntrack iproute2 ethtool socat ebtables ipset kmod)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
((${#missing[@]})) || exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" uidmap fuse-overlayfs >/dev/null
# Debian starts the packaged services; the cluster scripts run their own with their own config.
for s in containerd etcd; do systemctl disable --now "$s" >/dev/null 2>&1 || true; done
