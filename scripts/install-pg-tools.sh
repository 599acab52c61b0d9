#!/usr/bin/env bash
# Installs what the real-client tests and the pgbench benchmark need, if it is missing:
# Debian's PostgreSQL 15 (psql, pgbench, and the server the benchmark measures against) and
# psycopg 3 for Python. Safe to run again; does nothing when everything is there.
set -euo pipefail

need_apt=()
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client-15)
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || need_apt+=(postgresql-15)
if ((${#need_apt[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    # The package starts a cluster of its own on port 5432; tests use their own ports and
    # servers, so stop it rather than leave a stray server running.
    $sudo service postgresql stop >/dev/null 2>&1 || true
fi

if ! python3 -c "import psycopg" >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "psycopg[binary]>=3.1"
fi
