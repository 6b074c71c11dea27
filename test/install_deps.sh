#!/usr/bin/env bash
# Installs, with apt, what building and testing hvcsv_fdw needs and a fresh
# Debian 12 lacks.  Does nothing when everything is present.
set -euo pipefail

packages=(
    build-essential
    binutils
    postgresql-15
    postgresql-contrib
    postgresql-server-dev-15
    libcurl4-openssl-dev
    zlib1g-dev
    libzstd-dev
    libbz2-dev
    liblzma-dev
    libcsv-dev
    clang
    libclang-rt-14-dev
    libipc-run-perl
    perl
    postgresql-client-15
    postgresql-15-cron
    python3
    curl
    openssl
    ca-certificates
    iproute2
    gzip
    zstd
    bzip2
    xz-utils
    zip
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages: ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
