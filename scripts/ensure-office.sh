#!/bin/sh
# Install LibreOffice Calc (headless) and poppler-utils so tests can render the tracking workbook
# and a receipt to PDF and measure their text (tests/test_office_render.py) — only when missing.
# Idempotent; needs root or sudo. Several engineers share the machine: wait for the dpkg lock.
set -eu
need=""
command -v soffice >/dev/null 2>&1 || need="$need libreoffice-calc-nogui"
command -v pdftotext >/dev/null 2>&1 || need="$need poppler-utils"
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then need="$need fonts-wqy-zenhei"; fi
[ -z "$need" ] && exit 0
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
# shellcheck disable=SC2086
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $need
