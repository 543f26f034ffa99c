#!/usr/bin/env bash
# Create the project venv and install the given extras; install missing Debian packages.
# Usage: scripts/bootstrap.sh EXTRAS [DEBIAN_PACKAGE...]
set -euo pipefail
extras=$1; shift
venv=${VENV:-.venv}
python=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "need root to run: $*" >&2; exit 1; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || { echo "please install: ${missing[*]}" >&2; exit 1; }
  echo "Installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian's python3 lacks venv/ensurepip until python3-venv is installed.
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    apt_install python3-venv
    "$python" -m venv "$venv"
  fi
fi
(($#)) && apt_install "$@"

# An install of more extras covers fewer (make test's venv serves make demo), unless
# pyproject.toml changed since.
covered() {
  local stamp have want
  for stamp in "$venv"/.installed-*; do
    [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] || continue
    have=",${stamp##*/.installed-},"
    for want in ${extras//,/ }; do [[ $have == *",$want,"* ]] || continue 2; done
    return 0
  done
  return 1
}
if ! covered; then
  echo "Installing pigallery[$extras] into $venv ..."
  "$venv/bin/pip" install -q --disable-pip-version-check -e ".[$extras]"
  touch "$venv/.installed-$extras"
fi
