"""``authserver serve``: run the authorization server with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from authserver.cli.database import load_settings
from authserver.cli.output import readable_errors


def serve(
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-* from --forwarded-allow-ips (only behind your own proxy).")
    ] = False,
    forwarded_allow_ips: Annotated[str, typer.Option(help="Proxy addresses trusted for X-Forwarded-*.")] = "127.0.0.1",
) -> None:
    """Run the authorization server (settings.auth_host:settings.auth_port)."""
    import uvicorn

    from authserver.app import create_app

    settings = load_settings()
    with readable_errors():
        application = create_app(settings)
    uvicorn.run(
        application,
        host=settings.auth_host,
        port=settings.auth_port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None,
        server_header=False,
        log_level=settings.log_level.lower(),
    )
