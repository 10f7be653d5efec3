"""`mcpserver` command: serve the MCP resource server."""

from __future__ import annotations

import typer
import uvicorn

from shared.gc_freeze import freeze_startup_objects
from shared.logging import configure_logging
from shared.settings import get_settings

cli = typer.Typer(help="shared-skills MCP resource server.", no_args_is_help=True, add_completion=False)


@cli.callback()
def _root() -> None:
    """shared-skills MCP resource server."""


@cli.command()
def serve() -> None:
    """Serve the MCP endpoint on SKILLS_MCP_HOST:SKILLS_MCP_PORT."""
    settings = get_settings()
    configure_logging(settings.log_level)
    from mcpserver.app import create_app

    application = create_app(settings)
    freeze_startup_objects()
    uvicorn.run(
        application,
        host=settings.mcp_host,
        port=settings.mcp_port,
        log_config=None,
        # X-Forwarded-For/-Proto count only on connections from the operator's own proxies.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
    )


def main() -> None:
    cli()
