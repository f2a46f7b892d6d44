#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine with Python 3.11: system packages, then the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, each with the command that shows it is already there (a machine may have
# Node.js from elsewhere; Debian's npm would then conflict, so a working npm counts as installed).
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
declare -A PROVIDES=(
  [ffmpeg]="command -v ffmpeg"
  [chromium]="test -x /usr/bin/chromium"
  [fonts-dejavu-core]="installed fonts-dejavu-core"
  [fonts-liberation]="installed fonts-liberation"
  [zbar-tools]="command -v zbarimg"
  [poppler-utils]="command -v pdftoppm"
  [npm]="command -v npm"
  [xmlsec1]="command -v xmlsec1"   # pysaml2 (the test IdP) signs with it
  [buildah]="command -v buildah"   # `make image` and its smoke test (chroot isolation)
  [mmdebstrap]="command -v mmdebstrap"   # the image's base from Debian packages when no registry answers
)
missing=()
for pkg in "${!PROVIDES[@]}"; do
  eval "${PROVIDES[$pkg]}" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the dependency list changed.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  # uv installs the same packages from PyPI in seconds where pip takes minutes; pip is the fallback.
  if .venv/bin/python -m pip install -q uv; then
    .venv/bin/uv pip install --python .venv/bin/python -q -e ".[dev]"
  else
    .venv/bin/python -m pip install -q -e ".[dev]"
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# Front-end assets pinned in package.json (served locally, never from a CDN).
if [ -f package.json ]; then
  lock_stamp=node_modules/.installed-$(sha256sum package.json package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
  if [ ! -f "$lock_stamp" ]; then
    npm ci --no-audit --no-fund --silent
    touch "$lock_stamp"
  fi
fi
