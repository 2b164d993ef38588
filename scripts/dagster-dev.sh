#!/usr/bin/env bash
# `make dev`: the Dagster UI, stopped within seconds by Ctrl-C or SIGTERM.
#
# `dagster dev` waits up to 60 s for each of its children (webserver, daemon, code servers) before it kills
# them, so a stop took the best part of a minute. Here it runs in a process group of its own: a signal asks
# the whole group to stop, and what is still alive after STOP_GRACE seconds is killed.
# Usage: scripts/dagster-dev.sh DAGSTER_EXECUTABLE [dagster dev arguments...]
set -u
dagster="$1"
shift
grace="${STOP_GRACE:-3}"
setsid "$dagster" dev "$@" &
pid=$!

stop() {
    trap '' INT TERM HUP
    kill -INT -- "-$pid" 2>/dev/null
    for _ in $(seq 1 $((grace * 10))); do
        kill -0 -- "-$pid" 2>/dev/null || exit 0
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null
    exit 0
}
trap stop INT TERM HUP
wait "$pid"
status=$?
# dagster dev ended by itself (e.g. a broken code location): take its children with it.
kill -KILL -- "-$pid" 2>/dev/null
exit "$status"
