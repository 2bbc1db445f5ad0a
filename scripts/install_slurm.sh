#!/usr/bin/env bash
# Install the Debian packages needed to run a throwaway single-node SLURM
# cluster (munge, slurmctld, slurmd, slurmdbd, MariaDB) for the test suite.
#
# Idempotent: does nothing when every binary is already present. When the
# packages cannot be installed (not root, no apt-get) it explains why and exits
# 0, so that the SLURM tests skip instead of the setup step failing.
set -euo pipefail

PATH="${PATH}:/usr/local/sbin:/usr/sbin:/sbin"

have() {
    command -v "$1" >/dev/null 2>&1
}

all_present() {
    local bin
    for bin in slurmctld slurmd sbatch sacct sacctmgr munged slurmdbd mariadb-install-db; do
        have "$bin" || return 1
    done
    have mariadbd || have mysqld
}

if all_present; then
    echo "install_slurm: SLURM, munge and MariaDB are already installed."
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install_slurm: not running as root; cannot install packages." >&2
    exit 0
fi

if ! have apt-get; then
    echo "install_slurm: apt-get not found; cannot install packages." >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive

# Keep the package scripts from starting system-wide daemons: the tests start
# their own private instances.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

echo "install_slurm: installing munge, slurm and mariadb packages..."
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    munge slurmctld slurmd slurm-client slurmdbd mariadb-server mariadb-client >/dev/null

if all_present; then
    echo "install_slurm: done."
else
    echo "install_slurm: packages installed but some binaries are still missing." >&2
fi
