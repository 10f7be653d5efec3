"""The account page: authorized applications and revoking them, a new password, signing out."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from authserver.hashing import secret_hash
from authserver.users import find_user_by_email
from shared.models import AuditEvent, BrowserSession, Consent, GrantRevocation, utcnow
from shared.settings import SCOPES
from tests.authserver.auth_browser import RESOURCE, authorize_through_browser, register
from tests.authserver.conftest import RunningServer
from tests.authserver.people_web import (  # noqa: F401 (the people_server fixture)
    PASSWORD,
    accessibility_problems,
    browser,
    form_for,
    forms,
    new_user,
    people_server_fixture,
    sign_in_to_account,
)

NEW_PASSWORD = "a completely different passphrase"


def connect_app(http: httpx.Client, name: str) -> tuple[dict[str, str], str]:
    """Authorize a client for the signed-in user and redeem the code; returns (client, refresh token)."""
    client = register(http, ["http://127.0.0.1:51234/callback"], client_name=name)
    authorized = authorize_through_browser(http, client=client, scope="snippets:read offline_access")
    tokens = http.post("/token", data=authorized.token_request())
    assert tokens.status_code == 200, tokens.text
    return client, tokens.json()["refresh_token"]


def refresh(http: httpx.Client, client_id: str, refresh_token: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id, "resource": RESOURCE}
    return http.post("/token", data=data)


def actions_of(db: Session, user_id: uuid.UUID, action: str) -> list[str | None]:
    """The client ids of the user's audit events of ``action``."""
    query = select(AuditEvent.client_id).where(AuditEvent.actor_user_id == user_id, AuditEvent.action == action)
    return list(db.scalars(query))


def test_account_needs_a_session_and_login_leads_there(people_server: RunningServer) -> None:
    with browser(people_server) as http:
        assert http.get("/account").headers["location"] == f"{people_server.issuer}/login"
        page = sign_in_to_account(http, new_user(people_server))
        assert "Applications you allowed" in page.text
        assert http.get("/login").headers["location"] == f"{people_server.issuer}/account"


def test_account_lists_applications_and_revoking_one_ends_its_access(people_server: RunningServer) -> None:
    email = new_user(people_server)
    with browser(people_server) as http:
        sign_in_to_account(http, email)
        editor, editor_refresh = connect_app(http, "Editor <One>")
        other, other_refresh = connect_app(http, "Other App")
        page = http.get("/account")
        assert "Editor &lt;One&gt;" in page.text and "Other App" in page.text
        assert SCOPES["snippets:read"] in page.text and f"Last used: {utcnow():%Y-%m-%d}" in page.text

        revoke_forms = [f for f in forms(page.text) if f.action.endswith("/account/revoke")]
        assert len(revoke_forms) == 2  # one per application: Editor's
        (editor_form,) = [f for f in revoke_forms if f.inputs["client_id"] == editor["client_id"]]
        answer = http.post(editor_form.action, data=editor_form.inputs)
        assert answer.status_code == 303 and answer.headers["location"].endswith("/account?done=revoked")

        assert refresh(http, editor["client_id"], editor_refresh).json()["error"] == "invalid_grant"
        assert refresh(http, other["client_id"], other_refresh).status_code == 200
        page = http.get("/account")
        assert "Editor &lt;One&gt;" not in page.text and "Other App" in page.text
    with people_server.db() as db:
        user = find_user_by_email(db, email)
        assert user is not None
        revocations = db.scalars(select(GrantRevocation).where(GrantRevocation.user_id == user.id)).all()
        assert [r.client_id for r in revocations] == [editor["client_id"]]
        assert revocations[0].not_before > utcnow().replace(microsecond=0)  # later tokens of this second too
        consents = db.scalars(select(Consent.client_id).where(Consent.user_id == user.id)).all()
        assert consents == [other["client_id"]]
        assert actions_of(db, user.id, "consent.revoke") == [editor["client_id"]]
        assert sorted(actions_of(db, user.id, "consent.grant")) == sorted([editor["client_id"], other["client_id"]])


