"""The consent page: what it shows, what it remembers, and what the browser cannot change."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from authserver.hashing import secret_hash
from shared.models import AuthorizationCode
from shared.settings import SCOPES
from tests.authserver.auth_browser import (
    OTHER_RESOURCE,
    RESOURCE,
    Pkce,
    authorize_params,
    authorize_through_browser,
    follow,
    parse_form,
    query_of,
    register,
    sign_in,
)
from tests.authserver.conftest import RunningServer
from tests.authserver.people_web import (  # noqa: F401 (the people_server fixture)
    browser,
    new_user,
    people_server_fixture,
    sign_in_to_account,
)

LOOPBACK = "http://127.0.0.1:51234/callback"
HTTPS = "https://app.example.com/oauth/callback"


def start(http: httpx.Client, client: dict[str, str], redirect: str = LOOPBACK, **overrides: str) -> httpx.Response:
    """/authorize and the page it leads to (login, consent, or straight back to the client)."""
    response = http.get("/authorize", params=authorize_params(client["client_id"], redirect, Pkce(), **overrides))
    assert response.status_code == 303, response.text
    return http.get(response.headers["location"])


def consent_page(server: RunningServer, http: httpx.Client, client: dict[str, str], **overrides: str) -> httpx.Response:
    page = start(http, client, **overrides)
    if "password" in page.text and "/login" in str(page.url):
        page = follow(http, sign_in(http, page, new_user(server)))
    return page


def test_consent_page_shows_client_host_scopes_and_resource(people_server: RunningServer) -> None:
    with browser(people_server) as http:
        loopback = register(http, [LOOPBACK], client_name="Loopback <Tool>")
        page = consent_page(people_server, http, loopback, scope="snippets:read offline_access")
        assert page.status_code == 200
        assert "Loopback &lt;Tool&gt;" in page.text  # escaped
        assert "127.0.0.1:51234" in page.text
        assert SCOPES["snippets:read"] in page.text and "Stay connected" in page.text
        assert SCOPES["snippets:write"] not in page.text
        assert RESOURCE in page.text
        assert 'class="warning"' in page.text

        web = register(http, [HTTPS], client_name="Web App")
        page = start(http, web, redirect=HTTPS)
        assert "app.example.com" in page.text and 'class="warning"' not in page.text


def test_consent_is_remembered_per_client_scopes_and_resource(people_server: RunningServer) -> None:
    with browser(people_server) as http:
        sign_in_to_account(http, new_user(people_server))
        client = register(http, [LOOPBACK], client_name="Remembered")
        first = authorize_through_browser(http, client=client, scope="snippets:read snippets:write")
        assert "code" in first.callback

        # Same client, a subset of the scopes, same resource: straight back to the client.
        again = start(http, client, scope="snippets:read")
        assert again.status_code == 302 and again.headers["location"].startswith(LOOPBACK)
        assert "code" in query_of(again.headers["location"])

        # A new scope, another resource, or another client: the page again.
        assert start(http, client, scope="workspaces:write").status_code == 200
        assert start(http, client, scope="snippets:read", resource=OTHER_RESOURCE).status_code == 200
        other = register(http, [LOOPBACK], client_name="Another")
        assert start(http, other, scope="snippets:read").status_code == 200


def test_tampered_hidden_fields_change_nothing(people_server: RunningServer) -> None:
    with browser(people_server) as http:
        client = register(http, [LOOPBACK, "http://127.0.0.1:51234/other"], client_name="Tamper")
        page = consent_page(people_server, http, client, scope="snippets:read", state="original")
        form = parse_form(page.text)
        tampered = {
            **form.inputs,
            "decision": "allow",
            "scope": "snippets:read snippets:write workspaces:write",
            "redirect_uri": "http://127.0.0.1:51234/other",
            "resource": OTHER_RESOURCE,
            "state": "forged",
            "client_id": "someone-else",
        }
        answer = http.post(form.action, data=tampered)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert urlsplit(location).path == "/callback"
        assert query_of(location)["state"] == "original"
    with people_server.db() as db:
        code = db.get(AuthorizationCode, secret_hash(query_of(location)["code"]))
        assert code is not None
        assert (code.client_id, code.scope, code.resource) == (client["client_id"], "snippets:read", RESOURCE)


def test_a_consent_form_cannot_be_replayed(people_server: RunningServer) -> None:
    with browser(people_server) as http:
        client = register(http, [LOOPBACK], client_name="Replay")
        form = parse_form(consent_page(people_server, http, client).text)
        assert http.post(form.action, data=form.hidden_and(decision="allow")).status_code == 302
        replayed = http.post(form.action, data=form.hidden_and(decision="allow"))
        assert replayed.status_code == 400 and "location" not in replayed.headers
        assert "expired" in replayed.text
