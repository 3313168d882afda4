#!/usr/bin/env bash
# Make a PostGIS test database reachable on 127.0.0.1 and print its SQLAlchemy URL.
# Starts the local PostgreSQL cluster when none runs (creating one if there is none), creates
# the role and database, and enables PostGIS. Needs root (or the postgres account) for that;
# without it, prints nothing and exits 1, and the tests then skip PostGIS and say so.
set -euo pipefail
port="${WATCHFLOOR_PG_PORT:-5432}"
db="watchfloor_test"
role="watchfloor"
url="postgresql+psycopg://${role}:${role}@127.0.0.1:${port}/${db}"

say() { printf '[postgis] %s\n' "$*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  say "PostgreSQL is not installed (scripts/bootstrap.sh test installs it as root)."
  exit 1
fi
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  as_pg=(runuser -u postgres --)
elif [ "$(id -un)" != "postgres" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_pg=(sudo -n -u postgres)
  else
    # Not privileged: use the server only if it already answers with our role and database.
    if pg_isready -q -h 127.0.0.1 -p "$port" && psql "postgresql://${role}:${role}@127.0.0.1:${port}/${db}" -Atc "select postgis_version()" >/dev/null 2>&1; then
      echo "$url"; exit 0
    fi
    say "no privileges to start PostgreSQL or create the test database."
    exit 1
  fi
fi

major="$(pg_lsclusters -h | awk 'NR==1{print $1}')"
if [ -z "$major" ]; then
  major="$(ls /usr/lib/postgresql | sort -n | tail -1)"
  say "creating PostgreSQL ${major} cluster 'main'"
  pg_createcluster "$major" main --port "$port" >/dev/null
fi
cluster="$(pg_lsclusters -h | awk -v p="$port" '$3==p{print $1" "$2; exit}')"
[ -n "$cluster" ] || cluster="$(pg_lsclusters -h | awk 'NR==1{print $1" "$2}')"
if ! pg_isready -q -h 127.0.0.1 -p "$port"; then
  say "starting PostgreSQL cluster ${cluster}"
  # shellcheck disable=SC2086  # "$major main" is two arguments on purpose
  pg_ctlcluster --skip-systemctl-redirect $cluster start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p "$port" || { say "PostgreSQL did not start"; exit 1; }
fi

psql_pg() { "${as_pg[@]}" psql -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }
if [ "$(psql_pg -Atc "select 1 from pg_roles where rolname='${role}'")" != "1" ]; then
  psql_pg -c "create role ${role} login superuser password '${role}'"
fi
if [ "$(psql_pg -Atc "select 1 from pg_database where datname='${db}'")" != "1" ]; then
  psql_pg -c "create database ${db} owner ${role}"
fi
psql_pg -d "$db" -c "set client_min_messages = warning; create extension if not exists postgis"
echo "$url"
