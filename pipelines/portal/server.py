"""Serve the portal with uvicorn (``sasac-skills portal serve``; behind a reverse proxy in production)."""

from __future__ import annotations

import uvicorn

from pipelines.portal.app import create_app
from pipelines.portal.settings import Settings


def serve(settings: Settings, host: str, port: int, proxy: str | None = None) -> None:
    """``proxy``: the address of the reverse proxy whose X-Forwarded-For/-Proto headers are believed (the
    login throttle then counts the real client, not the proxy, and HTTPS is known for HSTS)."""
    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, server_header=False,
                proxy_headers=bool(proxy), forwarded_allow_ips=proxy or None, log_level="info",
                limit_concurrency=200, timeout_keep_alive=5)
