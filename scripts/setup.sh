#!/usr/bin/env bash
# Installs what the platform needs into .venv (idempotent). Sourced by run-demo.sh and test.sh.
# Usage: bash scripts/setup.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# Debian packages: a CJK font (demo images, posters, screenshots), ffmpeg (video),
# jpegtran from libjpeg-turbo-progs (the clean copy of a JPEG) and, for the test suite,
# Chromium (browser journeys) and nginx (tests/site/test_deploy_config.py runs
# deploy/nginx/contest.conf; bench/faults.py too).
need_pkgs=()
fc-match 'sans:lang=zh-cn' --format '%{file}' 2>/dev/null | grep -qi cjk || need_pkgs+=(fonts-noto-cjk)
command -v ffprobe >/dev/null || need_pkgs+=(ffmpeg)
command -v jpegtran >/dev/null || need_pkgs+=(libjpeg-turbo-progs)
if [ "${1:-}" = dev ]; then
  command -v chromium >/dev/null || need_pkgs+=(chromium)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_pkgs+=(nginx)
  command -v openssl >/dev/null || need_pkgs+=(openssl)  # the throw-away certificate of those runs
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" fontconfig >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
req=requirements.txt
[ "${1:-}" = dev ] && req=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-${1:-run}"
if [ ! -f "$stamp" ]; then
  echo "==> installing Python packages ($req)"
  .venv/bin/pip install -q --disable-pip-version-check -r "$req"
  touch "$stamp"
fi
.venv/bin/pybabel compile -d contest/translations >/dev/null
