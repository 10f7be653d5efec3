"""The whole authorization code flow through the browser pages, and the token endpoint."""

from __future__ import annotations

import base64
import threading
import time
import uuid

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from authserver.hashing import secret_hash
from authserver.users import find_user_by_email
from shared.models import AuthorizationCode, Consent, RefreshToken
from shared.settings import SCOPES
from tests.authserver.auth_browser import (
    EMAIL,
    OTHER_RESOURCE,
    RESOURCE,
    Authorized,
    Pkce,
    authorize_params,
    authorize_through_browser,
    decide,
    follow,
    parse_form,
    query_of,
    register,
    sign_in,
)
from tests.authserver.conftest import RunningServer


def redeem(http: httpx.Client, authorized: Authorized, **overrides: str | None) -> httpx.Response:
    return http.post("/token", data=authorized.token_request(**overrides))


def refresh(http: httpx.Client, client_id: str, refresh_token: str, **extra: str) -> httpx.Response:
    return http.post(
        "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id, **extra}
    )


def verify(http: httpx.Client, access_token: str, *, audience: str = RESOURCE) -> jwt.Token:
    """Verify as a resource server would: keys from /jwks, then type, issuer, audience, expiry."""
    keys = KeySet.import_key_set(http.get("/jwks").json())
    token = jwt.decode(access_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": str(http.base_url).rstrip("/")},
        aud={"essential": True, "value": audience},
        sub={"essential": True},
        exp={"essential": True},
    ).validate(token.claims)
    return token


def test_full_flow_issues_a_verifiable_rfc9068_access_token(http: httpx.Client, auth_server: RunningServer) -> None:
    redirect_uri = "http://127.0.0.1:51234/callback"
    client = register(http, [redirect_uri], client_name="Flow Test")
    pkce = Pkce()
    params = authorize_params(client["client_id"], redirect_uri, pkce, scope="snippets:read offline_access")

    login_page = follow(http, http.get("/authorize", params=params))
    assert "Flow Test" in login_page.text
    after_login = sign_in(http, login_page)
    assert after_login.status_code == 303
    consent_page = follow(http, after_login)
    assert "Flow Test" in consent_page.text
    assert "127.0.0.1:51234" in consent_page.text  # the redirect URI's host
    assert SCOPES["snippets:read"] in consent_page.text
    assert SCOPES["snippets:write"] not in consent_page.text
    assert RESOURCE in consent_page.text
    final = decide(http, consent_page, "allow")

    assert final.status_code == 302
    location = final.headers["location"]
    assert location.startswith(redirect_uri + "?")
    callback = query_of(location)
    assert callback["state"] == params["state"]
    assert callback["iss"] == auth_server.issuer
    assert set(callback) == {"code", "state", "iss"}

    response = http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": callback["code"],
            "redirect_uri": redirect_uri,
            "client_id": client["client_id"],
            "code_verifier": pkce.verifier,
            "resource": RESOURCE,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == auth_server.settings.access_token_ttl
    assert body["scope"] == "snippets:read offline_access"
    assert body["refresh_token"]

    token = verify(http, body["access_token"])
    jwks_kids = [key["kid"] for key in http.get("/jwks").json()["keys"]]
    assert token.header["typ"] == "at+jwt"
    assert token.header["kid"] in jwks_kids
    claims = token.claims
    with auth_server.db() as db:
        user = find_user_by_email(db, EMAIL)
        assert user is not None
        assert claims["sub"] == str(user.id)
        consent = db.scalars(select(Consent).where(Consent.client_id == client["client_id"])).one()
        assert (consent.user_id, consent.resource, consent.scope) == (user.id, RESOURCE, body["scope"])
        code_row = db.get(AuthorizationCode, secret_hash(callback["code"]))
        assert code_row is not None and code_row.used_at is not None
        assert db.get(AuthorizationCode, callback["code"]) is None  # only the hash is stored
        stored = db.scalars(select(RefreshToken).where(RefreshToken.client_id == client["client_id"])).one()
        assert stored.token_hash == secret_hash(body["refresh_token"]) and stored.resource == RESOURCE
    uuid.UUID(claims["sub"])
    assert claims["iss"] == auth_server.issuer
    assert claims["aud"] == RESOURCE
    assert claims["client_id"] == client["client_id"]
    assert claims["scope"] == "snippets:read offline_access"
    assert claims["exp"] - claims["iat"] == auth_server.settings.access_token_ttl
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["jti"]


def test_default_scope_is_every_resource_scope(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http, scope=None)
    body = redeem(http, authorized).json()
    assert body["scope"] == " ".join(SCOPES)


def test_token_audience_is_the_resource_asked_for(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http, resource=OTHER_RESOURCE + "/")
    response = redeem(http, authorized, resource=OTHER_RESOURCE)
    assert response.status_code == 200, response.text
    assert verify(http, response.json()["access_token"], audience=OTHER_RESOURCE).claims["aud"] == OTHER_RESOURCE


