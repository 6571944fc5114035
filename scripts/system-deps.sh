#!/usr/bin/env bash
# The Debian packages the tests need besides the Rust toolchain: Chromium (browser tests),
# PostgreSQL (storage tests), curl (peer readiness checks), npm (playwright-core), brotli (the
# precompressed assets, scripts/assets.sh). Run first by
# `make test`. As root, installs what is missing with apt-get; otherwise stops at once, naming
# what is missing and the command that installs it.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v curl >/dev/null || need+=(curl)
command -v npm >/dev/null || need+=(npm)
command -v brotli >/dev/null || need+=(brotli)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${need[*]}; install them with: sudo apt-get install --no-install-recommends ${need[*]}" >&2
  exit 1
fi
echo "== installing ${need[*]} (Debian)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