def test_account_forms_need_the_session_csrf_token(people_server: RunningServer) -> None:
    with browser(people_server) as http:
        sign_in_to_account(http, new_user(people_server))
        client, _ = connect_app(http, "Csrf Target")
        for path, data in (
            ("/account/revoke", {"client_id": client["client_id"], "csrf_token": "forged"}),
            ("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ):
            assert http.post(path, data=data).status_code == 403
        assert http.post("/logout", data={"csrf_token": "forged"}).status_code == 303
        assert http.get("/account").status_code == 200  # still signed in, nothing revoked
        assert "Csrf Target" in http.get("/account").text


def test_changing_the_password_ends_other_sessions_and_tokens(people_server: RunningServer) -> None:
    email = new_user(people_server, name="Pat")
    with browser(people_server) as http, browser(people_server) as other_browser:
        sign_in_to_account(other_browser, email)
        page = sign_in_to_account(http, email)
        client, refresh_token = connect_app(http, "Password App")
        old_cookie = http.cookies["skills_session"]
        form = form_for(http.get("/account").text, "/account/password")

        wrong = http.post(form.action, data=form.hidden_and(current_password="nope nope", new_password=NEW_PASSWORD))
        assert wrong.status_code == 400 and 'id="current_password-error"' in wrong.text
        weak = http.post(form.action, data=form.hidden_and(current_password=PASSWORD, new_password="password1"))
        assert weak.status_code == 400 and 'id="new_password-error"' in weak.text and "too common" in weak.text
        assert accessibility_problems(weak.text) == []

        changed = http.post(form.action, data=form.hidden_and(current_password=PASSWORD, new_password=NEW_PASSWORD))
        assert changed.status_code == 303
        assert http.cookies["skills_session"] != old_cookie  # this browser: a fresh session id
        assert http.get("/account").status_code == 200
        assert other_browser.get("/account").status_code == 303  # every other browser: signed out
        assert refresh(http, client["client_id"], refresh_token).json()["error"] == "invalid_grant"
    with people_server.db() as db:
        user = find_user_by_email(db, email)
        assert user is not None and user.tokens_valid_after is not None
        assert db.get(BrowserSession, secret_hash(old_cookie)) is None
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.password", AuditEvent.target == email))
        assert event.actor_user_id == user.id and event.details == {"via": "account"}
        stored = str([(e.target, e.details) for e in db.scalars(select(AuditEvent))])
        assert NEW_PASSWORD not in stored and "nope nope" not in stored and PASSWORD not in stored
    with browser(people_server) as http:
        sign_in_to_account(http, email, NEW_PASSWORD)
    assert page.status_code == 200


def test_logout_ends_the_session(people_server: RunningServer) -> None:
    with browser(people_server) as http:
        email = new_user(people_server)
        page = sign_in_to_account(http, email)
        cookie = http.cookies["skills_session"]
        assert http.get("/logout").status_code == 405
        form = form_for(page.text, "/logout")
        answer = http.post(form.action, data=form.inputs)
        assert answer.status_code == 303 and answer.headers["location"].endswith("/login?signed_out=1")
        assert "You are signed out" in http.get(answer.headers["location"]).text
    with people_server.db() as db:
        assert db.get(BrowserSession, secret_hash(cookie)) is None
        user = find_user_by_email(db, email)
        assert user is not None
        trail = db.scalars(select(AuditEvent.action).where(AuditEvent.actor_user_id == user.id)).all()
        assert sorted(trail) == ["login.succeeded", "logout"]
    with browser(people_server) as replay:
        replay.cookies.set("skills_session", cookie, domain="127.0.0.1")
        assert replay.get("/account").status_code == 303


@pytest.mark.parametrize("path", ["/login", "/account"])
def test_pages_send_security_headers_and_are_accessible(people_server: RunningServer, path: str) -> None:
    with browser(people_server) as http:
        if path == "/account":
            sign_in_to_account(http, new_user(people_server))
        response = http.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    for marker in ('src="', 'href="'):
        for part in response.text.split(marker)[1:]:
            assert part.startswith(people_server.issuer + "/"), part[:60]
    assert accessibility_problems(response.text) == []


def test_logout_also_revokes_the_users_refresh_tokens(people_server: RunningServer) -> None:
    import uuid
    from datetime import timedelta

    from shared.db import transaction
    from shared.models import OAuthClient, RefreshToken

    email = new_user(people_server)
    with transaction(people_server.db) as db:
        user = find_user_by_email(db, email)
        assert user is not None
        client_id = f"logout-{uuid.uuid4().hex[:8]}"
        db.add(OAuthClient(client_id=client_id, client_metadata={"client_name": "x"}))
        db.flush()
        now = utcnow()
        token_id = uuid.uuid4()
        db.add(
            RefreshToken(
                id=token_id,
                token_hash=uuid.uuid4().hex,
                family_id=uuid.uuid4(),
                client_id=client_id,
                user_id=user.id,
                resource=RESOURCE,
                expires_at=now + timedelta(days=1),
                family_expires_at=now + timedelta(days=30),
            )
        )
    with browser(people_server) as http:
        page = sign_in_to_account(http, email)
        form = form_for(page.text, "/logout")
        assert http.post(form.action, data=form.inputs).status_code == 303
    with people_server.db() as db:
        assert db.get(RefreshToken, token_id).revoked_at is not None