def test_final_redirect_goes_to_the_requested_loopback_port(http: httpx.Client) -> None:
    client = register(http, ["http://127.0.0.1:33418/"])
    authorized = authorize_through_browser(http, client=client, redirect_uri="http://127.0.0.1:40001/")
    assert authorized.location.startswith("http://127.0.0.1:40001/?code=")
    assert redeem(http, authorized).status_code == 200


def test_a_code_works_once_and_its_replay_revokes_what_it_issued(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http)
    first = redeem(http, authorized)
    assert first.status_code == 200

    second = redeem(http, authorized)

    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    refreshed = refresh(http, authorized.client["client_id"], first.json()["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "verifier", [None, "x" * 43, "short", Pkce().verifier], ids=["missing", "wrong", "malformed", "other"]
)
def test_wrong_or_missing_pkce_verifier_is_invalid_grant(http: httpx.Client, verifier: str | None) -> None:
    authorized = authorize_through_browser(http)
    response = redeem(http, authorized, code_verifier=verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_the_authorization_request(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http)
    for redirect_uri in ("http://127.0.0.1:51235/callback", None):
        response = redeem(http, authorized, redirect_uri=redirect_uri)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant", redirect_uri


def test_resource_at_token_must_equal_the_codes(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http)
    response = redeem(http, authorized, resource=OTHER_RESOURCE)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert redeem(http, authorized, resource=None).status_code == 200  # resource is optional at /token


def test_a_code_is_bound_to_its_client(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http)
    other = register(http, [authorized.redirect_uri])
    response = redeem(http, authorized, client_id=other["client_id"])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_rotates_the_refresh_token(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    client_id = authorized.client["client_id"]
    first = redeem(http, authorized).json()

    rotated = refresh(http, client_id, first["refresh_token"])

    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    second = rotated.json()
    assert second["refresh_token"] and second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    claims = verify(http, second["access_token"]).claims
    assert claims["aud"] == RESOURCE and claims["client_id"] == client_id
    with auth_server.db() as db:
        old = db.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == secret_hash(first["refresh_token"]))
        ).one()
        new = db.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == secret_hash(second["refresh_token"]))
        ).one()
        assert old.rotated_at is not None and new.rotated_at is None
        assert new.family_id == old.family_id and new.family_expires_at == old.family_expires_at

    # Within the grace window a repeated use gets the same successor (tests/authserver/test_protocol_refresh.py).
    reused = refresh(http, client_id, first["refresh_token"])
    assert reused.status_code == 200 and reused.json()["refresh_token"] == second["refresh_token"]
    assert refresh(http, client_id, second["refresh_token"]).status_code == 200


def test_refresh_can_narrow_but_not_widen_the_scope(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http, scope="snippets:read snippets:write")
    tokens = redeem(http, authorized).json()
    client_id = authorized.client["client_id"]

    widened = refresh(http, client_id, tokens["refresh_token"], scope="snippets:read workspaces:write")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"

    narrowed = refresh(http, client_id, tokens["refresh_token"], scope="snippets:read")
    assert narrowed.status_code == 200, narrowed.text
    assert verify(http, narrowed.json()["access_token"]).claims["scope"] == "snippets:read"


