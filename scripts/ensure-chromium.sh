#!/bin/sh
# Install Debian's chromium (for tests/test_report_browser.py) and a CJK font (so the Chinese
# report renders as text, not boxes) — only when missing. Idempotent; needs root or sudo.
set -eu
need=""
[ -x /usr/bin/chromium ] || need="$need chromium"
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then need="$need fonts-wqy-zenhei"; fi
[ -z "$need" ] && exit 0
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $need
