#!/usr/bin/env bash
# Install the pgvector extension into the local PostgreSQL 15 (Debian).
# Idempotent: a no-op when the `vector` extension is already available.
# Builds pgvector 0.8.0 from the Debian trixie source package, using a PRIVATE
# apt configuration for the deb-src line so the system apt sources are untouched.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config}"
CONTROL="/usr/share/postgresql/${PG_MAJOR}/extension/vector.control"
SRC_SUITE="${PGVECTOR_SRC_SUITE:-trixie}"

log() { printf '[install-pgvector] %s\n' "$*"; }

if [[ -f "$CONTROL" ]]; then
  log "vector extension already available ($CONTROL); nothing to do"
  exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive

# Build headers (system apt). Update the package lists only if the install fails.
if [[ ! -x "$PG_CONFIG" ]] || [[ ! -d "/usr/include/postgresql/${PG_MAJOR}/server" ]]; then
  log "installing postgresql-server-dev-${PG_MAJOR}"
  if ! $SUDO apt-get install -y -q "postgresql-server-dev-${PG_MAJOR}" >/dev/null; then
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q "postgresql-server-dev-${PG_MAJOR}" >/dev/null
  fi
fi
for tool in dpkg-source make gcc; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "installing build tools (dpkg-dev build-essential)"
    $SUDO apt-get install -y -q dpkg-dev build-essential >/dev/null || {
      $SUDO apt-get update -q >/dev/null
      $SUDO apt-get install -y -q dpkg-dev build-essential >/dev/null
    }
    break
  fi
done

WORK="$(mktemp -d -t pgvector-build.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# Private apt config: its own sources.list, no sources.list.d, its own lists dir.
mkdir -p "$WORK/apt/lists/partial" "$WORK/src"
echo "deb-src http://deb.debian.org/debian ${SRC_SUITE} main" > "$WORK/apt/sources.list"
APT_OPTS=(
  -o "Dir::Etc::sourcelist=$WORK/apt/sources.list"
  -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::Lists=$WORK/apt/lists"
  -o "APT::Get::List-Cleanup=0"
  -o "APT::Sandbox::User=root"
)

log "fetching pgvector source from Debian ${SRC_SUITE}"
apt-get "${APT_OPTS[@]}" update -q >/dev/null
(cd "$WORK/src" && apt-get "${APT_OPTS[@]}" source --download-only -q pgvector >/dev/null)

DSC="$(ls "$WORK"/src/pgvector_*.dsc | head -n1)"
log "extracting $(basename "$DSC")"
(cd "$WORK/src" && dpkg-source -x "$DSC" build >/dev/null)

log "building with $PG_CONFIG"
make -C "$WORK/src/build" PG_CONFIG="$PG_CONFIG" -j"$(nproc)" >/dev/null
$SUDO make -C "$WORK/src/build" PG_CONFIG="$PG_CONFIG" install >/dev/null

if [[ -f "$CONTROL" ]]; then
  log "installed: $(grep default_version "$CONTROL")"
else
  log "ERROR: $CONTROL still missing after install" >&2
  exit 1
fi