def test_refresh_token_is_bound_to_client_and_resource(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    other = register(http, [authorized.redirect_uri], grant_types=["authorization_code", "refresh_token"])

    stolen = refresh(http, other["client_id"], tokens["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    retargeted = refresh(http, authorized.client["client_id"], tokens["refresh_token"], resource=OTHER_RESOURCE)
    assert retargeted.status_code == 400 and retargeted.json()["error"] == "invalid_target"


def test_client_without_refresh_grant_gets_no_refresh_token(http: httpx.Client) -> None:
    client = register(http, ["http://127.0.0.1:51234/callback"], grant_types=["authorization_code"])
    body = redeem(http, authorize_through_browser(http, client=client)).json()
    assert "refresh_token" not in body and body["access_token"]


def test_deny_redirects_access_denied_with_state_and_iss(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http, decision="deny")
    callback = authorized.callback
    assert callback["error"] == "access_denied"
    assert callback["state"] == authorized.params["state"]
    assert callback["iss"] == auth_server.issuer
    assert "code" not in callback


def test_consent_form_cannot_be_replayed(http: httpx.Client) -> None:
    client = register(http, ["http://127.0.0.1:51234/callback"])
    params = authorize_params(client["client_id"], "http://127.0.0.1:51234/callback", Pkce())
    consent_page = follow(http, sign_in(http, follow(http, http.get("/authorize", params=params))))
    form = parse_form(consent_page.text)

    first = http.post(form.action, data=form.hidden_and(decision="allow"))
    replay = http.post(form.action, data=form.hidden_and(decision="allow"))

    assert first.status_code == 302
    assert replay.status_code == 400 and "location" not in replay.headers


def test_consent_needs_the_sessions_csrf_token(http: httpx.Client) -> None:
    client = register(http, ["http://127.0.0.1:51234/callback"])
    params = authorize_params(client["client_id"], "http://127.0.0.1:51234/callback", Pkce())
    consent_page = follow(http, sign_in(http, follow(http, http.get("/authorize", params=params))))
    form = parse_form(consent_page.text)

    forged = http.post(form.action, data=form.hidden_and(decision="allow", csrf_token="forged"))
    assert forged.status_code == 403 and "location" not in forged.headers
    assert http.post(form.action, data=form.hidden_and(decision="allow")).status_code == 302


def test_signed_in_browser_goes_straight_to_consent(http: httpx.Client, auth_server: RunningServer) -> None:
    authorize_through_browser(http)  # signs in
    client = register(http, ["http://127.0.0.1:51234/callback"])
    params = authorize_params(client["client_id"], "http://127.0.0.1:51234/callback", Pkce())
    response = http.get("/authorize", params=params)
    assert response.headers["location"].startswith(f"{auth_server.issuer}/consent?request=")


def test_confidential_client_authenticates_with_basic(http: httpx.Client) -> None:
    redirect_uri = "https://app.example/cb"
    client = register(http, [redirect_uri], token_endpoint_auth_method="client_secret_basic")
    authorized = authorize_through_browser(http, client=client, redirect_uri=redirect_uri)
    credentials = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()

    as_public = redeem(http, authorized)
    assert as_public.status_code in (400, 401) and as_public.json()["error"] == "invalid_client"
    wrong = http.post(
        "/token",
        data=authorized.token_request(client_id=None),
        headers={"Authorization": "Basic " + base64.b64encode(f"{client['client_id']}:nope".encode()).decode()},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    response = http.post(
        "/token", data=authorized.token_request(client_id=None), headers={"Authorization": f"Basic {credentials}"}
    )
    assert response.status_code == 200, response.text


def race(http: httpx.Client, data: dict[str, str], attempts: int = 6) -> list[httpx.Response]:
    """Send the same token request from several clients at once."""
    barrier = threading.Barrier(attempts)
    results: list[httpx.Response] = []

    def attempt() -> None:
        with httpx.Client(base_url=http.base_url, timeout=30) as own:
            barrier.wait()
            results.append(own.post("/token", data=data))

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_redemptions_of_one_code_give_exactly_one_token(http: httpx.Client) -> None:
    results = race(http, authorize_through_browser(http).token_request())
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [400] * (len(results) - 1), [r.text for r in results]
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code == 400)


def test_concurrent_uses_of_one_refresh_token_rotate_once_to_one_successor(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": authorized.client["client_id"],
    }
    results = race(http, data)
    # Within the grace window every racer gets the one successor, so the family never forks.
    assert [r.status_code for r in results] == [200] * len(results), [r.text for r in results]
    assert len({r.json()["refresh_token"] for r in results}) == 1


def test_client_name_is_escaped_on_the_consent_page(http: httpx.Client) -> None:
    client = register(http, ["http://127.0.0.1:51234/callback"], client_name="<b onclick=x>Evil</b>")
    params = authorize_params(client["client_id"], "http://127.0.0.1:51234/callback", Pkce())
    consent_page = follow(http, sign_in(http, follow(http, http.get("/authorize", params=params))))
    assert "<b onclick" not in consent_page.text
    assert "&lt;b onclick=x&gt;Evil&lt;/b&gt;" in consent_page.text


def test_tokens_never_reach_the_logs(http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("DEBUG"):
        authorized = authorize_through_browser(http)
        tokens = redeem(http, authorized).json()
        refresh(http, authorized.client["client_id"], tokens["refresh_token"])
    # The server's own loggers (the test's HTTP client logs what it sends, which is not our concern).
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(f"{record.name}: {record.getMessage()}" for record in server_side)
    for secret in (authorized.code, tokens["access_token"], tokens["refresh_token"], authorized.pkce.verifier):
        assert secret not in logged


def test_an_expired_code_is_invalid_grant_and_codes_live_at_most_ten_minutes(
    http: httpx.Client, auth_server: RunningServer
) -> None:
    assert auth_server.settings.authorization_code_ttl <= 600
    authorized = authorize_through_browser(http)
    code = authorized.callback["code"]
    with auth_server.db() as db, db.begin():
        row = db.get(AuthorizationCode, secret_hash(code))
        assert row is not None
        assert (row.expires_at - row.created_at).total_seconds() <= 600
        row.expires_at = row.created_at  # as if ten minutes had passed
    answer = redeem(http, authorized)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_codes_and_tokens_are_stored_only_as_hashes(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    issued = redeem(http, authorized).json()
    secrets_given = [authorized.callback["code"], issued["refresh_token"], issued["access_token"]]
    with auth_server.db() as db:
        dump = repr(
            [
                tuple(row)
                for table in (AuthorizationCode.__table__, RefreshToken.__table__, Consent.__table__)
                for row in db.execute(select(table))
            ]
        )
    for secret in secrets_given:
        assert secret not in dump
    assert secret_hash(issued["refresh_token"]) in dump
