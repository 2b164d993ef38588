"""Where the portal keeps its state and what it allows: every setting in one place, read from the environment."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# The contract's arrivals register records Beijing time (contract.ARRIVALS_COLUMNS), whatever the host's zone.
from pipelines.lib.domain.reference import BEIJING  # noqa: F401 - importable here, where the portal reads it


def beijing_now() -> dt.datetime:
    """The server's clock, as the arrivals register and the deadlines read it (naive Beijing time)."""
    return dt.datetime.now(BEIJING).replace(tzinfo=None, microsecond=0)


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Settings:
    inbox: Path  # where accepted files are forwarded: the quarterly run's inbox
    warehouse: Path  # the published warehouse (read-only); receipts live beside it
    db_path: Path  # the portal's own SQLite: accounts, sessions, uploads, audit log
    storage: Path  # uploads as the server names them (restricted, like the raw archive)
    secure_cookies: bool = True  # off only for plain-HTTP development on a host other than loopback
    # Quarters open for late filing after the latest ended one (contract §1: late files are accepted, marked late).
    late_quarters: int = 1
    session_idle_seconds: int = 30 * 60
    session_max_seconds: int = 10 * 3600
    validations: int = 4  # uploads checked at once; the rest queue (memory stays bounded under a rush)
    readers: int = 2  # long-lived reader child processes
    # The Host names the portal answers to (the proxy's public name, and loopback for `make portal` and the
    # tests); a request naming another host is refused before any route sees it.
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    hsts_seconds: int = 365 * 24 * 3600  # Strict-Transport-Security on every response that came over HTTPS
    clock: Callable[[], dt.datetime] = field(default=beijing_now)

    @property
    def receipts_dir(self) -> Path:
        return self.warehouse.parent / "receipts"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        workdir = Path(os.environ.get("SASAC_WORKDIR", "data/work"))
        values: dict[str, object] = {
            "inbox": Path(os.environ.get("SASAC_INBOX", "data/raw")),
            "warehouse": Path(os.environ.get("SASAC_WAREHOUSE", "data/marts/warehouse.duckdb")),
            "db_path": Path(os.environ.get("SASAC_PORTAL_DB", workdir / "portal.sqlite")),
            "storage": Path(os.environ.get("SASAC_PORTAL_STORAGE", workdir / "portal_uploads")),
            "secure_cookies": _flag("SASAC_PORTAL_SECURE_COOKIES", True),
        }
        if os.environ.get("SASAC_PORTAL_ALLOWED_HOSTS"):
            values["allowed_hosts"] = tuple(
                h.strip() for h in os.environ["SASAC_PORTAL_ALLOWED_HOSTS"].split(",") if h.strip())
        values.update(overrides)
        values = {k: (Path(v).resolve() if isinstance(v, Path) else v) for k, v in values.items()}
        return cls(**values)  # type: ignore[arg-type]
