#!/usr/bin/env bash
# Installs the Debian packages the tests use, skipping those already installed (so a warm
# machine does not even refresh the package lists). As root it runs apt-get itself (a fresh
# Debian has no sudo); as another user it uses sudo when there is one.
set -euo pipefail

packages=(
  openssl          # certificates for test control planes
  git              # kustomize-free checks of the synthesized folder, Argo CD source
  ca-certificates
  ostree           # stateroots: the agent's ostree driver and test sysroots
  skopeo           # seed and precache images: inspect, copy
  umoci            # building seed images as OCI layouts
  docker-registry  # a real loopback registry for seeds in tests and the demo
  apache2-utils    # htpasswd (bcrypt) for registry credential tests
  chromium         # the hub dashboard's browser tests (playwright-core drives /usr/bin/chromium)
  redis-server     # the Redis Argo CD's repo-server and application controller share (demo, e2e)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: run as root (or install sudo): apt-get needs root for ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
