"""``authserver serve``: run the authorization server with uvicorn."""

from __future__ import annotations

from authserver.cli.database import load_settings
from authserver.cli.output import readable_errors


def serve() -> None:
    """Run the authorization server (settings.auth_host:settings.auth_port).

    ``X-Forwarded-For``/``-Proto`` count only on connections from SKILLS_FORWARDED_ALLOW_IPS.
    """
    import uvicorn

    from authserver.app import create_app
    from shared.gc_freeze import freeze_startup_objects
    from shared.logging import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    with readable_errors():
        application = create_app(settings)
    freeze_startup_objects()
    uvicorn.run(
        application,
        host=settings.auth_host,
        port=settings.auth_port,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        server_header=False,
        log_config=None,  # JSON lines at SKILLS_LOG_LEVEL (configure_logging)
    )
