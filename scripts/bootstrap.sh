#!/usr/bin/env bash
# Set up what Watchfloor needs on a Debian/Ubuntu machine, idempotently.
#   scripts/bootstrap.sh run    system packages for the dashboard, .venv with requirements.txt
#   scripts/bootstrap.sh test   the above plus Chromium, ChromeDriver, PostGIS and the dev tools
# Missing system packages are installed with apt-get when running as root (or with password-less
# sudo); otherwise the script stops and prints the one command that installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

say() { printf '[bootstrap] %s\n' "$*" >&2; }

pg_major() {
  if command -v pg_lsclusters >/dev/null 2>&1 && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
    pg_lsclusters -h | awk 'NR==1{print $1}'
  elif ls /usr/lib/postgresql 2>/dev/null | grep -q .; then
    ls /usr/lib/postgresql | sort -n | tail -1
  fi
}

# Chromium prints briefings to PDF; poppler-utils lets the tests read those PDFs back.
wanted=(libsqlite3-mod-spatialite chromium)
if [ "$mode" = "test" ]; then
  wanted+=(chromium-driver poppler-utils redis-server)
  major="$(pg_major)"
  if [ -z "$major" ]; then
    # No PostgreSQL at all: Debian's default server, then its matching PostGIS below.
    wanted+=(postgresql)
  else
    wanted+=("postgresql-${major}-postgis-3")
  fi
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      say "Missing system packages: $*"
      say "Install them with:  sudo apt-get install -y $*"
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "Missing system packages: $* (this is not a Debian/Ubuntu system: install their equivalents)"
    exit 1
  fi
  say "installing system packages: $*"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi
if [ "$mode" = "test" ] && ! dpkg-query -W -f='${Status}' "postgresql-$(pg_major)-postgis-3" 2>/dev/null | grep -q "install ok installed"; then
  apt_install "postgresql-$(pg_major)-postgis-3"   # PostgreSQL itself was just installed
fi

# Python 3.11+ and its venv module.
py="${PYTHON:-python3}"
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "Watchfloor needs Python 3.11 or newer as '$py' (set PYTHON=/path/to/python3.11)."
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$py" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    say "Python's venv module is missing. Install it with:  sudo apt-get install -y python3-venv"
    exit 1
  fi
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
fi

reqs=requirements.txt
[ "$mode" = "test" ] && reqs=requirements-dev.txt
stamp=".venv/.installed-$(basename "$reqs" .txt)"
digest="$(cat requirements.txt "$reqs" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  say "installing Python packages from $reqs"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$reqs"
  echo "$digest" > "$stamp"
fi
