#!/bin/sh
# Java 17+ for pyspark (`make spark-check`, issue 14): Debian's headless JRE, installed only when no
# java of version 17 or later is on PATH. Idempotent; needs root or sudo; waits for the dpkg lock
# (several engineers share the machine).
set -eu
java_major() {
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}
if command -v java > /dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null; then
    exit 0
fi
SUDO=""
[ "$(id -u)" = "0" ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq \
        && $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends openjdk-17-jre-headless; }; then
    echo "spark-check 需要 Java 17 或更高版本，自动安装失败：请安装 openjdk-17-jre-headless 后重试" >&2
    echo "(spark-check needs Java 17+; installing openjdk-17-jre-headless failed)" >&2
    exit 1
fi
if ! command -v java > /dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
    echo "已安装 openjdk-17-jre-headless，但 PATH 上的 java 不是 17 或更高版本：请检查 update-alternatives --config java" >&2
    echo "(java on PATH is not 17+ after the install)" >&2
    exit 1
fi
