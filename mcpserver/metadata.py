"""RFC 9728 protected resource metadata, served at the path-suffixed and the root URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.settings import SCOPES, Settings

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "*",
}


def metadata_document(settings: Settings) -> dict[str, object]:
    return {
        "resource": settings.resource_url,
        "authorization_servers": [settings.issuer_url],
        "scopes_supported": list(SCOPES),
        "bearer_methods_supported": ["header"],
        "resource_name": "shared-skills",
        "resource_documentation": f"{settings.resource_url.rsplit('/', 1)[0]}/docs",
    }


def metadata_routes(settings: Settings) -> list[Route]:
    document = metadata_document(settings)

    async def endpoint(request: Request) -> JSONResponse:
        if request.method == "OPTIONS":
            return JSONResponse(None, status_code=204, headers=CORS)
        return JSONResponse(document, headers={**CORS, "Cache-Control": "public, max-age=3600"})

    path = urlsplit(settings.resource_url).path
    paths = ["/.well-known/oauth-protected-resource"]
    if path not in ("", "/"):
        paths.insert(0, f"/.well-known/oauth-protected-resource{path}")
    return [Route(p, endpoint, methods=["GET", "OPTIONS"]) for p in paths]
