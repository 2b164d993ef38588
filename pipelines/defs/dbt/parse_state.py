"""A fresh working area starts from the project's parse state instead of parsing the whole project again.

dbt keeps what it parsed in ``partial_parse.msgpack`` and reuses it only if, among other checks, the profile's
connection settings hash the same. The working database's path is one of them, so a new working area (a
commission's first run, every test, the benchmark) paid a full parse (~2.9 s of a 5.7 s ``dbt parse``,
measured on this machine) although nothing it parses depends on that path.

So the first dbt step of a working area copies the project's state into the area's target folder with that
one hash recomputed for the area's database, exactly as dbt computes it. Everything else dbt checks (code,
vars, env vars, dbt's version) is left as it was: if any of it differs, dbt parses what changed, or all of it,
as it would anyway. dagster-dbt edits the same file the same way (it invalidates seed entries).

The parsed nodes name the database after the file (``warehouse.duckdb`` -> ``warehouse``): the state is only
carried over when that name is the same, else the SQL would name another database.
"""

from __future__ import annotations

import os
import pprint
from argparse import Namespace
from pathlib import Path

STATE_FILE = "partial_parse.msgpack"


def connection_checksum(project_dir: Path, build_db: str) -> tuple[str, str]:
    """(dbt's profile_hash checksum, the database name) for the dev target with ``SASAC_BUILD_DB=build_db``."""
    from dbt.config.runtime import load_profile
    from dbt.contracts.files import FileHash
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_invocation_context({**os.environ, "SASAC_BUILD_DB": build_db})
    set_from_args(Namespace(profiles_dir=str(project_dir)), None)
    credentials = load_profile(str(project_dir), {}, None, None).credentials
    # as dbt.parser.manifest.ManifestLoader.build_manifest_state_check does
    keys = sorted(credentials.connection_info())
    return FileHash.from_contents(pprint.pformat(keys)).checksum, credentials.database


def _state_database(state: dict) -> str | None:
    return next((node.get("database") for node in state.get("nodes", {}).values() if node.get("database")), None)


def start_from_project_state(project_dir: Path, project_target: Path, work_target: Path, build_db: str) -> bool:
    """Seed ``work_target`` with the project's parse state rebased on ``build_db``; True when it did.

    Nothing happens when the working area has a state of its own, the project has none, or ``build_db`` is not
    an absolute path (dbt resolves a relative one from its own working directory, not this process's).
    """
    import msgpack

    source, destination = project_target / STATE_FILE, work_target / STATE_FILE
    if destination.exists() or not source.exists() or not Path(build_db).is_absolute():
        return False
    with open(source, "rb") as fh:
        state = msgpack.unpack(fh, raw=False, strict_map_key=False)
    checksum, database = connection_checksum(project_dir, build_db)
    if _state_database(state) != database:
        return False
    state["state_check"]["profile_hash"] = {"name": "sha256", "checksum": checksum}
    work_target.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(STATE_FILE + ".tmp")
    with open(partial, "wb") as fh:
        msgpack.pack(state, fh)
    partial.replace(destination)
    return True
