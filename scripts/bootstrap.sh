#!/usr/bin/env bash
# Install everything retour needs on a fresh Debian/Ubuntu machine with Python 3.11:
# system packages (pango + fonts for PDF, a Java runtime for ODK Validate, chromium and
# poppler-utils for tests), uv through pip, then the locked Python environment.
set -euo pipefail

APT_PACKAGES=(
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1
  fonts-dejavu-core fonts-liberation fonts-noto-core
  default-jre-headless
  poppler-utils
  chromium chromium-driver
)
STAMP=".bootstrap-system.done"
PYTHON="${PYTHON:-python3}"

missing_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  echo "${missing[@]:-}"
}

install_system_packages() {
  local missing
  missing="$(missing_packages)"
  if [[ -z "${missing// /}" ]]; then
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "retour needs these system packages. Install them, then run this script again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends $missing" >&2
    exit 1
  fi
  echo "Installing system packages: $missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

install_uv() {
  if ! "$PYTHON" -m uv --version >/dev/null 2>&1; then
    echo "Installing uv with pip" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
  fi
}

sync_environment() {
  # Skip the sync when the environment already matches the lock file and pyproject.toml.
  local wanted
  wanted="$(cat uv.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
  if [[ -x .venv/bin/retour && -f .venv/.retour-synced && "$(cat .venv/.retour-synced)" == "$wanted" ]]; then
    .venv/bin/python -m compileall -q src >/dev/null
    return 0
  fi
  # uv must use this machine's Python, never download one.
  # --compile-bytecode: write .pyc at install time, so no command pays for compiling ~900 modules
  # (and environments that set PYTHONDONTWRITEBYTECODE stay fast).
  UV_PYTHON_DOWNLOADS=never "$PYTHON" -m uv sync --frozen --compile-bytecode --python "$(command -v "$PYTHON")" --quiet
  .venv/bin/python -m compileall -q src >/dev/null
  echo "$wanted" > .venv/.retour-synced
}

if [[ ! -f "$STAMP" ]] || [[ -n "$(missing_packages | tr -d ' ')" ]]; then
  install_system_packages
  touch "$STAMP"
fi
install_uv
sync_environment
