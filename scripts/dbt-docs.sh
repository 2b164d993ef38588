#!/usr/bin/env bash
# `make docs`: dbt's documentation site (models, column comments, lineage) for the built demo warehouse,
# generated offline and served on the loopback interface.
#
# Usage: scripts/dbt-docs.sh generate | serve      (env: DOCS_DB, DOCS_DIR, DOCS_PORT, DBT)
# generate: catalog from a *copy* of the working database, so that docs never hold the run's one writer
#           lock (nor write into it); the site goes to DOCS_DIR (in the working area: it shows compiled SQL).
# serve:    python's own http.server on 127.0.0.1:DOCS_PORT; Ctrl-C stops it.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
db="${DOCS_DB:-$here/data/work/warehouse.duckdb}"
out="${DOCS_DIR:-$here/data/work/dbt_docs}"
port="${DOCS_PORT:-8080}"
dbt="${DBT:-$here/.venv/bin/dbt}"
python="$(dirname "$dbt")/python"

case "${1:-}" in
generate)
    if [ ! -f "$db" ]; then
        echo "没有找到已构建的工作数据库 $db：请先运行 make run" >&2
        exit 1
    fi
    mkdir -p "$out"
    # Named as the original, so the docs name the relations as analysts know them (warehouse.marts.…).
    copy="$out/.db/$(basename "$db")"
    mkdir -p "$out/.db"
    cp "$db" "$copy"
    trap 'rm -rf "$out/.db"' EXIT
    # Nothing here needs the network: no packages to install, usage statistics off.
    export DBT_SEND_ANONYMOUS_USAGE_STATS=False DO_NOT_TRACK=1
    cd "$here/dbt_project"
    SASAC_BUILD_DB="$copy" "$dbt" docs generate --quiet --target-path "$out" --profiles-dir . --static
    echo "dbt 文档已生成 dbt docs: $out/index.html"
    ;;
serve)
    echo "dbt 文档 dbt docs: http://127.0.0.1:$port/  (Ctrl-C 停止)"
    exec "$python" -m http.server "$port" --bind 127.0.0.1 --directory "$out"
    ;;
*)
    echo "usage: $0 generate|serve" >&2
    exit 2
    ;;
esac
